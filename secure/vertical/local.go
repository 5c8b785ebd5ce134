package vertical

import (
	"errors"
	"fmt"
	"io"
)

// LocalConfig describes a vertical training run in one process.
type LocalConfig struct {
	Params  Params
	Bank    Matrix    // Rows × BankFeatures, in the agreed order
	Labels  []float64 // the bank's labels
	Partner Matrix    // Rows × PartnerFeatures, in the agreed order
	// Rand is drawn on by the bank, the partner and the helper in turn; nil
	// means crypto/rand. A deterministic reader gives a deterministic run.
	Rand io.Reader
	// Workers is the number of goroutines per kernel; 0 means GOMAXPROCS.
	Workers int
	// Resume restarts an interrupted run from its checkpoints.
	Resume *Interrupted
	// Drop, if set, is asked before each party's turn at each iteration;
	// true makes that party go silent from then on, and the run ends with
	// an *Interrupted error. It models a disconnection.
	Drop func(r Role, iteration uint64) bool
	// Trace, if set, sees every message as encoded on the wire, in order.
	Trace func(from, to Role, msg []byte)
	// Observe, if set, is called after every iteration with the parties
	// (tests read each party's own gradient through it).
	Observe func(iteration uint64, b *Bank, p *Partner)
}

// LocalResult is what RunLocal produced.
type LocalResult struct {
	Bank    *BankModel
	Partner *PartnerModel
	// BankInit is the bank's secret initial weights (for the plaintext
	// reference in tests; in a real job they never leave the bank).
	BankInit []float64
	// SetupBytes and Bytes count the encoded messages of the setup and of
	// all iterations; RoundTrips is the number of bank → partner → bank
	// exchanges.
	SetupBytes, Bytes int64
	RoundTrips        int
}

// Interrupted reports a run that stopped because a party went silent or
// failed. Resume from it: the checkpoints are the data parties' states at
// the start of Iteration, and every party restarts there in a new session.
type Interrupted struct {
	Iteration     uint64
	Bank, Partner *Checkpoint
	Failed        Role
	Cause         error
}

func (e *Interrupted) Error() string {
	return fmt.Sprintf("vertical: %v failed at iteration %d: %v; resume from the checkpoints", e.Failed, e.Iteration, e.Cause)
}

// Unwrap lets errors.Is match ErrPartyFailed and the cause.
func (e *Interrupted) Unwrap() []error { return []error{ErrPartyFailed, e.Cause} }

// errSilent is the cause recorded for a party that went silent.
var errSilent = errors.New("vertical: party went silent (no message before the deadline)")

// local wires three parties together in memory.
type local struct {
	cfg   *LocalConfig
	b     *Bank
	p     *Partner
	h     *Helper
	bytes int64
	init  []float64
}

func newLocal(c *LocalConfig) (*local, error) {
	var bcp, pcp *Checkpoint
	var start uint64
	if c.Resume != nil {
		bcp, pcp, start = c.Resume.Bank, c.Resume.Partner, c.Resume.Iteration
		if bcp == nil || pcp == nil || bcp.Iteration != start || pcp.Iteration != start {
			return nil, fmt.Errorf("%w: resume needs both checkpoints at iteration %d", ErrParams, start)
		}
	}
	l := &local{cfg: c}
	var err error
	if l.b, err = NewBank(PartyConfig{Params: c.Params, X: c.Bank, Labels: c.Labels, Rand: c.Rand, Workers: c.Workers, Resume: bcp}); err != nil {
		return nil, fmt.Errorf("bank: %w", err)
	}
	l.init = l.b.Weights()
	if l.p, err = NewPartner(PartyConfig{Params: c.Params, X: c.Partner, Rand: c.Rand, Workers: c.Workers, Resume: pcp}); err != nil {
		return nil, fmt.Errorf("partner: %w", err)
	}
	if l.h, err = NewHelper(HelperConfig{Params: c.Params, Rand: c.Rand, Workers: c.Workers, Start: start}); err != nil {
		return nil, fmt.Errorf("helper: %w", err)
	}
	return l, nil
}

// wire encodes m, counts and traces it, and decodes it for the receiver.
func (l *local) wire(from, to Role, m Message) (Message, error) {
	data, err := m.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("%v: encoding: %w", from, err)
	}
	l.bytes += int64(len(data))
	if l.cfg.Trace != nil {
		l.cfg.Trace(from, to, data)
	}
	return Unmarshal(data)
}

