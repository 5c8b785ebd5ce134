package vertical

import (
	"crypto/rand"
	"fmt"
	"io"
	"runtime"
)

// HelperConfig configures the helper.
type HelperConfig struct {
	Params Params
	// Rand supplies the session key; nil means crypto/rand.
	Rand io.Reader
	// Workers is the number of goroutines per kernel; 0 means GOMAXPROCS.
	Workers int
	// Start is the iteration to start dealing at: 0, or the data parties'
	// checkpoint iteration when resuming.
	Start uint64
}

// Helper deals the correlated randomness. It sees no data: it learns the
// job's Params (rows, columns, batch size, epochs) and the parties' public
// keys, and it receives no other message. It must not be operated by
// either data party (CheckIdentities). Its methods are steps that do no
// I/O. A Helper is not safe for concurrent use.
//
// Messages, in order:
//
//	Hello → bank and partner; ReceiveHello ← bank's and partner's
//	NextDeal → one Deal for the bank and one for the partner per
//	           iteration, until io.EOF; it may run ahead of training
type Helper struct {
	p       Params
	workers int
	sess    session
	t       uint64
	started bool
	pg, bg  *productDealer
	bank    Seed
	partner Seed
}

// NewHelper checks the parameters and draws the helper's session key.
func NewHelper(cfg HelperConfig) (*Helper, error) {
	p, err := cfg.Params.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.Start > p.iterations() {
		return nil, fmt.Errorf("%w: start at iteration %d of %d", ErrParams, cfg.Start, p.iterations())
	}
	r := cfg.Rand
	if r == nil {
		r = rand.Reader
	}
	h := &Helper{p: p, workers: cfg.Workers, t: cfg.Start}
	if h.workers <= 0 {
		h.workers = runtime.GOMAXPROCS(0)
	}
	if h.sess, err = newSession(p.Job, RoleHelper, cfg.Start, r); err != nil {
		return nil, err
	}
	return h, nil
}

// Hello is the helper's opening message, for both data parties.
func (h *Helper) Hello() *Hello { return h.sess.hello(ProtocolTraining) }

// ReceiveHello takes the bank's or the partner's Hello. After both, the
// helper derives its seeds and expands the matrices A and A' (its setup).
func (h *Helper) ReceiveHello(m *Hello) error {
	if err := h.sess.receive(m, ProtocolTraining); err != nil {
		return err
	}
	if h.sess.peers[RoleBank] == nil || h.sess.peers[RolePartner] == nil {
		return nil
	}
	var err error
	if h.bank, err = h.sess.seed(RoleBank); err != nil {
		return err
	}
	if h.partner, err = h.sess.seed(RolePartner); err != nil {
		return err
	}
	h.pg = newDealer(PartnerGradient, h.p.Job, h.p.Rows, h.p.PartnerFeatures, &h.partner, &h.bank, h.workers)
	h.bg = newDealer(BankGradient, h.p.Job, h.p.Rows, h.p.BankFeatures+1, &h.bank, &h.partner, h.workers)
	h.started = true
	return nil
}

// NextDeal returns the deals of the next iteration: toBank for the
// partner's gradient, toPartner for the bank's. It returns io.EOF after
// the last iteration.
func (h *Helper) NextDeal() (toBank, toPartner *Deal, err error) {
	if !h.started {
		return nil, nil, fmt.Errorf("%w: deal before the hellos", ErrNotReady)
	}
	if h.t >= h.p.iterations() {
		return nil, nil, io.EOF
	}
	lo, hi := h.p.batch(h.t)
	toBank = h.pg.deal(RoleBank, h.t, lo, hi)
	toPartner = h.bg.deal(RolePartner, h.t, lo, hi)
	h.t++
	return toBank, toPartner, nil
}
