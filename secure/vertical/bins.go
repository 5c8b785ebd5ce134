package vertical

import (
	"crypto/rand"
	"fmt"
	"io"
	"math"
	"runtime"
)

// Vertical WOE binning. The partner bins its own features; the bad count of
// each bin is Iᵀ·y for its bin-indicator matrix I and the bank's labels y,
// which is the dealt product with the labels shared as [y] = (y − η) + η:
// the partner computes Iᵀη locally and Iᵀ(y − η) through the helper's
// correlation, exactly as the gradients are computed, at scale 1. The counts
// go to the partner, which needs its WOE table to transform its own columns
// at scoring time. Every bin must hold at least MinBinCount rows, so that no
// count pins down one customer's label, and the rows must number at least
// 8 per bin. The partner learns the bad count of each of its bins (and so
// the total bad count); the bank and the helper learn nothing but the
// number of bins.
//
// Messages, in order:
//
//	Hello: each role → the two others (Protocol = ProtocolBins)
//	partner → bank: MatrixChunk{BinCounts} (E = I − A, masked), until io.EOF
//	helper → bank: Deal{BinCounts, iteration 0}
//	bank → partner: Share{BinCounts, iteration 0}
//	partner: Counts

// BinParams are the binning job's parameters, known to all three roles.
type BinParams struct {
	Job  string
	Rows int // aligned rows
	Bins int // total bins over all the partner's features
	// MinCount is the fewest rows per bin; 0 means MinBinCount, and a
	// smaller value is refused.
	MinCount int
}

func (p BinParams) withDefaults() (BinParams, error) {
	if p.MinCount == 0 {
		p.MinCount = MinBinCount
	}
	switch {
	case p.Job == "" || len(p.Job) > maxJobLen:
		return p, fmt.Errorf("%w: job id must have 1 to %d bytes", ErrParams, maxJobLen)
	case p.Bins < 1 || p.Bins > maxCols:
		return p, fmt.Errorf("%w: %d bins", ErrParams, p.Bins)
	case p.MinCount < MinBinCount:
		return p, fmt.Errorf("%w: minimum bin count %d below %d", ErrBinTooSmall, p.MinCount, MinBinCount)
	case p.Rows < 8*p.Bins || p.Rows > maxRows:
		return p, fmt.Errorf("%w: %d rows for %d bins (at least 8 per bin)", ErrParams, p.Rows, p.Bins)
	}
	return p, nil
}

// BinPartner is the partner's side of the bad-count product.
type BinPartner struct {
	p      BinParams
	sess   session
	ind    []int32 // rows × bins, 0/1
	counts []int   // rows per bin
	owner  *productOwner
	pair   Seed
	help   Seed
	bad    []int
	work   int
}

// NewBinPartner checks the partner's bin assignment and draws its key.
// assign[j][i] is the bin of row i for feature j, in [0, bins[j]); the
// features' bins are numbered one after the other, feature 0 first.
func NewBinPartner(p BinParams, bins []int, assign [][]int, r io.Reader, workers int) (*BinPartner, error) {
	p, err := p.withDefaults()
	if err != nil {
		return nil, err
	}
	total := 0
	for _, b := range bins {
		if b < 1 {
			return nil, fmt.Errorf("%w: a feature with %d bins", ErrInput, b)
		}
		total += b
	}
	if total != p.Bins || len(assign) != len(bins) {
		return nil, fmt.Errorf("%w: %d bins over %d features, params say %d", ErrInput, total, len(assign), p.Bins)
	}
	bp := &BinPartner{p: p, ind: make([]int32, p.Rows*p.Bins), counts: make([]int, p.Bins), work: workers}
	if bp.work <= 0 {
		bp.work = runtime.GOMAXPROCS(0)
	}
	base := 0
	for j, a := range assign {
		if len(a) != p.Rows {
			return nil, fmt.Errorf("%w: feature %d assigns %d rows of %d", ErrInput, j, len(a), p.Rows)
		}
		for i, k := range a {
			if k < 0 || k >= bins[j] {
				return nil, fmt.Errorf("%w: feature %d row %d in bin %d of %d", ErrInput, j, i, k, bins[j])
			}
			bp.ind[i*p.Bins+base+k] = 1
			bp.counts[base+k]++
		}
		for k := range bins[j] {
			if c := bp.counts[base+k]; c < p.MinCount {
				return nil, fmt.Errorf("%w: feature %d bin %d holds %d rows, the minimum is %d", ErrBinTooSmall, j, k, c, p.MinCount)
			}
		}
		base += bins[j]
	}
	if r == nil {
		r = rand.Reader
	}
	if bp.sess, err = newSession(p.Job, RolePartner, 0, r); err != nil {
		return nil, err
	}
	return bp, nil
}

