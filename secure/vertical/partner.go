package vertical

import (
	"fmt"
	"io"
)

// Partner is the partner's side of training: it holds its own features and
// learns only its own weights and gradients. Its methods are steps that
// take or return messages and do no I/O. A Partner is not safe for
// concurrent use.
//
// Messages, in order:
//
//	Hello → bank and helper; ReceiveHello ← bank's and helper's
//	NextMatrix → bank (E chunks, until io.EOF); ReceiveMatrix ← bank's E' chunks
//	per iteration t: ReceiveDeal ← helper (may run ahead of t);
//	                 Step ← bank's Share for t, → the partner's Share for t
type Partner struct {
	dataParty
	pair Seed // bank–partner
	help Seed // partner–helper
	pg   *productOwner
	bg   *productHolder
}

// NewPartner validates the partner's data, standardises it and draws its
// session key. cfg.X has Params.PartnerFeatures columns; cfg.Labels must be
// nil.
func NewPartner(cfg PartyConfig) (*Partner, error) {
	if cfg.Labels != nil {
		return nil, fmt.Errorf("%w: the partner has no labels", ErrInput)
	}
	d, err := newDataParty(&cfg, RolePartner, cfg.Params.PartnerFeatures, false)
	if err != nil {
		return nil, err
	}
	return &Partner{dataParty: d}, nil
}

// ReceiveHello takes the bank's or the helper's Hello. After both, the
// partner derives its seeds and is ready for the matrix exchange.
func (p *Partner) ReceiveHello(h *Hello) error {
	if err := p.sess.receive(h, ProtocolTraining); err != nil {
		return err
	}
	if p.sess.peers[RoleBank] == nil || p.sess.peers[RoleHelper] == nil {
		return nil
	}
	var err error
	if p.pair, err = p.sess.seed(RoleBank); err != nil {
		return err
	}
	if p.help, err = p.sess.seed(RoleHelper); err != nil {
		return err
	}
	p.pg = &productOwner{prod: PartnerGradient, job: p.p.Job, m: p.x, cols: p.cols, helper: &p.help, pair: &p.pair, workers: p.workers}
	p.bg = newHolder(BankGradient, p.p.Job, p.p.Rows, p.p.BankFeatures+1, &p.help, &p.pair, p.workers)
	p.started = true
	return nil
}

// NextMatrix returns the next chunk of E = X_P − A for the bank, or io.EOF
// when all rows are sent.
func (p *Partner) NextMatrix() (*MatrixChunk, error) {
	if !p.started {
		return nil, fmt.Errorf("%w: matrix before the hellos", ErrNotReady)
	}
	if c := p.pg.nextChunk(RolePartner); c != nil {
		return c, nil
	}
	return nil, io.EOF
}

// ReceiveMatrix takes a chunk of the bank's E' = X_B − A', in order.
func (p *Partner) ReceiveMatrix(c *MatrixChunk) error {
	if err := p.checkChunk(c, RoleBank, BankGradient); err != nil {
		return err
	}
	return p.bg.receiveChunk(c)
}

// ReceiveDeal takes the helper's correlation for an iteration at or after
// the current one.
func (p *Partner) ReceiveDeal(m *Deal) error {
	lo, hi, err := p.checkDeal(m, BankGradient)
	if err != nil {
		return err
	}
	return p.bg.receiveDeal(m, lo, hi)
}

// Step takes the bank's Share for the current iteration and, in one pass
// over the batch, computes the partner's partial predictions, its share of
// 4d and its gradient; it updates the partner's weights and returns the
// partner's Share for the bank's gradient at the same iteration. It needs
// the whole of E' and the helper's deal for the iteration.
func (p *Partner) Step(s *Share) (*Share, error) {
	switch {
	case s.Job != p.p.Job:
		return nil, fmt.Errorf("%w: %q", ErrWrongJob, s.Job)
	case s.From != RoleBank || s.Product != PartnerGradient:
		return nil, fmt.Errorf("%w: %v share from %v", ErrWrongRole, s.Product, s.From)
	case p.Done():
		return nil, ErrDone
	case !p.started:
		return nil, fmt.Errorf("%w: share before the hellos", ErrNotReady)
	case s.Iteration != p.t:
		return nil, fmt.Errorf("%w: share for iteration %d, at %d", ErrOutOfOrder, s.Iteration, p.t)
	case !p.bg.ready(p.t):
		return nil, fmt.Errorf("%w: iteration %d needs E' and the helper's deal", ErrNotReady, p.t)
	}
	lo, hi := p.p.batch(p.t)
	n := hi - lo
	fv, err := p.pg.unmaskF(s, p.t, n)
	if err != nil {
		return nil, err
	}
	// [4d]_P = u_P − ρ − 4η, at scale 2^f; sub = ρ + 4η.
	sub := p.pair.words(p.p.Job, "u", p.t, n)
	eta := p.pair.words(p.p.Job, "y", p.t, n)
	for i := range sub {
		sub[i] += 4 * eta[i]
	}
	ws := make([]float64, p.cols)
	for j, w := range p.w {
		ws[j] = w / p.scale
	}
	d4 := make([]uint64, n)
	g := make([]uint64, p.cols)
	if fusedPartner(p.x[lo*p.cols:hi*p.cols], p.cols, ws, p.p.Clip, p.scale, sub, fv, d4, g, p.workers) {
		return nil, fmt.Errorf("%w: partner partial prediction at iteration %d (weights diverged)", ErrNotFinite, p.t)
	}
	out, err := p.bg.share(RolePartner, p.t, lo, hi, d4, p.noiseFor(p.p.BankFeatures+1, n))
	if err != nil {
		return nil, err
	}
	p.pg.addH(s, p.t, g)
	p.update(g, n)
	return out, nil
}

// Model returns the partner's half of the trained model.
func (p *Partner) Model() *PartnerModel {
	return &PartnerModel{Job: p.p.Job, Scaler: p.scaler, Weights: p.Weights(), FracBits: p.p.FracBits, Clip: p.p.Clip}
}
