package vertical

import (
	"fmt"
	"math"
)

// One dealt product lets the owner of a plain matrix M (rows × cols, small
// signed integers) learn M_Sᵀ·v for a batch S, where v = v_owner + v_holder
// mod 2^64 is shared between the owner and the holder. The helper deals a
// SecureML-style correlation (Mohassel and Zhang, 2017) from seeds:
//
//	A   = PRG(seed owner–helper, "A")        rows × cols, fixed for the job
//	b_t = PRG(seed holder–helper, "b", t)    one word per batch row
//	c_t = PRG(seed owner–helper, "c", t)     one word per column
//	helper → holder:  d_t = A_Sᵀ·b_t − c_t
//
// At setup the owner sends the holder E = M − A once. Per iteration the
// holder sends F = v_holder − b_t and H = E_Sᵀ·b_t + d_t = M_Sᵀ·b_t − c_t,
// and the owner computes M_Sᵀ·(F + v_owner) + H + c_t = M_Sᵀ·v. E_Sᵀ·b_t
// at the holder and A_Sᵀ·b_t at the helper do not depend on v, so they are
// computed when the deal arrives, before the batch.
//
// Everything the holder sends, and E, is also masked with a stream of the
// owner–holder pair seed, so that the coordinator carrying the messages
// learns nothing even if it runs the helper: F + F' would otherwise reveal
// 4d to a party that knows b_t and b'_t.

// purpose returns the stream name of one value of a product.
func purpose(p Product, what string) string { return p.String() + "/" + what }

// productOwner is the owner's half.
type productOwner struct {
	prod    Product
	job     string
	m       []int32 // rows × cols
	cols    int
	helper  *Seed // owner–helper
	pair    *Seed // owner–holder
	sent    int   // rows of E sent
	workers int
}

// nextChunk returns the next rows of masked E, or nil when all are sent.
func (o *productOwner) nextChunk(from Role) *MatrixChunk {
	rows := len(o.m) / o.cols
	if o.sent == rows {
		return nil
	}
	n := min(rows-o.sent, max(1, chunkWords/o.cols))
	lo := o.sent
	e := make([]uint64, n*o.cols)
	off := uint64(lo) * uint64(o.cols)
	kA := o.helper.key(o.job, purpose(o.prod, "A"), 0)
	kM := o.pair.key(o.job, purpose(o.prod, "E-mask"), 0)
	kM.applyParallel(e, off, opSet, o.workers)
	kA.applyParallel(e, off, opSub, o.workers)
	src := o.m[lo*o.cols : (lo+n)*o.cols]
	for i, x := range src {
		e[i] += uint64(int64(x))
	}
	o.sent += n
	return &MatrixChunk{Job: o.job, From: from, Product: o.prod, Offset: uint64(lo), Cols: uint32(o.cols), Data: e}
}

// unmaskF returns the holder's F for iteration t without its pair mask.
func (o *productOwner) unmaskF(s *Share, t uint64, n int) ([]uint64, error) {
	if len(s.F) != n || len(s.H) != o.cols {
		return nil, fmt.Errorf("%w: %v share has %d+%d words, want %d+%d", ErrBadShape, o.prod, len(s.F), len(s.H), n, o.cols)
	}
	v := append([]uint64(nil), s.F...)
	o.pair.addWords(v, o.job, purpose(o.prod, "F-mask"), t, opSub)
	return v, nil
}

// addH adds the holder's unmasked H and the owner's c_t to acc = M_Sᵀ·(F +
// v_owner), which makes it M_Sᵀ·v.
func (o *productOwner) addH(s *Share, t uint64, acc []uint64) {
	h := append([]uint64(nil), s.H...)
	o.pair.addWords(h, o.job, purpose(o.prod, "H-mask"), t, opSub)
	o.helper.addWords(h, o.job, purpose(o.prod, "c"), t, opAdd)
	for j := range acc {
		acc[j] += h[j]
	}
}

// finish returns M_Sᵀ·v for iteration t on rows [lo, hi), given the
// holder's share and the owner's share of v.
func (o *productOwner) finish(s *Share, t uint64, lo, hi int, own []uint64) ([]uint64, error) {
	v, err := o.unmaskF(s, t, hi-lo)
	if err != nil {
		return nil, err
	}
	for i := range v {
		v[i] += own[i]
	}
	out := make([]uint64, o.cols)
	mulTVecI32(o.m[lo*o.cols:hi*o.cols], o.cols, v, out, o.workers)
	o.addH(s, t, out)
	return out, nil
}

// productHolder is the holder's half.
type productHolder struct {
	prod    Product
	job     string
	e       []uint64 // rows × cols, filled by the owner's chunks
	cols    int
	got     int // rows of E received
	helper  *Seed
	pair    *Seed
	pre     map[uint64]*dealt // t → the helper's deal
	workers int
}

func newHolder(prod Product, job string, rows, cols int, helper, pair *Seed, workers int) *productHolder {
	return &productHolder{prod: prod, job: job, e: make([]uint64, rows*cols), cols: cols,
		helper: helper, pair: pair, pre: map[uint64]*dealt{}, workers: workers}
}

func (h *productHolder) complete() bool { return h.got*h.cols == len(h.e) }

