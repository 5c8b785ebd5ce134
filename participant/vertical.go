package participant

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/secure/vertical"
	"google.golang.org/grpc"
)

// VerticalConfig is one party of a vertical training run through the
// coordinator's relay: the bank, the partner or the helper.
type VerticalConfig struct {
	Session string
	Role    vertical.Role
	// Names of the three parties (certificate names).
	Bank, Partner, Helper string
	Params                vertical.Params
	// X (the party's aligned features) and Labels (the bank's) are nil for
	// the helper.
	X      vertical.Matrix
	Labels []float64
}

// VerticalResult is what a party ends with: its own half of the model.
type VerticalResult struct {
	Bank    *vertical.BankModel
	Partner *vertical.PartnerModel
	// Iterations the run completed.
	Iterations uint64
}

// party is one party's end of the relay, with its incoming messages sorted
// by kind.
type party struct {
	st     grpc.BidiStreamingClient[fedscorepb.RelayEnvelope, fedscorepb.RelayEnvelope]
	c      VerticalConfig
	sendMu sync.Mutex
	joined bool

	hellos  chan *vertical.Hello
	matrix  chan *vertical.MatrixChunk // nil entry: the sender's matrix ended
	deals   chan *vertical.Deal
	shares  chan *vertical.Share
	recvErr chan error
}

func (p *party) name(r vertical.Role) string {
	switch r {
	case vertical.RoleBank:
		return p.c.Bank
	case vertical.RolePartner:
		return p.c.Partner
	}
	return p.c.Helper
}

func (p *party) send(to vertical.Role, m vertical.Message, end bool) error {
	env := &fedscorepb.RelayEnvelope{To: p.name(to), End: end}
	if m != nil {
		b, err := m.MarshalBinary()
		if err != nil {
			return err
		}
		env.Payload = b
	}
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	if !p.joined {
		env.Session, env.From, p.joined = p.c.Session, p.name(p.c.Role), true
	}
	return p.st.Send(env)
}

// receive sorts incoming messages until the stream ends.
func (p *party) receive() {
	for {
		env, err := p.st.Recv()
		if err != nil {
			p.recvErr <- err
			return
		}
		if env.GetEnd() {
			p.matrix <- nil
			continue
		}
		m, err := vertical.Unmarshal(env.GetPayload())
		if err != nil {
			p.recvErr <- fmt.Errorf("participant: vertical: from %s: %w", env.GetFrom(), err)
			return
		}
		switch m := m.(type) {
		case *vertical.Hello:
			p.hellos <- m
		case *vertical.MatrixChunk:
			p.matrix <- m
		case *vertical.Deal:
			p.deals <- m
		case *vertical.Share:
			p.shares <- m
		default:
			p.recvErr <- fmt.Errorf("participant: vertical: unexpected %T from %s", m, env.GetFrom())
			return
		}
	}
}

func wait[T any](p *party, ch chan T) (T, error) {
	select {
	case v := <-ch:
		return v, nil
	case err := <-p.recvErr:
		var zero T
		if errors.Is(err, io.EOF) {
			err = errors.New("participant: vertical: the relay closed the stream")
		}
		return zero, err
	}
}

// RunVertical runs one party of vertical training through the relay.
func RunVertical(ctx context.Context, conn grpc.ClientConnInterface, c VerticalConfig) (VerticalResult, error) {
	var res VerticalResult
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := fedscorepb.NewRelayClient(conn).Exchange(ctx)
	if err != nil {
		return res, err
	}
	p := &party{st: st, c: c, hellos: make(chan *vertical.Hello, 2), matrix: make(chan *vertical.MatrixChunk, 64),
		deals: make(chan *vertical.Deal, c.Params.Iterations()+1), shares: make(chan *vertical.Share, 64), recvErr: make(chan error, 1)}
	go p.receive()
	switch c.Role {
	case vertical.RoleBank:
		res, err = p.bank()
	case vertical.RolePartner:
		res, err = p.partner()
	case vertical.RoleHelper:
		res, err = p.helper()
	default:
		err = fmt.Errorf("participant: vertical: unknown role %v", c.Role)
	}
	if err != nil {
		return res, err
	}
	if err := st.CloseSend(); err != nil {
		return res, err
	}
	wait(p, make(chan struct{})) // until the relay closes its side
	return res, nil
}

