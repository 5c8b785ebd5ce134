package participant

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/fedscore/fedscore/api/fedscoregrpc"
	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/secure/psi"
	"google.golang.org/grpc"
)

// PSIConfig is one side of a private set intersection run through the
// coordinator's relay.
type PSIConfig struct {
	// Session names the run; both sides use the same one.
	Session string
	// Self and Peer are the two participants' ids (certificate names).
	Self, Peer string
	Bank       bool // this side is the bank (it learns the intersection first)
	Protocol   psi.Config
}

// relayLink is one party's stream through the relay.
type relayLink struct {
	st   grpc.BidiStreamingClient[fedscorepb.RelayEnvelope, fedscorepb.RelayEnvelope]
	c    PSIConfig
	sent bool
}

func (l *relayLink) send(m psi.Message, end bool) error {
	env := &fedscorepb.RelayEnvelope{To: l.c.Peer, End: end}
	if !l.sent {
		env.Session, env.From, l.sent = l.c.Session, l.c.Self, true
	}
	if m != nil {
		b, err := m.MarshalBinary()
		if err != nil {
			return err
		}
		env.Payload = b
	}
	return l.st.Send(env)
}

// sendAll sends every batch next yields until io.EOF, then an end marker.
func (l *relayLink) sendAll(next func() (*psi.Batch, error)) error {
	for {
		m, err := next()
		if errors.Is(err, io.EOF) {
			return l.send(nil, true)
		}
		if err != nil {
			return err
		}
		if err := l.send(m, false); err != nil {
			return err
		}
	}
}

// recv returns the next message from the peer, or nil at an end marker.
func (l *relayLink) recv() (psi.Message, error) {
	env, err := l.st.Recv()
	if err != nil {
		return nil, err
	}
	if env.GetFrom() != l.c.Peer {
		return nil, fmt.Errorf("participant: psi: message from %q, not the peer %q", env.GetFrom(), l.c.Peer)
	}
	if env.GetEnd() {
		return nil, nil
	}
	return psi.Unmarshal(env.GetPayload())
}

// RunPSI computes the intersection of this node's ids with the peer's,
// message by message through the coordinator's relay. The coordinator sees
// only blinded points; neither side sees the other's ids.
func RunPSI(ctx context.Context, conn grpc.ClientConnInterface, c PSIConfig, ids []string) (psi.Intersection, error) {
	var none psi.Intersection
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := fedscoregrpc.NewRelayClient(conn).Exchange(ctx)
	if err != nil {
		return none, err
	}
	l := &relayLink{st: st, c: c}
	var inter psi.Intersection
	switch ecdh := c.Protocol.Protocol == psi.ProtocolECDH; {
	case c.Bank && ecdh:
		inter, err = runBank(l, c, ids)
	case ecdh:
		inter, err = runPartner(l, c, ids)
	case c.Bank:
		inter, err = runOPRFBank(l, c, ids)
	default:
		inter, err = runOPRFPartner(l, c, ids)
	}
	if err != nil {
		return none, err
	}
	// Close our side and wait for the coordinator to close its own, so the
	// last messages are delivered before the stream is torn down.
	if err := st.CloseSend(); err != nil {
		return none, err
	}
	for {
		if _, err := st.Recv(); err != nil {
			break
		}
	}
	return inter, nil
}

func expect[T psi.Message](m psi.Message, err error) (T, error) {
	var zero T
	if err != nil {
		return zero, err
	}
	t, ok := m.(T)
	if !ok {
		return zero, fmt.Errorf("participant: psi: expected %T, got %T", zero, m)
	}
	return t, nil
}

func runBank(l *relayLink, c PSIConfig, ids []string) (psi.Intersection, error) {
	var none psi.Intersection
	b, err := psi.NewBank(c.Protocol, ids)
	if err != nil {
		return none, err
	}
	if err := exchangeHellos(l, b.Hello(), b.ReceiveHello); err != nil {
		return none, err
	}
	if err := l.sendAll(b.NextBlinded); err != nil {
		return none, err
	}
	// The partner answers each batch (doubled), then sends its own batches,
	// then an end marker; one ordered stream.
	err = recvBatches(l, func(batch *psi.Batch) error {
		if batch.Kind == psi.BankDoubled {
			return b.ReceiveDoubled(batch)
		}
		return b.ReceivePartner(batch)
	})
	if err != nil {
		return none, err
	}
	return sendResults(l, b.Finish)
}

