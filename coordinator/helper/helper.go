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
	// Rand supplies the session key; nil means crypto/rand.
	Rand io.Reader
}

// Run deals every iteration's correlations from c.Start on, then closes
// its side and waits for the relay to close the stream. It returns the
// number of iterations dealt.
func Run(ctx context.Context, st Stream, c Config) (uint64, error) {
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
	// The helper only ever receives the two Hellos; after them, a
	// receive that ends tells it the session is over (or aborted).
	hellos := make(chan *vertical.Hello, 2)
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
	for _, to := range []string{c.Bank, c.Partner} {
		if err := send(to, h.Hello()); err != nil {
			return 0, err
		}
	}
	for range 2 {
		select {
		case m := <-hellos:
			if err := h.ReceiveHello(m); err != nil {
				return 0, err
			}
		case err := <-recvErr:
			return 0, closed(err)
		case <-ctx.Done():
			return 0, ctx.Err()
		}
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