type helloer interface {
	Hello() *vertical.Hello
	ReceiveHello(*vertical.Hello) error
}

// greet sends this party's hello to the other two and takes theirs.
func (p *party) greet(h helloer) error {
	for _, r := range []vertical.Role{vertical.RoleBank, vertical.RolePartner, vertical.RoleHelper} {
		if r != p.c.Role {
			if err := p.send(r, h.Hello(), false); err != nil {
				return err
			}
		}
	}
	for range 2 {
		m, err := wait(p, p.hellos)
		if err != nil {
			return err
		}
		if err := h.ReceiveHello(m); err != nil {
			return err
		}
	}
	return nil
}

type matrixParty interface {
	NextMatrix() (*vertical.MatrixChunk, error)
	ReceiveMatrix(*vertical.MatrixChunk) error
}

// exchangeMatrices sends this party's masked matrix to the other data party
// while taking the other's, so neither waits on a full buffer.
func (p *party) exchangeMatrices(mp matrixParty, to vertical.Role) error {
	sent := make(chan error, 1)
	go func() {
		for {
			c, err := mp.NextMatrix()
			if errors.Is(err, io.EOF) {
				sent <- p.send(to, nil, true)
				return
			}
			if err != nil {
				sent <- err
				return
			}
			if err := p.send(to, c, false); err != nil {
				sent <- err
				return
			}
		}
	}()
	for {
		c, err := wait(p, p.matrix)
		if err != nil {
			return err
		}
		if c == nil {
			break
		}
		if err := mp.ReceiveMatrix(c); err != nil {
			return err
		}
	}
	return <-sent
}

func (p *party) bank() (VerticalResult, error) {
	var res VerticalResult
	b, err := vertical.NewBank(vertical.PartyConfig{Params: p.c.Params, X: p.c.X, Labels: p.c.Labels})
	if err != nil {
		return res, err
	}
	if err := p.greet(b); err != nil {
		return res, err
	}
	if err := p.exchangeMatrices(b, vertical.RolePartner); err != nil {
		return res, err
	}
	for !b.Done() {
		d, err := wait(p, p.deals)
		if err != nil {
			return res, err
		}
		if err := b.ReceiveDeal(d); err != nil {
			return res, err
		}
		s, err := b.Send()
		if err != nil {
			return res, err
		}
		if err := p.send(vertical.RolePartner, s, false); err != nil {
			return res, err
		}
		back, err := wait(p, p.shares)
		if err != nil {
			return res, err
		}
		if err := b.Receive(back); err != nil {
			return res, err
		}
	}
	return VerticalResult{Bank: b.Model(), Iterations: b.Iteration()}, nil
}

func (p *party) partner() (VerticalResult, error) {
	var res VerticalResult
	pt, err := vertical.NewPartner(vertical.PartyConfig{Params: p.c.Params, X: p.c.X})
	if err != nil {
		return res, err
	}
	if err := p.greet(pt); err != nil {
		return res, err
	}
	if err := p.exchangeMatrices(pt, vertical.RoleBank); err != nil {
		return res, err
	}
	for !pt.Done() {
		d, err := wait(p, p.deals)
		if err != nil {
			return res, err
		}
		if err := pt.ReceiveDeal(d); err != nil {
			return res, err
		}
		s, err := wait(p, p.shares)
		if err != nil {
			return res, err
		}
		back, err := pt.Step(s)
		if err != nil {
			return res, err
		}
		if err := p.send(vertical.RoleBank, back, false); err != nil {
			return res, err
		}
	}
	return VerticalResult{Partner: pt.Model(), Iterations: pt.Iteration()}, nil
}

func (p *party) helper() (VerticalResult, error) {
	var res VerticalResult
	h, err := vertical.NewHelper(vertical.HelperConfig{Params: p.c.Params})
	if err != nil {
		return res, err
	}
	if err := p.greet(h); err != nil {
		return res, err
	}
	for {
		db, dp, err := h.NextDeal()
		if errors.Is(err, io.EOF) {
			return res, nil
		}
		if err != nil {
			return res, err
		}
		if err := p.send(vertical.RoleBank, db, false); err != nil {
			return res, err
		}
		if err := p.send(vertical.RolePartner, dp, false); err != nil {
			return res, err
		}
		res.Iterations++
	}
}