// Hello is the partner's opening message.
func (b *BinPartner) Hello() *Hello { return b.sess.hello(ProtocolBins) }

// ReceiveHello takes the bank's or the helper's Hello.
func (b *BinPartner) ReceiveHello(h *Hello) error {
	if err := b.sess.receive(h, ProtocolBins); err != nil {
		return err
	}
	if b.sess.peers[RoleBank] == nil || b.sess.peers[RoleHelper] == nil {
		return nil
	}
	var err error
	if b.pair, err = b.sess.seed(RoleBank); err != nil {
		return err
	}
	if b.help, err = b.sess.seed(RoleHelper); err != nil {
		return err
	}
	b.owner = &productOwner{prod: BinCounts, job: b.p.Job, m: b.ind, cols: b.p.Bins, helper: &b.help, pair: &b.pair, workers: b.work}
	return nil
}

// NextMatrix returns the next chunk of the masked E = I − A, or io.EOF.
func (b *BinPartner) NextMatrix() (*MatrixChunk, error) {
	if b.owner == nil {
		return nil, fmt.Errorf("%w: matrix before the hellos", ErrNotReady)
	}
	if c := b.owner.nextChunk(RolePartner); c != nil {
		return c, nil
	}
	return nil, io.EOF
}

// Receive takes the bank's Share and computes the bad count of every bin.
func (b *BinPartner) Receive(s *Share) error {
	switch {
	case s.Job != b.p.Job:
		return fmt.Errorf("%w: %q", ErrWrongJob, s.Job)
	case s.From != RoleBank || s.Product != BinCounts || s.Iteration != 0:
		return fmt.Errorf("%w: %v share from %v for iteration %d", ErrWrongRole, s.Product, s.From, s.Iteration)
	case b.owner == nil || b.owner.sent*b.p.Bins != len(b.ind):
		return fmt.Errorf("%w: share before the matrix was sent", ErrOutOfOrder)
	case b.bad != nil:
		return fmt.Errorf("%w: second share", ErrDuplicate)
	}
	eta := b.pair.words(b.p.Job, purpose(BinCounts, "y"), 0, b.p.Rows)
	g, err := b.owner.finish(s, 0, 0, b.p.Rows, eta)
	if err != nil {
		return err
	}
	bad := make([]int, b.p.Bins)
	for k, v := range g {
		c := int64(v)
		if c < 0 || c > int64(b.counts[k]) {
			return fmt.Errorf("%w: bad count %d of bin %d holding %d rows", ErrBadShape, c, k, b.counts[k])
		}
		bad[k] = int(c)
	}
	b.bad = bad
	return nil
}

// Counts returns, for every bin, the rows it holds and the bad ones among
// them, once Receive has succeeded.
func (b *BinPartner) Counts() (rows, bad []int, err error) {
	if b.bad == nil {
		return nil, nil, fmt.Errorf("%w: no counts yet", ErrNotReady)
	}
	return append([]int(nil), b.counts...), append([]int(nil), b.bad...), nil
}

// BinBank is the bank's side of the bad-count product.
type BinBank struct {
	p      BinParams
	sess   session
	y      []uint64
	holder *productHolder
	pair   Seed
	help   Seed
	sent   bool
	work   int
}