// receiveChunk stores rows of E; chunks must arrive in order.
func (h *productHolder) receiveChunk(c *MatrixChunk) error {
	if int(c.Cols) != h.cols || c.Offset != uint64(h.got) || len(c.Data) == 0 || len(c.Data) > len(h.e)-h.got*h.cols {
		return fmt.Errorf("%w: %v rows at %d of width %d (have %d rows of width %d)", ErrBadShape, c.Product, c.Offset, c.Cols, h.got, h.cols)
	}
	off := uint64(h.got) * uint64(h.cols)
	dst := h.e[off : off+uint64(len(c.Data))]
	copy(dst, c.Data)
	k := h.pair.key(h.job, purpose(h.prod, "E-mask"), 0)
	k.applyParallel(dst, off, opSub, h.workers)
	h.got += len(c.Data) / h.cols
	return nil
}

// dealt is a deal d_t, folded with E_Sᵀ·b_t once E is complete.
type dealt struct {
	c      []uint64
	folded bool
}

// receiveDeal stores the helper's d_t and, if E is complete, folds in
// E_Sᵀ·b_t now, ahead of the batch.
func (h *productHolder) receiveDeal(d *Deal, lo, hi int) error {
	if len(d.C) != h.cols {
		return fmt.Errorf("%w: deal of %d words, want %d", ErrBadShape, len(d.C), h.cols)
	}
	if _, ok := h.pre[d.Iteration]; ok {
		return fmt.Errorf("%w: deal for iteration %d", ErrDuplicate, d.Iteration)
	}
	x := &dealt{c: append([]uint64(nil), d.C...)}
	if h.complete() {
		h.fold(x.c, d.Iteration, lo, hi)
		x.folded = true
	}
	h.pre[d.Iteration] = x
	return nil
}

func (h *productHolder) fold(c []uint64, t uint64, lo, hi int) {
	b := h.helper.words(h.job, purpose(h.prod, "b"), t, hi-lo)
	eb := make([]uint64, h.cols)
	mulTVecU64(h.e[lo*h.cols:hi*h.cols], h.cols, b, eb, h.workers)
	for j := range c {
		c[j] += eb[j]
	}
}

func (h *productHolder) ready(t uint64) bool {
	_, ok := h.pre[t]
	return ok && h.complete()
}

// share builds the holder's message for iteration t from its share of v.
// noise, if not nil, is added to H (it is the holder's noise on the owner's
// result, at the result's scale).
func (h *productHolder) share(from Role, t uint64, lo, hi int, own []uint64, noise []int64) (*Share, error) {
	x, ok := h.pre[t]
	if !ok || !h.complete() {
		return nil, fmt.Errorf("%w: %v for iteration %d needs E and the helper's deal", ErrNotReady, h.prod, t)
	}
	if !x.folded {
		h.fold(x.c, t, lo, hi)
	}
	delete(h.pre, t)
	n := hi - lo
	f := h.helper.words(h.job, purpose(h.prod, "b"), t, n)
	for i := range f {
		f[i] = own[i] - f[i]
	}
	h.pair.addWords(f, h.job, purpose(h.prod, "F-mask"), t, opAdd)
	hv := x.c
	for j := range noise {
		hv[j] += uint64(noise[j])
	}
	h.pair.addWords(hv, h.job, purpose(h.prod, "H-mask"), t, opAdd)
	return &Share{Job: h.job, From: from, Product: h.prod, Iteration: t, F: f, H: hv}, nil
}

// productDealer is the helper's part.
type productDealer struct {
	prod    Product
	job     string
	a       []uint64 // rows × cols
	cols    int
	owner   *Seed // helper–owner
	holder  *Seed // helper–holder
	workers int
}

func newDealer(prod Product, job string, rows, cols int, owner, holder *Seed, workers int) *productDealer {
	d := &productDealer{prod: prod, job: job, a: make([]uint64, rows*cols), cols: cols, owner: owner, holder: holder, workers: workers}
	k := owner.key(job, purpose(prod, "A"), 0)
	k.applyParallel(d.a, 0, opSet, workers)
	return d
}

// deal returns d_t = A_Sᵀ·b_t − c_t for the holder.
func (d *productDealer) deal(to Role, t uint64, lo, hi int) *Deal {
	b := d.holder.words(d.job, purpose(d.prod, "b"), t, hi-lo)
	c := make([]uint64, d.cols)
	mulTVecU64(d.a[lo*d.cols:hi*d.cols], d.cols, b, c, d.workers)
	d.owner.addWords(c, d.job, purpose(d.prod, "c"), t, opSub)
	return &Deal{Job: d.job, To: to, Product: d.prod, Iteration: t, C: c}
}

// chunkWords is the size of one MatrixChunk: 128 Ki words, 1 MiB.
const chunkWords = 1 << 17

// gaussianNoise draws cols N(0, sd²) values, rounded, from r's words.
func gaussianNoise(next func() uint64, cols int, sd float64) []int64 {
	out := make([]int64, cols)
	for j := range out {
		// Box–Muller on two uniform 53-bit fractions in (0, 1].
		u1 := (float64(next()>>11) + 1) / (1 << 53)
		u2 := float64(next()>>11) / (1 << 53)
		out[j] = int64(math.Round(sd * math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)))
	}
	return out
}
