// Package models holds model implementations for fedscore on gonum:
// parameters as flat vectors that strategies can average, losses and their
// gradients, and local training. It does no I/O and no networking.
//
// Methods whose signatures return no error never panic on bad input
// either: on mismatched shapes they return NaN or fill their output with
// NaN, which later steps (Fit, package eval) report as errors.
package models

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// Logistic is a binary logistic regression, P(y=1 | x) = σ(w·x + b).
type Logistic struct {
	Weights   []float64
	Intercept float64
}

// NewLogistic returns a model for d features with all parameters zero, so
// that it predicts 0.5 everywhere. A negative d is treated as 0.
func NewLogistic(d int) *Logistic {
	return &Logistic{Weights: make([]float64, max(d, 0))}
}

// Dim returns the number of features.
func (m *Logistic) Dim() int { return len(m.Weights) }

// Params returns a copy of the parameters as one vector, [w..., b], of
// length Dim()+1. This is the vector that federated strategies average.
func (m *Logistic) Params() []float64 {
	p := make([]float64, len(m.Weights)+1)
	copy(p, m.Weights)
	p[len(m.Weights)] = m.Intercept
	return p
}

// SetParams sets the parameters from a vector laid out as Params. It
// returns an error, and leaves m unchanged, if len(p) != Dim()+1 or p holds
// NaN or Inf. p is copied.
func (m *Logistic) SetParams(p []float64) error {
	if len(p) != len(m.Weights)+1 {
		return fmt.Errorf("models: logistic: %d parameters, want %d", len(p), len(m.Weights)+1)
	}
	for i, v := range p {
		if !finite(v) {
			return fmt.Errorf("models: logistic: parameter %d is %v", i, v)
		}
	}
	copy(m.Weights, p)
	m.Intercept = p[len(m.Weights)]
	return nil
}

// Predict returns P(y=1) for each row of X. It writes into out if
// len(out) equals the number of rows and allocates otherwise. If X's column
// count is not Dim(), every output is NaN.
func (m *Logistic) Predict(X mat.Matrix, out []float64) []float64 {
	if isNilMatrix(X) {
		return out[:0]
	}
	r, c := X.Dims()
	if len(out) != r {
		out = make([]float64, r)
	}
	if r == 0 {
		return out
	}
	if c != len(m.Weights) {
		fillNaN(out)
		return out
	}
	m.linear(X, out)
	for i, z := range out {
		out[i] = sigmoid(z)
	}
	return out
}

// linear sets z = Xw + b. X must be non-empty with Dim() columns and len(z)
// its row count.
func (m *Logistic) linear(X mat.Matrix, z []float64) {
	if len(m.Weights) == 0 {
		for i := range z {
			z[i] = m.Intercept
		}
		return
	}
	zv := mat.NewVecDense(len(z), z)
	zv.MulVec(X, mat.NewVecDense(len(m.Weights), m.Weights))
	for i := range z {
		z[i] += m.Intercept
	}
}

// Loss returns the mean log loss of labels y under the model on X plus the
// ridge penalty l2/2·‖w‖² (the intercept is not penalised). Each term is
// computed as y·softplus(-z) + (1-y)·softplus(z) with
// softplus(z) = max(z, 0) + log1p(exp(-|z|)), which is accurate at any |z|, so confident mistakes give large
// finite losses rather than Inf. Labels may be any values in [0, 1]. It
// returns NaN if the shapes disagree, X is empty or y holds a value outside
// [0, 1].
func (m *Logistic) Loss(X mat.Matrix, y []float64, l2 float64) float64 {
	if m.checkData(X, y) != nil {
		return math.NaN()
	}
	z := make([]float64, len(y))
	m.linear(X, z)
	var sum float64
	for i, zi := range z {
		sum += pointLoss(zi, y[i])
	}
	return sum/float64(len(y)) + 0.5*l2*floats.Dot(m.Weights, m.Weights)
}

// Gradient writes the gradient of Loss with respect to Params into grad,
// which must have length Dim()+1. If the shapes disagree, grad is filled
// with NaN.
func (m *Logistic) Gradient(X mat.Matrix, y []float64, l2 float64, grad []float64) {
	d := len(m.Weights)
	if len(grad) != d+1 || m.checkData(X, y) != nil {
		fillNaN(grad)
		return
	}
	n := len(y)
	r := make([]float64, n)
	m.linear(X, r)
	var gb float64
	for i, z := range r {
		r[i] = (sigmoid(z) - y[i]) / float64(n)
		gb += r[i]
	}
	if d > 0 {
		// grad[:d] = Xᵀr/n + l2·w, as one matrix-vector product on the
		// transpose view.
		gw := mat.NewVecDense(d, grad[:d])
		gw.MulVec(X.T(), mat.NewVecDense(n, r))
		floats.AddScaled(grad[:d], l2, m.Weights)
	}
	grad[d] = gb
}

// checkData validates X and y against the model.
func (m *Logistic) checkData(X mat.Matrix, y []float64) error {
	if isNilMatrix(X) {
		return errors.New("models: logistic: nil matrix")
	}
	r, c := X.Dims()
	if r == 0 {
		return errors.New("models: logistic: no rows")
	}
	if c != len(m.Weights) {
		return fmt.Errorf("models: logistic: matrix has %d columns, model has %d features", c, len(m.Weights))
	}
	if len(y) != r {
		return fmt.Errorf("models: logistic: %d rows and %d labels", r, len(y))
	}
	for i, v := range y {
		if !(v >= 0 && v <= 1) {
			return fmt.Errorf("models: logistic: label %v at row %d is outside [0, 1]", v, i)
		}
	}
	return nil
}

// sigmoid returns 1/(1+exp(-z)) without overflow.
func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// pointLoss returns -[y log σ(z) + (1-y) log(1-σ(z))]
// = y·softplus(-z) + (1-y)·softplus(z). Both softplus terms share
// log1p(exp(-|z|)), and neither cancels: the loss of a confident correct
// prediction keeps its relative precision instead of rounding to 0.
func pointLoss(z, y float64) float64 {
	l := math.Log1p(math.Exp(-math.Abs(z)))
	return y*(max(-z, 0)+l) + (1-y)*(max(z, 0)+l)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func fillNaN(s []float64) {
	for i := range s {
		s[i] = math.NaN()
	}
}

// isNilMatrix reports whether X is nil or a nil *mat.Dense, on which Dims
// would panic.
func isNilMatrix(X mat.Matrix) bool {
	if X == nil {
		return true
	}
	d, ok := X.(*mat.Dense)
	return ok && d == nil
}
