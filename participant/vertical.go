package participant

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/fedscore/fedscore/api/fedscoregrpc"
	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/coordinator/helper"
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
	// Rand supplies the party's session key (and the bank's secret initial
	// weights); nil means crypto/rand.
	Rand io.Reader
	// Resume restarts a data party from its checkpoint; Start is the
	// helper's first iteration (the data parties' checkpoint iteration).
	Resume *vertical.Checkpoint
	Start  uint64
	// Checkpoint, if set, receives the data party's checkpoint when it
	// starts and after every iteration, before the party sends anything of
	// the next: a party that persists it can always resume at the
	// iteration its peer is at, or one before (so keep the last two).
	Checkpoint func(*vertical.Checkpoint) error
	// Trained, if set, is called when a data party finishes training,
	// before the validation exchange.
	Trained func(VerticalResult) error
	// Validation, if set, holds the party's features of the validation
	// rows: the partner sends its partial scores for them, and the bank
	// combines them into VerticalResult.ValidationPD. It reveals the
	// partner's partial predictions of these rows to the bank, as scoring
	// does.
	Validation *vertical.Matrix
	// Bins, if positive, starts the session with the partner's bin-count
	// product over that many bins (a scorecard's binning, see
	// vertical.BinPartner): the bank shares Labels; the partner counts the
	// bins BinSizes (per feature) to which BinAssign puts each training row,
	// and Binned turns the counts into the matrices it trains and validates
	// on (X and Validation are then unused until it returns).
	Bins      int
	BinSizes  []int
	BinAssign [][]int
	Binned    func(rows, bad []int) (x vertical.Matrix, validation *vertical.Matrix, err error)
}

// VerticalResult is what a party ends with: its own half of the model.
type VerticalResult struct {
	Bank    *vertical.BankModel
	Partner *vertical.PartnerModel
	// Iterations the run completed.
	Iterations uint64
	// ValidationPD (bank) is the model's PD of each validation row.
	ValidationPD []float64
}