func (l *local) setup() error {
	hellos := map[Role]*Hello{RoleBank: l.b.Hello(), RolePartner: l.p.Hello(), RoleHelper: l.h.Hello()}
	recv := map[Role]func(*Hello) error{RoleBank: l.b.ReceiveHello, RolePartner: l.p.ReceiveHello, RoleHelper: l.h.ReceiveHello}
	for _, from := range []Role{RoleBank, RolePartner, RoleHelper} {
		for _, to := range []Role{RoleBank, RolePartner, RoleHelper} {
			if from == to {
				continue
			}
			m, err := l.wire(from, to, hellos[from])
			if err != nil {
				return err
			}
			if err := recv[to](m.(*Hello)); err != nil {
				return fmt.Errorf("%v: %w", to, err)
			}
		}
	}
	for {
		c, err := l.p.NextMatrix()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("partner: %w", err)
		}
		m, err := l.wire(RolePartner, RoleBank, c)
		if err != nil {
			return err
		}
		if err := l.b.ReceiveMatrix(m.(*MatrixChunk)); err != nil {
			return fmt.Errorf("bank: %w", err)
		}
	}
	for {
		c, err := l.b.NextMatrix()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("bank: %w", err)
		}
		m, err := l.wire(RoleBank, RolePartner, c)
		if err != nil {
			return err
		}
		if err := l.p.ReceiveMatrix(m.(*MatrixChunk)); err != nil {
			return fmt.Errorf("partner: %w", err)
		}
	}
	return nil
}

// iteration runs one mini-batch step: the helper's deals, the bank's share,
// the partner's step and the bank's update.
func (l *local) iteration() error {
	t := l.b.Iteration()
	cp := &Interrupted{Iteration: t, Bank: l.b.Checkpoint(), Partner: l.p.Checkpoint()}
	fail := func(r Role, err error) error {
		cp.Failed, cp.Cause = r, err
		return cp
	}
	dropped := func(r Role) bool { return l.cfg.Drop != nil && l.cfg.Drop(r, t) }
	if dropped(RoleHelper) {
		return fail(RoleHelper, errSilent)
	}
	db, dp, err := l.h.NextDeal()
	if err != nil {
		return fail(RoleHelper, err)
	}
	m, err := l.wire(RoleHelper, RoleBank, db)
	if err == nil {
		err = l.b.ReceiveDeal(m.(*Deal))
	}
	if err != nil {
		return fail(RoleBank, err)
	}
	if m, err = l.wire(RoleHelper, RolePartner, dp); err == nil {
		err = l.p.ReceiveDeal(m.(*Deal))
	}
	if err != nil {
		return fail(RolePartner, err)
	}
	if dropped(RoleBank) {
		return fail(RoleBank, errSilent)
	}
	sb, err := l.b.Send()
	if err == nil {
		m, err = l.wire(RoleBank, RolePartner, sb)
	}
	if err != nil {
		return fail(RoleBank, err)
	}
	if dropped(RolePartner) {
		return fail(RolePartner, errSilent)
	}
	sp, err := l.p.Step(m.(*Share))
	if err == nil {
		m, err = l.wire(RolePartner, RoleBank, sp)
	}
	if err != nil {
		return fail(RolePartner, err)
	}
	if err := l.b.Receive(m.(*Share)); err != nil {
		return fail(RoleBank, err)
	}
	if l.cfg.Observe != nil {
		l.cfg.Observe(t, l.b, l.p)
	}
	return nil
}

// RunLocal trains end to end with the three parties in this process,
// every message passing through its wire encoding. If a party goes silent
// (LocalConfig.Drop) or fails, it returns an *Interrupted error holding
// the checkpoints to resume from with LocalConfig.Resume.
func RunLocal(c LocalConfig) (*LocalResult, error) {
	l, err := newLocal(&c)
	if err != nil {
		return nil, err
	}
	if err := l.setup(); err != nil {
		return nil, err
	}
	setup := l.bytes
	rounds := 0
	for !l.b.Done() {
		if err := l.iteration(); err != nil {
			return nil, err
		}
		rounds++
	}
	if !l.p.Done() {
		return nil, fmt.Errorf("%w: partner at iteration %d after the bank finished", ErrOutOfOrder, l.p.Iteration())
	}
	return &LocalResult{Bank: l.b.Model(), Partner: l.p.Model(), BankInit: l.init,
		SetupBytes: setup, Bytes: l.bytes - setup, RoundTrips: rounds}, nil
}
