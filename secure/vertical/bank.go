package vertical

import (
	"fmt"
	"io"
)

// Bank is the bank's side of training: it holds the labels and its own
// features, and learns only its own weights and gradients. Its methods are
// steps that take or return messages and do no I/O. A Bank is not safe for
// concurrent use.
//
// Messages, in order:
//
//	Hello → partner and helper; ReceiveHello ← partner's and helper's
//	NextMatrix → partner (E' chunks, until io.EOF); ReceiveMatrix ← partner's E chunks
//	per iteration t: ReceiveDeal ← helper (may run ahead of t);
//	                 Send → partner; Receive ← partner's Share for t
type Bank struct {
	dataParty
	y    []uint8 // labels in schedule order
	pair Seed    // bank–partner
	help Seed    // bank–helper
	bg   *productOwner
	pg   *productHolder
}

// NewBank validates the bank's data, standardises it, draws its secret
// initial weights and session key. cfg.X has Params.BankFeatures columns.
func NewBank(cfg PartyConfig) (*Bank, error) {
	d, err := newDataParty(&cfg, RoleBank, cfg.Params.BankFeatures, true)
	if err != nil {
		return nil, err
	}
	if len(cfg.Labels) != d.p.Rows {
		return nil, fmt.Errorf("%w: %d labels for %d rows", ErrInput, len(cfg.Labels), d.p.Rows)
	}
	b := &Bank{dataParty: d, y: make([]uint8, d.p.Rows)}
	for pos, row := range Schedule(d.p.Job, d.p.Rows) {
		switch cfg.Labels[row] {
		case 0:
		case 1:
			b.y[pos] = 1
		default:
			return nil, fmt.Errorf("%w: label %v at row %d is not 0 or 1", ErrInput, cfg.Labels[row], row)
		}
	}
	return b, nil
}

// ReceiveHello takes the partner's or the helper's Hello. After both, the
// bank derives its seeds and is ready for the matrix exchange.
func (b *Bank) ReceiveHello(h *Hello) error {
	if err := b.sess.receive(h, ProtocolTraining); err != nil {
		return err
	}
	if b.sess.peers[RolePartner] == nil || b.sess.peers[RoleHelper] == nil {
		return nil
	}
	var err error
	if b.pair, err = b.sess.seed(RolePartner); err != nil {
		return err
	}
	if b.help, err = b.sess.seed(RoleHelper); err != nil {
		return err
	}
	b.bg = &productOwner{prod: BankGradient, job: b.p.Job, m: b.x, cols: b.cols, helper: &b.help, pair: &b.pair, workers: b.workers}
	b.pg = newHolder(PartnerGradient, b.p.Job, b.p.Rows, b.p.PartnerFeatures, &b.help, &b.pair, b.workers)
	b.started = true
	return nil
}

// NextMatrix returns the next chunk of E' = X_B − A' for the partner, or
// io.EOF when all rows are sent.
func (b *Bank) NextMatrix() (*MatrixChunk, error) {
	if !b.started {
		return nil, fmt.Errorf("%w: matrix before the hellos", ErrNotReady)
	}
	if c := b.bg.nextChunk(RoleBank); c != nil {
		return c, nil
	}
	return nil, io.EOF
}

// ReceiveMatrix takes a chunk of the partner's E = X_P − A, in order.
func (b *Bank) ReceiveMatrix(c *MatrixChunk) error {
	if err := b.checkChunk(c, RolePartner, PartnerGradient); err != nil {
		return err
	}
	return b.pg.receiveChunk(c)
}

// ReceiveDeal takes the helper's correlation for an iteration at or after
// the current one.
func (b *Bank) ReceiveDeal(m *Deal) error {
	lo, hi, err := b.checkDeal(m, PartnerGradient)
	if err != nil {
		return err
	}
	return b.pg.receiveDeal(m, lo, hi)
}

// Send returns the bank's Share for the partner's gradient at the current
// iteration. It needs the whole of E and the helper's deal.
func (b *Bank) Send() (*Share, error) {
	switch {
	case b.Done():
		return nil, ErrDone
	case !b.started:
		return nil, fmt.Errorf("%w: send before the hellos", ErrNotReady)
	case b.sent:
		return nil, fmt.Errorf("%w: iteration %d already sent", ErrDuplicate, b.t)
	case !b.pg.ready(b.t):
		return nil, fmt.Errorf("%w: iteration %d needs E and the helper's deal", ErrNotReady, b.t)
	}
	lo, hi := b.p.batch(b.t)
	n := hi - lo
	u, err := b.partial(lo, hi)
	if err != nil {
		return nil, err
	}
	// [4d]_B = u_B + ρ + 2 − 4(y − η), at scale 2^f.
	rho := b.pair.words(b.p.Job, "u", b.t, n)
	eta := b.pair.words(b.p.Job, "y", b.t, n)
	two := uint64(2 * b.scale)
	one := uint64(b.scale)
	d4 := u
	for i := range d4 {
		d4[i] += rho[i] + two - 4*(uint64(b.y[lo+i])*one-eta[i])
	}
	s, err := b.pg.share(RoleBank, b.t, lo, hi, d4, b.noiseFor(b.p.PartnerFeatures, n))
	if err != nil {
		return nil, err
	}
	b.d4, b.sent = d4, true
	return s, nil
}

// Receive takes the partner's Share for the bank's gradient at the current
// iteration, computes the gradient and updates the bank's weights.
func (b *Bank) Receive(s *Share) error {
	if err := b.checkShare(s, RolePartner, BankGradient); err != nil {
		return err
	}
	lo, hi := b.p.batch(b.t)
	g, err := b.bg.finish(s, b.t, lo, hi, b.d4)
	if err != nil {
		return err
	}
	b.update(g, hi-lo)
	return nil
}

// Model returns the bank's half of the trained model.
func (b *Bank) Model() *BankModel {
	return &BankModel{Job: b.p.Job, Scaler: b.scaler, Weights: b.Weights(), FracBits: b.p.FracBits, Clip: b.p.Clip}
}