// party is one party's end of the relay, with its incoming messages sorted
// by kind.
type party struct {
	st     helper.Stream
	c      VerticalConfig
	sendMu sync.Mutex
	joined bool

	hellos  chan *vertical.Hello
	matrix  chan *vertical.MatrixChunk // nil entry: the sender's matrix ended
	deals   chan *vertical.Deal
	shares  chan *vertical.Share
	scores  chan *vertical.PartialScores
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

// join joins the session without a message, for a party that only
// receives (the bank when scoring): the relay admits a stream with its
// first envelope.
func (p *party) join() error {
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	if p.joined {
		return nil
	}
	p.joined = true
	return p.st.Send(&fedscorepb.RelayEnvelope{Session: p.c.Session, From: p.name(p.c.Role)})
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
		case *vertical.PartialScores:
			p.scores <- m
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
	st, err := fedscoregrpc.NewRelayClient(conn).Exchange(ctx)
	if err != nil {
		return res, err
	}
	if c.Role == vertical.RoleHelper {
		n, err := helper.Run(ctx, st, helper.Config{Session: c.Session, Self: c.Helper, Bank: c.Bank, Partner: c.Partner,
			Params: c.Params, Start: c.Start, Rand: c.Rand, Bins: c.Bins})
		return VerticalResult{Iterations: n}, err
	}
	p := newParty(st, c)
	go p.receive()
	if c.Bins > 0 {
		switch c.Role {
		case vertical.RoleBank:
			err = p.binBank()
		case vertical.RolePartner:
			err = p.binPartner()
		}
		if err != nil {
			return res, fmt.Errorf("participant: vertical bin counts: %w", err)
		}
	}
	switch c.Role {
	case vertical.RoleBank:
		res, err = p.bank()
	case vertical.RolePartner:
		res, err = p.partner()
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

func newParty(st helper.Stream, c VerticalConfig) *party {
	return &party{st: st, c: c, hellos: make(chan *vertical.Hello, 2), matrix: make(chan *vertical.MatrixChunk, 64),
		deals: make(chan *vertical.Deal, c.Params.Iterations()+2), shares: make(chan *vertical.Share, 64),
		scores: make(chan *vertical.PartialScores, 64), recvErr: make(chan error, 1)}
}

// scoreChunk bounds a PartialScores message (8 bytes a row), well under
// gRPC's default 4 MB.
const scoreChunk = 1 << 16

// sendScores sends partial scores to the bank in chunks.
func (p *party) sendScores(ps *vertical.PartialScores) error {
	for lo := 0; lo < len(ps.Scores); lo += scoreChunk {
		hi := min(lo+scoreChunk, len(ps.Scores))
		if err := p.send(vertical.RoleBank, &vertical.PartialScores{Job: ps.Job, Scores: ps.Scores[lo:hi]}, false); err != nil {
			return err
		}
	}
	return nil
}

// receiveScores collects the partner's partial scores of n rows.
func (p *party) receiveScores(job string, n int) (*vertical.PartialScores, error) {
	out := &vertical.PartialScores{Job: job, Scores: make([]float64, 0, n)}
	for len(out.Scores) < n {
		m, err := wait(p, p.scores)
		if err != nil {
			return nil, err
		}
		if m.Job != job {
			return nil, fmt.Errorf("participant: vertical: partial scores for job %q, want %q", m.Job, job)
		}
		if len(out.Scores)+len(m.Scores) > n {
			return nil, fmt.Errorf("participant: vertical: the partner sent more than %d partial scores", n)
		}
		out.Scores = append(out.Scores, m.Scores...)
	}
	return out, nil
}

func (p *party) checkpoint(cp *vertical.Checkpoint) error {
	if p.c.Checkpoint == nil {
		return nil
	}
	if err := p.c.Checkpoint(cp); err != nil {
		return fmt.Errorf("participant: vertical: saving the checkpoint of iteration %d: %w", cp.Iteration, err)
	}
	return nil
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

// binParams are the bin-count product's parameters: the training rows of
// the job, with the counted bins the coordinator passed on.
func (p *party) binParams() vertical.BinParams {
	return vertical.BinParams{Job: p.c.Params.Job, Rows: p.c.Params.Rows, Bins: p.c.Bins}
}

// binBank is the bank's side of the bin-count product: it shares its
// labels and learns nothing but the number of bins. Its session key comes
// from crypto/rand, so that c.Rand is left for the training (a seeded
// Rand then gives the same initial weights with or without binning).
func (p *party) binBank() error {
	bb, err := vertical.NewBinBank(p.binParams(), p.c.Labels, nil, 0)
	if err != nil {
		return err
	}
	if err := p.greet(bb); err != nil {
		return err
	}
	for {
		c, err := wait(p, p.matrix)
		if err != nil {
			return err
		}
		if c == nil {
			break
		}
		if err := bb.ReceiveMatrix(c); err != nil {
			return err
		}
	}
	d, err := wait(p, p.deals)
	if err != nil {
		return err
	}
	if err := bb.ReceiveDeal(d); err != nil {
		return err
	}
	s, err := bb.Send()
	if err != nil {
		return err
	}
	return p.send(vertical.RolePartner, s, false)
}

// binPartner is the partner's side: it learns the rows and bad rows of
// each of its counted bins and hands them to Binned.
func (p *party) binPartner() error {
	if p.c.Binned == nil {
		return errors.New("nothing to take the partner's bin counts")
	}
	bp, err := vertical.NewBinPartner(p.binParams(), p.c.BinSizes, p.c.BinAssign, nil, 0)
	if err != nil {
		return err
	}
	if err := p.greet(bp); err != nil {
		return err
	}
	for {
		c, err := bp.NextMatrix()
		if errors.Is(err, io.EOF) {
			if err := p.send(vertical.RoleBank, nil, true); err != nil {
				return err
			}
			break
		}
		if err != nil {
			return err
		}
		if err := p.send(vertical.RoleBank, c, false); err != nil {
			return err
		}
	}
	s, err := wait(p, p.shares)
	if err != nil {
		return err
	}
	if err := bp.Receive(s); err != nil {
		return err
	}
	rows, bad, err := bp.Counts()
	if err != nil {
		return err
	}
	x, val, err := p.c.Binned(rows, bad)
	if err != nil {
		return err
	}
	p.c.X, p.c.Validation = x, val
	return nil
}

func (p *party) bank() (VerticalResult, error) {
	var res VerticalResult
	b, err := vertical.NewBank(vertical.PartyConfig{Params: p.c.Params, X: p.c.X, Labels: p.c.Labels, Rand: p.c.Rand, Resume: p.c.Resume})
	if err != nil {
		return res, err
	}
	if err := p.checkpoint(b.Checkpoint()); err != nil {
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
		if err := p.checkpoint(b.Checkpoint()); err != nil {
			return res, err
		}
	}
	res = VerticalResult{Bank: b.Model(), Iterations: b.Iteration()}
	if p.c.Trained != nil {
		if err := p.c.Trained(res); err != nil {
			return res, err
		}
	}
	if v := p.c.Validation; v != nil {
		ps, err := p.receiveScores(p.c.Params.Job, v.Rows)
		if err != nil {
			return res, err
		}
		if res.ValidationPD, err = res.Bank.PD(*v, ps); err != nil {
			return res, err
		}
	}
	return res, nil
}

func (p *party) partner() (VerticalResult, error) {
	var res VerticalResult
	pt, err := vertical.NewPartner(vertical.PartyConfig{Params: p.c.Params, X: p.c.X, Rand: p.c.Rand, Resume: p.c.Resume})
	if err != nil {
		return res, err
	}
	if err := p.checkpoint(pt.Checkpoint()); err != nil {
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
		// Saved before the bank can hear of the step, so the bank is never
		// more than one iteration ahead of the partner's last checkpoint.
		if err := p.checkpoint(pt.Checkpoint()); err != nil {
			return res, err
		}
		if err := p.send(vertical.RoleBank, back, false); err != nil {
			return res, err
		}
	}
	res = VerticalResult{Partner: pt.Model(), Iterations: pt.Iteration()}
	if p.c.Trained != nil {
		if err := p.c.Trained(res); err != nil {
			return res, err
		}
	}
	if v := p.c.Validation; v != nil {
		ps, err := res.Partner.PartialScores(*v)
		if err != nil {
			return res, err
		}
		if err := p.sendScores(ps); err != nil {
			return res, err
		}
	}
	return res, nil
}