func runPartner(l *relayLink, c PSIConfig, ids []string) (psi.Intersection, error) {
	var none psi.Intersection
	p, err := psi.NewPartner(c.Protocol, ids)
	if err != nil {
		return none, err
	}
	if err := exchangeHellos(l, p.Hello(), p.ReceiveHello); err != nil {
		return none, err
	}
	err = recvBatches(l, func(batch *psi.Batch) error {
		d, err := p.Double(batch)
		if err != nil {
			return err
		}
		return l.send(d, false)
	})
	if err != nil {
		return none, err
	}
	if err := l.sendAll(p.NextBlinded); err != nil {
		return none, err
	}
	return receiveResults(l, p)
}

// sendResults ends the bank's side: the Result messages, then its end
// marker.
func sendResults(l *relayLink, finish func() (psi.Intersection, []*psi.Result, error)) (psi.Intersection, error) {
	inter, results, err := finish()
	if err != nil {
		return psi.Intersection{}, err
	}
	for _, r := range results {
		if err := l.send(r, false); err != nil {
			return psi.Intersection{}, err
		}
	}
	return inter, l.send(nil, true)
}

// resultReceiver is the partner's side of either protocol, at its end.
type resultReceiver interface {
	ReceiveResult(*psi.Result) error
	Done() bool
	Intersection() (psi.Intersection, error)
}

// receiveResults takes the bank's Results until the partner has them all,
// then the bank's end marker.
func receiveResults(l *relayLink, p resultReceiver) (psi.Intersection, error) {
	for !p.Done() {
		r, err := expect[*psi.Result](l.recv())
		if err != nil {
			return psi.Intersection{}, err
		}
		if err := p.ReceiveResult(r); err != nil {
			return psi.Intersection{}, err
		}
	}
	if m, err := l.recv(); err != nil || m != nil {
		return psi.Intersection{}, fmt.Errorf("participant: psi: expected the end of the bank's stream, got %T (%v)", m, err)
	}
	return p.Intersection()
}

// exchangeHellos sends this side's Hello and takes the peer's.
func exchangeHellos(l *relayLink, hello *psi.Hello, receive func(*psi.Hello) error) error {
	if err := l.send(hello, false); err != nil {
		return err
	}
	h, err := expect[*psi.Hello](l.recv())
	if err != nil {
		return err
	}
	return receive(h)
}

// recvBatches hands every batch up to the peer's end marker to take.
func recvBatches(l *relayLink, take func(*psi.Batch) error) error {
	for {
		m, err := l.recv()
		if err != nil {
			return err
		}
		if m == nil {
			return nil
		}
		b, ok := m.(*psi.Batch)
		if !ok {
			return fmt.Errorf("participant: psi: expected a batch, got %T", m)
		}
		if err := take(b); err != nil {
			return err
		}
	}
}

func runOPRFBank(l *relayLink, c PSIConfig, ids []string) (psi.Intersection, error) {
	var none psi.Intersection
	b, err := psi.NewOPRFBank(c.Protocol, ids)
	if err != nil {
		return none, err
	}
	if err := exchangeHellos(l, b.Hello(), b.ReceiveHello); err != nil {
		return none, err
	}
	s1, err := b.Setup()
	if err != nil {
		return none, err
	}
	if err := l.send(s1, false); err != nil {
		return none, err
	}
	s2, err := expect[*psi.Setup](l.recv())
	if err != nil {
		return none, err
	}
	s3, err := b.ReceiveSetup(s2)
	if err != nil {
		return none, err
	}
	if err := l.send(s3, false); err != nil {
		return none, err
	}
	if err := l.sendAll(b.NextMatrix); err != nil {
		return none, err
	}
	if err := recvBatches(l, b.ReceiveTags); err != nil {
		return none, err
	}
	return sendResults(l, b.Finish)
}

func runOPRFPartner(l *relayLink, c PSIConfig, ids []string) (psi.Intersection, error) {
	var none psi.Intersection
	p, err := psi.NewOPRFPartner(c.Protocol, ids)
	if err != nil {
		return none, err
	}
	if err := exchangeHellos(l, p.Hello(), p.ReceiveHello); err != nil {
		return none, err
	}
	for step := 1; step <= 3; step += 2 {
		s, err := expect[*psi.Setup](l.recv())
		if err != nil {
			return none, err
		}
		reply, err := p.ReceiveSetup(s)
		if err != nil {
			return none, err
		}
		if reply != nil {
			if err := l.send(reply, false); err != nil {
				return none, err
			}
		}
	}
	if err := recvBatches(l, p.ReceiveMatrix); err != nil {
		return none, err
	}
	if err := l.sendAll(p.NextTags); err != nil {
		return none, err
	}
	return receiveResults(l, p)
}
