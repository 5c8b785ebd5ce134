package vertical

import (
	"fmt"
	"math"
	"runtime"
)

// PlainConfig describes the plaintext reference: the same model trained on
// the joined table, with the same preprocessing (each side's columns
// standardised with its own statistics, clipped to ±8 and put on the 2^-f
// grid), the same fixed batches, clipping of each side's partial
// prediction, initial weights and update rule.
type PlainConfig struct {
	Params  Params
	Bank    Matrix    // Rows × BankFeatures
	Labels  []float64 // y ∈ {0, 1}
	Partner Matrix    // Rows × PartnerFeatures
	// BankInit and PartnerInit are the initial weights (the bank's with the
	// intercept first); nil means zeros.
	BankInit, PartnerInit []float64
	// Sigmoid trains with the exact logistic residual σ(z) − y instead of
	// the first-order Taylor residual 0.25z + 0.5 − y.
	Sigmoid bool
	// Workers is the number of goroutines per pass; 0 means GOMAXPROCS.
	Workers int
}

// PlainModel is the plaintext reference model, split like the vertical one.
type PlainModel struct {
	Bank    *BankModel
	Partner *PartnerModel
}

type plainTrainer struct {
	p                 Params
	x                 []float64 // rows × cols, [1, X_B, X_P] on the 2^-f grid, schedule order
	cols, bankCols    int
	y                 []float64
	w, vel            []float64
	sigmoid           bool
	workers           int
	bankSc, partnerSc Scaler
	t                 uint64
}

func newPlainTrainer(c *PlainConfig) (*plainTrainer, error) {
	p, err := c.Params.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := c.Bank.check("bank features", p.Rows, p.BankFeatures); err != nil {
		return nil, err
	}
	if err := c.Partner.check("partner features", p.Rows, p.PartnerFeatures); err != nil {
		return nil, err
	}
	if len(c.Labels) != p.Rows {
		return nil, fmt.Errorf("%w: %d labels for %d rows", ErrInput, len(c.Labels), p.Rows)
	}
	t := &plainTrainer{p: p, bankCols: p.BankFeatures + 1, cols: p.BankFeatures + 1 + p.PartnerFeatures,
		sigmoid: c.Sigmoid, workers: c.Workers}
	if t.workers <= 0 {
		t.workers = runtime.GOMAXPROCS(0)
	}
	scale := math.Ldexp(1, p.FracBits)
	perm := Schedule(p.Job, p.Rows)
	t.bankSc, t.partnerSc = fitScaler(c.Bank), fitScaler(c.Partner)
	qb := t.bankSc.quantizeRows(c.Bank, perm, scale, true)
	qp := t.partnerSc.quantizeRows(c.Partner, perm, scale, false)
	t.x = make([]float64, p.Rows*t.cols)
	t.y = make([]float64, p.Rows)
	for pos := range p.Rows {
		row := t.x[pos*t.cols : (pos+1)*t.cols]
		for j, v := range qb[pos*t.bankCols : (pos+1)*t.bankCols] {
			row[j] = float64(v) / scale
		}
		for j, v := range qp[pos*p.PartnerFeatures : (pos+1)*p.PartnerFeatures] {
			row[t.bankCols+j] = float64(v) / scale
		}
		t.y[pos] = c.Labels[perm[pos]]
	}
	t.w = make([]float64, t.cols)
	t.vel = make([]float64, t.cols)
	if c.BankInit != nil {
		if len(c.BankInit) != t.bankCols {
			return nil, fmt.Errorf("%w: %d initial bank weights", ErrInput, len(c.BankInit))
		}
		copy(t.w, c.BankInit)
	}
	if c.PartnerInit != nil {
		if len(c.PartnerInit) != p.PartnerFeatures {
			return nil, fmt.Errorf("%w: %d initial partner weights", ErrInput, len(c.PartnerInit))
		}
		copy(t.w[t.bankCols:], c.PartnerInit)
	}
	return t, nil
}

// step runs one mini-batch: one fused pass computes each row's residual
// and adds it into the gradient while the row is in cache.
func (t *plainTrainer) step() {
	lo, hi := t.p.batch(t.t)
	cols, bc := t.cols, t.bankCols
	w := t.w
	bound := t.p.Clip
	partial := make([][]float64, t.workers)
	parts := split(hi-lo, cols, t.workers, func(part, a, b int) {
		acc := make([]float64, cols)
		for i := lo + a; i < lo+b; i++ {
			row := t.x[i*cols : (i+1)*cols]
			z := clip(dotF64(row[:bc], w), bound) + clip(dotF64(row[bc:], w[bc:]), bound)
			var r float64
			if t.sigmoid {
				r = 1/(1+math.Exp(-z)) - t.y[i]
			} else {
				r = 0.25*z + 0.5 - t.y[i]
			}
			axpyF64(acc, row, r)
		}
		partial[part] = acc
	})
	g := partial[0]
	for p := 1; p < parts; p++ {
		for j, v := range partial[p] {
			g[j] += v
		}
	}
	n := float64(hi - lo)
	for j := range t.w {
		gj := g[j] / n
		if j != 0 {
			gj += t.p.L2 * t.w[j]
		}
		t.vel[j] = t.p.Momentum*t.vel[j] + gj
		t.w[j] -= t.p.LearningRate * t.vel[j]
	}
	t.t++
}

func (t *plainTrainer) epoch() {
	for range t.p.batches() {
		t.step()
	}
}

func (t *plainTrainer) model() *PlainModel {
	p := t.p
	return &PlainModel{
		Bank: &BankModel{Job: p.Job, Scaler: t.bankSc, Weights: append([]float64(nil), t.w[:t.bankCols]...),
			FracBits: p.FracBits, Clip: p.Clip},
		Partner: &PartnerModel{Job: p.Job, Scaler: t.partnerSc, Weights: append([]float64(nil), t.w[t.bankCols:]...),
			FracBits: p.FracBits, Clip: p.Clip},
	}
}

// TrainPlain trains the plaintext reference for all of Params.Epochs.
func TrainPlain(c PlainConfig) (*PlainModel, error) {
	t, err := newPlainTrainer(&c)
	if err != nil {
		return nil, err
	}
	for t.t < t.p.iterations() {
		t.step()
	}
	return t.model(), nil
}
