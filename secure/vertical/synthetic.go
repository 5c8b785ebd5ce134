package vertical

import (
	"math"
	mrand "math/rand/v2"
)

// Synthetic is a seeded, vertically split logistic problem: independent
// standard normal features on each side, labels drawn from a logistic
// model in which the bank's columns carry most of the signal and the
// partner's some more, with a default rate near 20%, like credit data.
type Synthetic struct {
	Bank, Partner Matrix
	Labels        []float64
}

// NewSynthetic draws rows customers with bankFeatures and partnerFeatures
// columns from seed.
func NewSynthetic(rows, bankFeatures, partnerFeatures int, seed uint64) *Synthetic {
	rng := mrand.New(mrand.NewPCG(seed, 0x5eed))
	s := &Synthetic{
		Bank:    Matrix{Rows: rows, Cols: bankFeatures, Data: make([]float64, rows*bankFeatures)},
		Partner: Matrix{Rows: rows, Cols: partnerFeatures, Data: make([]float64, rows*partnerFeatures)},
		Labels:  make([]float64, rows),
	}
	// Signal: the bank's part of the logit has standard deviation 1.2, the
	// partner's 0.8, spread over the first columns of each side.
	coef := func(d int, sd float64) []float64 {
		c := make([]float64, d)
		k := max(1, min(d, 10))
		for j := range k {
			c[j] = sd / math.Sqrt(float64(k)) * (1 - 2*float64(j%2))
		}
		return c
	}
	cb, cp := coef(bankFeatures, 1.2), coef(partnerFeatures, 0.8)
	for i := range rows {
		z := -1.75
		for j := range bankFeatures {
			v := rng.NormFloat64()
			s.Bank.Data[i*bankFeatures+j] = v
			z += cb[j] * v
		}
		for j := range partnerFeatures {
			v := rng.NormFloat64()
			s.Partner.Data[i*partnerFeatures+j] = v
			z += cp[j] * v
		}
		if rng.Float64() < 1/(1+math.Exp(-z)) {
			s.Labels[i] = 1
		}
	}
	return s
}
