package models

import (
	"errors"
	"fmt"
	"github.com/fedscore/fedscore/features"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// Softmax is a multinomial logistic regression over K classes, trained as
// one model (not one-versus-rest): P(y=k | x) = exp(z_k) / Σ_c exp(z_c)
// with z_k = w_k·x + b_k. Its probabilities sum to 1 by construction.
type Softmax struct {
	Classes    int
	Weights    []float64 // Classes × Dim, row-major: Weights[k*Dim+j]
	Intercepts []float64 // Classes
}

// NewSoftmax returns a model for k classes and d features with all
// parameters zero, so that it predicts 1/k for every class. k below 2 is
// treated as 2 and a negative d as 0.
func NewSoftmax(k, d int) *Softmax {
	k, d = max(k, 2), max(d, 0)
	return &Softmax{Classes: k, Weights: make([]float64, k*d), Intercepts: make([]float64, k)}
}

// Dim returns the number of features.
func (m *Softmax) Dim() int {
	if m.Classes <= 0 {
		return 0
	}
	return len(m.Weights) / m.Classes
}

// NumParams is the length of Params: Classes·(Dim+1).
func (m *Softmax) NumParams() int { return m.Classes * (m.Dim() + 1) }

func (m *Softmax) valid() error {
	if m.Classes < 2 || len(m.Intercepts) != m.Classes || len(m.Weights)%m.Classes != 0 {
		return fmt.Errorf("models: softmax: malformed model (%d classes, %d weights, %d intercepts)", m.Classes, len(m.Weights), len(m.Intercepts))
	}
	return nil
}

// Params returns a copy of the parameters as one vector laid out class
// after class, [w_0..., b_0, w_1..., b_1, ...], of length Classes·(Dim+1):
// the vector federated strategies average.
func (m *Softmax) Params() []float64 {
	d := m.Dim()
	p := make([]float64, m.NumParams())
	for k := range m.Classes {
		copy(p[k*(d+1):], m.Weights[k*d:(k+1)*d])
		p[k*(d+1)+d] = m.Intercepts[k]
	}
	return p
}

// SetParams sets the parameters from a vector laid out as Params. It
// returns an error, and leaves m unchanged, if the length is wrong or p
// holds NaN or Inf.
func (m *Softmax) SetParams(p []float64) error {
	if err := m.valid(); err != nil {
		return err
	}
	if len(p) != m.NumParams() {
		return fmt.Errorf("models: softmax: %d parameters, want %d", len(p), m.NumParams())
	}
	for i, v := range p {
		if !finite(v) {
			return fmt.Errorf("models: softmax: parameter %d is %v", i, v)
		}
	}
	d := m.Dim()
	for k := range m.Classes {
		copy(m.Weights[k*d:(k+1)*d], p[k*(d+1):k*(d+1)+d])
		m.Intercepts[k] = p[k*(d+1)+d]
	}
	return nil
}

// softmaxInPlace turns logits z into probabilities and returns
// log Σ exp(z) (before the change), computed stably.
func softmaxInPlace(z []float64) float64 {
	mx := z[0]
	for _, v := range z[1:] {
		mx = max(mx, v)
	}
	var s float64
	for i, v := range z {
		z[i] = math.Exp(v - mx)
		s += z[i]
	}
	for i := range z {
		z[i] /= s
	}
	return mx + math.Log(s)
}

// Predict returns the class probabilities of each row of X, one row per
// row of X and one column per class; each row sums to 1. It writes into
// out if out has the right shape and allocates otherwise. If X's column
// count is not Dim() or the model is malformed, every output is NaN.
func (m *Softmax) Predict(X mat.Matrix, out *mat.Dense) *mat.Dense {
	if isNilMatrix(X) {
		return &mat.Dense{}
	}
	r, c := X.Dims()
	K := max(m.Classes, 1)
	if r == 0 {
		return &mat.Dense{}
	}
	if out == nil || out.IsEmpty() {
		out = mat.NewDense(r, K, nil)
	} else if or, oc := out.Dims(); or != r || oc != K {
		out = mat.NewDense(r, K, nil)
	}
	raw := out.RawMatrix()
	if m.valid() != nil || c != m.Dim() {
		for i := range r {
			fillNaN(raw.Data[i*raw.Stride : i*raw.Stride+K])
		}
		return out
	}
	xs := features.RowReader(X)
	for i := range r {
		z := raw.Data[i*raw.Stride : i*raw.Stride+K]
		m.logits(xs.Row(i), z)
		softmaxInPlace(z)
	}
	return out
}

// PredictClass returns the most probable class of each row (the lowest
// index on a tie), or -1 for every row if X does not fit the model.
func (m *Softmax) PredictClass(X mat.Matrix) []int {
	P := m.Predict(X, nil)
	if P.IsEmpty() {
		return nil
	}
	r, _ := P.Dims()
	out := make([]int, r)
	for i := range r {
		out[i] = argmax(P.RawRowView(i))
	}
	return out
}

func argmax(v []float64) int {
	best := 0
	for k, x := range v {
		if x > v[best] || math.IsNaN(v[best]) {
			best = k
		}
		if math.IsNaN(x) {
			return -1
		}
	}
	return best
}

// logits sets z_k = w_k·x + b_k.
func (m *Softmax) logits(x, z []float64) {
	d := len(x)
	for k := range m.Classes {
		z[k] = m.Intercepts[k]
		if d > 0 {
			z[k] += floats.Dot(m.Weights[k*d:(k+1)*d], x)
		}
	}
}

// checkData validates X and class labels y against the model.
func (m *Softmax) checkData(X mat.Matrix, y []float64) error {
	if err := m.valid(); err != nil {
		return err
	}
	if isNilMatrix(X) {
		return errors.New("models: softmax: nil matrix")
	}
	r, c := X.Dims()
	if r == 0 {
		return errors.New("models: softmax: no rows")
	}
	if c != m.Dim() {
		return fmt.Errorf("models: softmax: matrix has %d columns, model has %d features", c, m.Dim())
	}
	if len(y) != r {
		return fmt.Errorf("models: softmax: %d rows and %d labels", r, len(y))
	}
	for i, v := range y {
		if !(v >= 0 && v < float64(m.Classes)) || v != math.Trunc(v) {
			return fmt.Errorf("models: softmax: label %v at row %d is not a class in 0..%d", v, i, m.Classes-1)
		}
	}
	return nil
}

// Loss returns the mean cross-entropy of class labels y under the model on
// X plus the ridge penalty l2/2·‖W‖² (intercepts are not penalised), or NaN
// if the shapes disagree or a label is not a class index.
func (m *Softmax) Loss(X mat.Matrix, y []float64, l2 float64) float64 {
	if m.checkData(X, y) != nil {
		return math.NaN()
	}
	xs := features.RowReader(X)
	z := make([]float64, m.Classes)
	var sum float64
	for i, yi := range y {
		m.logits(xs.Row(i), z)
		lse := logSumExp(z)
		sum += lse - z[int(yi)]
	}
	return sum/float64(len(y)) + 0.5*l2*floats.Dot(m.Weights, m.Weights)
}

func logSumExp(z []float64) float64 {
	mx := z[0]
	for _, v := range z[1:] {
		mx = max(mx, v)
	}
	var s float64
	for _, v := range z {
		s += math.Exp(v - mx)
	}
	return mx + math.Log(s)
}

// Gradient writes the gradient of Loss with respect to Params into grad,
// which must have length NumParams(); otherwise, or if the shapes
// disagree, grad is filled with NaN.
func (m *Softmax) Gradient(X mat.Matrix, y []float64, l2 float64, grad []float64) {
	if len(grad) != m.NumParams() || m.checkData(X, y) != nil {
		fillNaN(grad)
		return
	}
	clear(grad)
	d := m.Dim()
	xs := features.RowReader(X)
	z := make([]float64, m.Classes)
	n := float64(len(y))
	for i, yi := range y {
		x := xs.Row(i)
		m.logits(x, z)
		softmaxInPlace(z)
		z[int(yi)]--
		for k, r := range z {
			g := grad[k*(d+1) : (k+1)*(d+1)]
			if d > 0 {
				floats.AddScaled(g[:d], r/n, x)
			}
			g[d] += r / n
		}
	}
	for k := range m.Classes {
		floats.AddScaled(grad[k*(d+1):k*(d+1)+d], l2, m.Weights[k*d:(k+1)*d])
	}
}

// Fit trains the model on the rows of X with class labels y (0..Classes-1)
// by minimising the mean cross-entropy plus c.L2/2·‖W‖² (and FedProx's
// c.ProxMu/2·‖θ-θ0‖²), starting from the current parameters, with the same
// optimisers, batching and seeding as Logistic.Fit. FitResult.Loss is the
// mean cross-entropy over the last epoch, each row taken before its
// batch's step. It returns an error, and leaves m unchanged, if the shapes
// disagree, a label is not a class, c is invalid, or training diverges
// (ErrDiverged).
func (m *Softmax) Fit(X *mat.Dense, y []float64, c TrainConfig) (FitResult, error) {
	c, err := c.withDefaults()
	if err != nil {
		return FitResult{}, err
	}
	if err := m.checkData(X, y); err != nil {
		return FitResult{}, err
	}
	raw := X.RawMatrix()
	n, d, K := raw.Rows, raw.Cols, m.Classes
	batch := c.BatchSize
	if batch == 0 || batch > n {
		batch = n
	}
	theta := m.Params()
	var theta0 []float64
	if c.ProxMu > 0 {
		theta0 = m.Params()
	}
	grad := make([]float64, len(theta))
	opt := newOptimizer(c, len(theta))

	var perm []int32
	var rng *rand.Rand
	var xbuf, ybuf []float64
	if batch < n {
		if n > math.MaxInt32 {
			return FitResult{}, fmt.Errorf("models: %d rows is more than mini-batch Fit supports (%d)", n, math.MaxInt32)
		}
		xbuf = make([]float64, batch*d)
		ybuf = make([]float64, batch)
		perm = make([]int32, n)
		for i := range perm {
			perm[i] = int32(i)
		}
		rng = rand.New(rand.NewPCG(c.Seed, 0x736f66746d6178))
	}
	z := make([]float64, K)
	var res FitResult
	for epoch := range c.Epochs {
		if perm != nil {
			rng.Shuffle(n, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		}
		last := epoch == c.Epochs-1
		var lossSum float64
		for start := 0; start < n; start += batch {
			end := min(start+batch, n)
			clear(grad)
			xb, yb, stride := raw.Data[start*raw.Stride:], y[start:end], raw.Stride
			if perm != nil {
				for k, i := range perm[start:end] {
					copy(xbuf[k*d:(k+1)*d], raw.Data[int(i)*raw.Stride:int(i)*raw.Stride+d])
					ybuf[k] = y[i]
				}
				xb, yb, stride = xbuf, ybuf[:end-start], d
			}
			for r, yr := range yb {
				x := xb[r*stride : r*stride+d]
				for k := range K {
					off := k * (d + 1)
					z[k] = theta[off+d]
					if d > 0 {
						z[k] += floats.Dot(theta[off:off+d], x)
					}
				}
				yi := int(yr)
				zy := z[yi]
				lse := softmaxInPlace(z)
				if last {
					lossSum += lse - zy
				}
				z[yi]--
				for k, rk := range z {
					off := k * (d + 1)
					if rk == 0 {
						continue
					}
					if d > 0 {
						floats.AddScaled(grad[off:off+d], rk, x)
					}
					grad[off+d] += rk
				}
			}
			floats.Scale(1/float64(end-start), grad)
			if c.L2 > 0 {
				for k := range K {
					off := k * (d + 1)
					floats.AddScaled(grad[off:off+d], c.L2, theta[off:off+d])
				}
			}
			if theta0 != nil {
				for j := range grad {
					grad[j] += c.ProxMu * (theta[j] - theta0[j])
				}
			}
			res.Steps++
			opt.step(theta, grad)
		}
		for _, v := range theta {
			if !finite(v) {
				return FitResult{}, fmt.Errorf("%w (epoch %d)", ErrDiverged, epoch+1)
			}
		}
		if last {
			res.Loss = lossSum / float64(n)
		}
	}
	if err := m.SetParams(theta); err != nil {
		return FitResult{}, err
	}
	res.Examples = n
	return res, nil
}

// optimizer takes first-order steps with the method of a TrainConfig
// (which must have its defaults filled in).
type optimizer struct {
	c        TrainConfig
	mom, vel []float64
	b1t, b2t float64
}

func newOptimizer(c TrainConfig, n int) *optimizer {
	o := &optimizer{c: c, b1t: 1, b2t: 1}
	if c.Optimizer == Adam {
		o.mom, o.vel = make([]float64, n), make([]float64, n)
	}
	return o
}

func (o *optimizer) step(theta, grad []float64) {
	switch o.c.Optimizer {
	case SGD:
		floats.AddScaled(theta, -o.c.LearningRate, grad)
	case Adam:
		o.b1t *= adamBeta1
		o.b2t *= adamBeta2
		for j, g := range grad {
			o.mom[j] = adamBeta1*o.mom[j] + (1-adamBeta1)*g
			o.vel[j] = adamBeta2*o.vel[j] + (1-adamBeta2)*g*g
			mhat := o.mom[j] / (1 - o.b1t)
			vhat := o.vel[j] / (1 - o.b2t)
			theta[j] -= o.c.LearningRate * mhat / (math.Sqrt(vhat) + adamEps)
		}
	}
}
