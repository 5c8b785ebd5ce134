// Package helper runs the vertical helper (secure/vertical.Helper) over a
// relay stream. The same code serves the coordinator, which runs the
// helper in-process for a job whose helper is "coordinator", and the
// standalone `fedscore helper` node, which runs it under its own identity
// when the bank runs the coordinator.
package helper

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/secure/vertical"
)

// Stream is one party's end of a relay session: a gRPC Relay.Exchange
// stream, or the coordinator's in-process equivalent.
type Stream interface {
	Send(*fedscorepb.RelayEnvelope) error
	Recv() (*fedscorepb.RelayEnvelope, error)
	CloseSend() error
}

// Config is the helper's part of one training session.
type Config struct {
	// Session is the relay session; Self, Bank and Partner the parties'
	// names on the relay.
	Session, Self, Bank, Partner string
	Params                       vertical.Params
	// Start is the iteration the data parties resume from (0 at first).
	Start uint64
	// Bins, if positive, makes the session start with the partner's
	// bin-count product over that many bins (a scorecard's binning,
	// vertical.BinHelper): the helper deals its one correlation, then the
	// training's.
	Bins int
	// Rand supplies the session key; nil means crypto/rand.
	Rand io.Reader
}

// Run deals the bin-count product's correlation if c.Bins is set, then
// every iteration's correlations from c.Start on, then closes its side and
// waits for the relay to close the stream. It returns the number of
// iterations dealt.
func Run(ctx context.Context, st Stream, c Config) (uint64, error) {
	var bh *vertical.BinHelper
	if c.Bins > 0 {
		var err error
		if bh, err = vertical.NewBinHelper(vertical.BinParams{Job: c.Params.Job, Rows: c.Params.Rows, Bins: c.Bins}, c.Rand, 0); err != nil {
			return 0, err
		}
	}
	h, err := vertical.NewHelper(vertical.HelperConfig{Params: c.Params, Start: c.Start, Rand: c.Rand})
	if err != nil {
		return 0, err
	}
	joined := false
	send := func(to string, m vertical.Message) error {
		b, err := m.MarshalBinary()
		if err != nil {
			return err
		}
		env := &fedscorepb.RelayEnvelope{To: to, Payload: b}
		if !joined {
			env.Session, env.From, joined = c.Session, c.Self, true
		}
		return st.Send(env)
	}
	// The helper only ever receives the two Hellos (four with the bin
	// step); after them, a receive that ends tells it the session is over
	// (or aborted).
	want := 2
	if bh != nil {
		want = 4
	}
	hellos := make(chan *vertical.Hello, want)
	recvErr := make(chan error, 1)
	go func() {
		for {
			env, err := st.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			m, err := vertical.Unmarshal(env.GetPayload())
			if err != nil {
				recvErr <- fmt.Errorf("helper: from %s: %w", env.GetFrom(), err)
				return
			}
			hm, ok := m.(*vertical.Hello)
			if !ok {
				recvErr <- fmt.Errorf("helper: unexpected %T from %s", m, env.GetFrom())
				return
			}
			select {
			case hellos <- hm:
			default:
				recvErr <- fmt.Errorf("helper: a third hello, from %s", env.GetFrom())
				return
			}
		}
	}()
	greet := func(hello *vertical.Hello, receive func(*vertical.Hello) error) error {
		for _, to := range []string{c.Bank, c.Partner} {
			if err := send(to, hello); err != nil {
				return err
			}
		}
		for range 2 {
			select {
			case m := <-hellos:
				if err := receive(m); err != nil {
					return err
				}
			case err := <-recvErr:
				return closed(err)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
	if bh != nil {
		// The data parties send their bin-step hellos before their
		// training ones, and the relay keeps each sender's order.
		if err := greet(bh.Hello(), bh.ReceiveHello); err != nil {
			return 0, err
		}
		d, err := bh.Deal()
		if err != nil {
			return 0, err
		}
		if err := send(c.Bank, d); err != nil {
			return 0, err
		}
	}
	if err := greet(h.Hello(), h.ReceiveHello); err != nil {
		return 0, err
	}
	var n uint64
	for {
		db, dp, err := h.NextDeal()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, err
		}
		if err := send(c.Bank, db); err != nil {
			return n, err
		}
		if err := send(c.Partner, dp); err != nil {
			return n, err
		}
		n++
	}
	if err := st.CloseSend(); err != nil {
		return n, err
	}
	select {
	case err := <-recvErr:
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		return n, err
	case <-ctx.Done():
		return n, ctx.Err()
	}
}

func closed(err error) error {
	if errors.Is(err, io.EOF) {
		return errors.New("helper: the relay closed the stream before both hellos")
	}
	return err
}
