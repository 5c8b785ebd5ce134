package vertical

import (
	"fmt"
	"math"
)

// Scoring. For aligned customers the partner computes its partial scores
// u_P with its half of the model and sends them (PartialScores); the bank
// adds its own u_B and turns the sum into a PD, and from there into points,
// tier and reason codes with the scorecard. FATE-Serving's host does the
// same. This reveals u_P of the scored customers to the bank, which is the
// purpose of scoring; validation metrics during training use the same
// exchange on the validation rows only, and reveal the same.

// PartnerModel is the partner's half of a trained model. It never leaves
// the partner.
type PartnerModel struct {
	Job      string
	Scaler   Scaler
	Weights  []float64
	FracBits int
	Clip     float64
}

// BankModel is the bank's half of a trained model; Weights[0] is the
// intercept. It never leaves the bank.
type BankModel struct {
	Job      string
	Scaler   Scaler
	Weights  []float64
	FracBits int
	Clip     float64
}

// partialScores applies scaler, clip and weights as in training: features
// standardised, clipped to ±8 and put on the 2^-f grid; u clipped to ±U.
func partialScores(s Scaler, w []float64, fracBits int, bound float64, x Matrix, intercept bool) ([]float64, error) {
	cols := len(s.Mean)
	if err := x.check("features", x.Rows, cols); err != nil {
		return nil, err
	}
	scale := math.Ldexp(1, fracBits)
	q := s.quantizeRows(x, nil, scale, intercept)
	c := len(w)
	out := make([]float64, x.Rows)
	for i := range out {
		var u float64
		for j, v := range q[i*c : (i+1)*c] {
			u += float64(v) / scale * w[j]
		}
		if math.IsNaN(u) {
			return nil, fmt.Errorf("%w: partial score of row %d", ErrNotFinite, i)
		}
		out[i] = clip(u, bound)
	}
	return out, nil
}

// PartialScores computes the partner's partial scores for the rows of x
// (its features of the customers to score, in the agreed order).
func (m *PartnerModel) PartialScores(x Matrix) (*PartialScores, error) {
	u, err := partialScores(m.Scaler, m.Weights, m.FracBits, m.Clip, x, false)
	if err != nil {
		return nil, err
	}
	return &PartialScores{Job: m.Job, Scores: u}, nil
}

// Logits combines the bank's partial scores for the rows of x with the
// partner's: z = u_B + u_P.
func (m *BankModel) Logits(x Matrix, partner *PartialScores) ([]float64, error) {
	if partner.Job != m.Job {
		return nil, fmt.Errorf("%w: %q", ErrWrongJob, partner.Job)
	}
	if len(partner.Scores) != x.Rows {
		return nil, fmt.Errorf("%w: %d partner scores for %d rows", ErrBadShape, len(partner.Scores), x.Rows)
	}
	z, err := partialScores(m.Scaler, m.Weights, m.FracBits, m.Clip, x, true)
	if err != nil {
		return nil, err
	}
	for i, u := range partner.Scores {
		if math.IsNaN(u) || math.Abs(u) > m.Clip {
			return nil, fmt.Errorf("%w: partner score %v at row %d outside ±%v", ErrInput, u, i, m.Clip)
		}
		z[i] += u
	}
	return z, nil
}

// PD combines as Logits and returns the probabilities of default σ(z).
func (m *BankModel) PD(x Matrix, partner *PartialScores) ([]float64, error) {
	z, err := m.Logits(x, partner)
	if err != nil {
		return nil, err
	}
	for i, v := range z {
		z[i] = 1 / (1 + math.Exp(-v))
	}
	return z, nil
}