// NewBinBank checks the labels (y ∈ {0, 1}, in the agreed order) and draws
// the bank's key.
func NewBinBank(p BinParams, labels []float64, r io.Reader, workers int) (*BinBank, error) {
	p, err := p.withDefaults()
	if err != nil {
		return nil, err
	}
	if len(labels) != p.Rows {
		return nil, fmt.Errorf("%w: %d labels for %d rows", ErrInput, len(labels), p.Rows)
	}
	b := &BinBank{p: p, y: make([]uint64, p.Rows), work: workers}
	if b.work <= 0 {
		b.work = runtime.GOMAXPROCS(0)
	}
	for i, v := range labels {
		if v != 0 && v != 1 {
			return nil, fmt.Errorf("%w: label %v at row %d", ErrInput, v, i)
		}
		b.y[i] = uint64(v)
	}
	if r == nil {
		r = rand.Reader
	}
	if b.sess, err = newSession(p.Job, RoleBank, 0, r); err != nil {
		return nil, err
	}
	return b, nil
}

// Hello is the bank's opening message.
func (b *BinBank) Hello() *Hello { return b.sess.hello(ProtocolBins) }

// ReceiveHello takes the partner's or the helper's Hello.
func (b *BinBank) ReceiveHello(h *Hello) error {
	if err := b.sess.receive(h, ProtocolBins); err != nil {
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
	b.holder = newHolder(BinCounts, b.p.Job, b.p.Rows, b.p.Bins, &b.help, &b.pair, b.work)
	return nil
}

// ReceiveMatrix takes a chunk of the partner's masked E, in order.
func (b *BinBank) ReceiveMatrix(c *MatrixChunk) error {
	switch {
	case c.Job != b.p.Job:
		return fmt.Errorf("%w: %q", ErrWrongJob, c.Job)
	case c.From != RolePartner || c.Product != BinCounts:
		return fmt.Errorf("%w: %v matrix from %v", ErrWrongRole, c.Product, c.From)
	case b.holder == nil:
		return fmt.Errorf("%w: matrix before the hellos", ErrNotReady)
	}
	return b.holder.receiveChunk(c)
}

// ReceiveDeal takes the helper's correlation.
func (b *BinBank) ReceiveDeal(d *Deal) error {
	switch {
	case d.Job != b.p.Job:
		return fmt.Errorf("%w: %q", ErrWrongJob, d.Job)
	case d.To != RoleBank || d.Product != BinCounts || d.Iteration != 0:
		return fmt.Errorf("%w: %v deal for %v", ErrWrongRole, d.Product, d.To)
	case b.holder == nil:
		return fmt.Errorf("%w: deal before the hellos", ErrNotReady)
	}
	return b.holder.receiveDeal(d, 0, b.p.Rows)
}

// Send returns the bank's Share, once E and the deal have arrived.
func (b *BinBank) Send() (*Share, error) {
	switch {
	case b.holder == nil || !b.holder.ready(0):
		return nil, fmt.Errorf("%w: send needs E and the helper's deal", ErrNotReady)
	case b.sent:
		return nil, fmt.Errorf("%w: share already sent", ErrDuplicate)
	}
	own := b.pair.words(b.p.Job, purpose(BinCounts, "y"), 0, b.p.Rows)
	for i := range own {
		own[i] = b.y[i] - own[i] // y − η
	}
	s, err := b.holder.share(RoleBank, 0, 0, b.p.Rows, own, nil)
	if err != nil {
		return nil, err
	}
	b.sent = true
	return s, nil
}

// BinHelper is the helper's side of the bad-count product.
type BinHelper struct {
	p      BinParams
	sess   session
	dealer *productDealer
	bank   Seed
	part   Seed
	dealt  bool
	work   int
}

// NewBinHelper draws the helper's key.
func NewBinHelper(p BinParams, r io.Reader, workers int) (*BinHelper, error) {
	p, err := p.withDefaults()
	if err != nil {
		return nil, err
	}
	if r == nil {
		r = rand.Reader
	}
	h := &BinHelper{p: p, work: workers}
	if h.work <= 0 {
		h.work = runtime.GOMAXPROCS(0)
	}
	if h.sess, err = newSession(p.Job, RoleHelper, 0, r); err != nil {
		return nil, err
	}
	return h, nil
}

// Hello is the helper's opening message.
func (h *BinHelper) Hello() *Hello { return h.sess.hello(ProtocolBins) }

// ReceiveHello takes the bank's or the partner's Hello.
func (h *BinHelper) ReceiveHello(m *Hello) error {
	if err := h.sess.receive(m, ProtocolBins); err != nil {
		return err
	}
	if h.sess.peers[RoleBank] == nil || h.sess.peers[RolePartner] == nil {
		return nil
	}
	var err error
	if h.bank, err = h.sess.seed(RoleBank); err != nil {
		return err
	}
	if h.part, err = h.sess.seed(RolePartner); err != nil {
		return err
	}
	h.dealer = newDealer(BinCounts, h.p.Job, h.p.Rows, h.p.Bins, &h.part, &h.bank, h.work)
	return nil
}

// Deal returns the bank's correlation (once).
func (h *BinHelper) Deal() (*Deal, error) {
	switch {
	case h.dealer == nil:
		return nil, fmt.Errorf("%w: deal before the hellos", ErrNotReady)
	case h.dealt:
		return nil, fmt.Errorf("%w: already dealt", ErrDuplicate)
	}
	h.dealt = true
	return h.dealer.deal(RoleBank, 0, 0, h.p.Rows), nil
}

// WOE returns the weight of evidence of each bin, ln(%bad / %good), with
// 0.5 added to every count so that empty cells stay finite.
func WOE(rows, bad []int) []float64 {
	var badTotal, goodTotal float64
	for k := range rows {
		badTotal += float64(bad[k])
		goodTotal += float64(rows[k] - bad[k])
	}
	out := make([]float64, len(rows))
	for k := range rows {
		b := (float64(bad[k]) + 0.5) / (badTotal + 0.5)
		g := (float64(rows[k]-bad[k]) + 0.5) / (goodTotal + 0.5)
		out[k] = math.Log(b / g)
	}
	return out
}

// BinCountsLocal runs the bad-count product with the three roles in this
// process and returns what the partner learns. Every message passes
// through its wire encoding; trace, if set, sees them.
func BinCountsLocal(p BinParams, labels []float64, bins []int, assign [][]int, r io.Reader, trace func(from, to Role, msg []byte)) (rows, bad []int, err error) {
	b, err := NewBinBank(p, labels, r, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("bank: %w", err)
	}
	pt, err := NewBinPartner(p, bins, assign, r, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("partner: %w", err)
	}
	h, err := NewBinHelper(p, r, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("helper: %w", err)
	}
	wire := func(from, to Role, m Message) (Message, error) {
		data, err := m.MarshalBinary()
		if err != nil {
			return nil, err
		}
		if trace != nil {
			trace(from, to, data)
		}
		return Unmarshal(data)
	}
	hello := map[Role]*Hello{RoleBank: b.Hello(), RolePartner: pt.Hello(), RoleHelper: h.Hello()}
	recv := map[Role]func(*Hello) error{RoleBank: b.ReceiveHello, RolePartner: pt.ReceiveHello, RoleHelper: h.ReceiveHello}
	for _, from := range []Role{RoleBank, RolePartner, RoleHelper} {
		for _, to := range []Role{RoleBank, RolePartner, RoleHelper} {
			if from != to {
				m, err := wire(from, to, hello[from])
				if err != nil {
					return nil, nil, err
				}
				if err := recv[to](m.(*Hello)); err != nil {
					return nil, nil, fmt.Errorf("%v: %w", to, err)
				}
			}
		}
	}
	for {
		c, err := pt.NextMatrix()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("partner: %w", err)
		}
		m, err := wire(RolePartner, RoleBank, c)
		if err != nil {
			return nil, nil, err
		}
		if err := b.ReceiveMatrix(m.(*MatrixChunk)); err != nil {
			return nil, nil, fmt.Errorf("bank: %w", err)
		}
	}
	d, err := h.Deal()
	if err != nil {
		return nil, nil, fmt.Errorf("helper: %w", err)
	}
	m, err := wire(RoleHelper, RoleBank, d)
	if err != nil {
		return nil, nil, err
	}
	if err := b.ReceiveDeal(m.(*Deal)); err != nil {
		return nil, nil, fmt.Errorf("bank: %w", err)
	}
	s, err := b.Send()
	if err != nil {
		return nil, nil, fmt.Errorf("bank: %w", err)
	}
	if m, err = wire(RoleBank, RolePartner, s); err != nil {
		return nil, nil, err
	}
	if err := pt.Receive(m.(*Share)); err != nil {
		return nil, nil, fmt.Errorf("partner: %w", err)
	}
	return pt.Counts()
}
