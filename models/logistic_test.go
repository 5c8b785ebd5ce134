package models

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// smallX and smallY are a fixed 40 x 3 data set (drawn once with numpy,
// rounded to two decimals) with 14 positives. Reference numbers below come
// from sklearn 1.2.1 and scipy 1.10.1 on exactly these arrays.
var smallX = [][]float64{
	{0, 1.6, -0.64}, {-0.89, 0.09, -1}, {0.06, 3.68, -0.75}, {-0.62, 1.98, -0.32},
	{0.11, -0.86, -0.51}, {0.7, -1.69, -0.73}, {-1.9, -1.58, -1.42}, {-0.24, -1.53, -0.36},
	{0.16, 0.63, -1.76}, {-0.54, 0.9, -0.44}, {-1.53, 0.04, -0.99}, {-0.81, 3.12, -0.9},
	{-0.03, 2.77, -0.79}, {-0.11, 1.22, -0.47}, {-1.23, 1.15, 0.18}, {-1.55, 2.72, -0.44},
	{-0.64, 5, -0.12}, {-1.2, 1.15, -0.21}, {-0.19, 2.37, -0.53}, {0.67, 3.88, -0.84},
	{0.2, 0.07, -0.44}, {-1.19, -0.16, -0.6}, {0.9, 3.29, -1.16}, {-0.79, 2.29, -1.5},
	{-0.46, 0.81, 0.13}, {0.69, 0.35, -0.68}, {-0.25, 4.05, -0.71}, {-0.3, 1.71, -0.56},
	{-0.2, -1.23, -0.51}, {-0.44, 3.33, -0.17}, {-0.02, 2.34, -0.67}, {1.05, 0.99, -0.21},
	{-1.29, 1.69, -1.34}, {-2.04, 0.39, -0.95}, {0.16, 5.49, -0.92}, {-0.62, 1.41, -0.25},
	{-0.18, 0.59, -0.15}, {0.52, -1.07, -0.54}, {0.04, -1.11, -0.37}, {-0.86, 2.94, -0.4},
}

var smallY = []float64{
	0, 0, 0, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0,
	1, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 1, 1, 1, 1,
}

func denseOf(rows [][]float64) *mat.Dense {
	X := mat.NewDense(len(rows), len(rows[0]), nil)
	for i, r := range rows {
		X.SetRow(i, r)
	}
	return X
}

// synthetic draws n rows of d standard normal features and labels from the
// logistic model with weights w and intercept b.
func synthetic(rng *rand.Rand, n int, w []float64, b float64) (*mat.Dense, []float64) {
	d := len(w)
	X := mat.NewDense(n, d, nil)
	y := make([]float64, n)
	raw := X.RawMatrix()
	for i := range n {
		row := raw.Data[i*raw.Stride : i*raw.Stride+d]
		for j := range row {
			row[j] = rng.NormFloat64()
		}
		if rng.Float64() < sigmoid(floats.Dot(row, w)+b) {
			y[i] = 1
		}
	}
	return X, y
}

func TestParams(t *testing.T) {
	m := NewLogistic(3)
	if m.Dim() != 3 {
		t.Fatalf("Dim = %d, want 3", m.Dim())
	}
	want := []float64{0.5, -1, 2, 0.25}
	if err := m.SetParams(want); err != nil {
		t.Fatal(err)
	}
	got := m.Params()
	if !slices.Equal(got, want) {
		t.Fatalf("Params = %v, want %v", got, want)
	}
	got[0] = 99 // Params is a copy
	want[1] = 99
	if m.Weights[0] != 0.5 || m.Weights[1] != -1 {
		t.Fatalf("Params or SetParams aliases the model: %v", m.Weights)
	}
	if m.Intercept != 0.25 {
		t.Fatalf("Intercept = %v, want 0.25", m.Intercept)
	}

	for _, bad := range [][]float64{nil, {1, 2, 3}, {1, 2, 3, 4, 5}, {1, math.NaN(), 3, 4}, {1, 2, 3, math.Inf(-1)}} {
		if err := m.SetParams(bad); err == nil {
			t.Errorf("SetParams(%v): no error", bad)
		}
	}
	if !slices.Equal(m.Params(), []float64{0.5, -1, 2, 0.25}) {
		t.Errorf("failed SetParams changed the model: %v", m.Params())
	}
}

func TestPredict(t *testing.T) {
	m := &Logistic{Weights: []float64{1, -2}, Intercept: 0.5}
	X := mat.NewDense(3, 2, []float64{0, 0, 1, 1, -3, 2})
	want := []float64{1 / (1 + math.Exp(-0.5)), 1 / (1 + math.Exp(0.5)), 1 / (1 + math.Exp(6.5))}
	out := make([]float64, 3)
	got := m.Predict(X, out)
	if &got[0] != &out[0] {
		t.Error("Predict did not reuse out of the right length")
	}
	if !floats.EqualApprox(got, want, 1e-15) {
		t.Errorf("Predict = %v, want %v", got, want)
	}
	if got := m.Predict(X, nil); !floats.EqualApprox(got, want, 1e-15) {
		t.Errorf("Predict(nil out) = %v, want %v", got, want)
	}
	// Any mat.Matrix works, not just *mat.Dense.
	if got := m.Predict(mat.DenseCopyOf(X.T()).T(), nil); !floats.EqualApprox(got, want, 1e-15) {
		t.Errorf("Predict(transpose view) = %v, want %v", got, want)
	}
	for _, p := range m.Predict(mat.NewDense(2, 3, nil), nil) {
		if !math.IsNaN(p) {
			t.Errorf("Predict with wrong column count gave %v, want NaN", p)
		}
	}
}

func TestLoss(t *testing.T) {
	X := denseOf(smallX)
	m := &Logistic{Weights: []float64{0.5, -0.25, 1.0}, Intercept: 0.1}
	// Informed by sklearn.metrics.log_loss(y, p) + 0.1/2*w@w on smallX, smallY.
	const want = 0.5557648299243371
	if got := m.Loss(X, smallY, 0.1); math.Abs(got-want) > 1e-13 {
		t.Errorf("Loss = %.16g, want %.16g", got, want)
	}
	for _, tc := range []struct {
		name string
		X    mat.Matrix
		y    []float64
	}{
		{"nil X", nil, smallY},
		{"short y", X, smallY[1:]},
		{"wrong columns", mat.NewDense(40, 2, nil), smallY},
		{"label 2", X, append(slices.Clone(smallY[1:]), 2)},
		{"label NaN", X, append(slices.Clone(smallY[1:]), math.NaN())},
	} {
		if got := m.Loss(tc.X, tc.y, 0); !math.IsNaN(got) {
			t.Errorf("%s: Loss = %v, want NaN", tc.name, got)
		}
		g := make([]float64, 4)
		m.Gradient(tc.X, tc.y, 0, g)
		for _, v := range g {
			if !math.IsNaN(v) {
				t.Errorf("%s: Gradient = %v, want NaN", tc.name, g)
				break
			}
		}
	}
}

// TestLossStable checks Loss and Gradient at |z| where the naive
// -log(sigmoid(z)) overflows or rounds to 0 or Inf.
func TestLossStable(t *testing.T) {
	X := mat.NewDense(1, 1, []float64{1})
	cases := []struct {
		w, y, want, wantGrad float64
	}{
		{w: 1000, y: 0, want: 1000, wantGrad: 1},
		{w: -1000, y: 1, want: 1000, wantGrad: -1},
		{w: 1000, y: 1, want: 0, wantGrad: 0},
		{w: -1000, y: 0, want: 0, wantGrad: 0},
		// log1p(exp(-40)) = exp(-40) to double precision; a form that
		// computes softplus(z) - z would cancel to 0.
		{w: 40, y: 1, want: math.Exp(-40), wantGrad: -math.Exp(-40)},
		{w: -40, y: 0, want: math.Exp(-40), wantGrad: math.Exp(-40)},
		// Soft label: 0.5*softplus(-z) + 0.5*softplus(z) = 0.5*|z| + log1p(exp(-|z|)).
		{w: 800, y: 0.5, want: 400, wantGrad: 0.5},
	}
	for _, tc := range cases {
		m := &Logistic{Weights: []float64{tc.w}}
		got := m.Loss(X, []float64{tc.y}, 0)
		if !(math.Abs(got-tc.want) <= 1e-14*math.Max(1, tc.want)) || (tc.want > 0 && tc.want < 1e-10 && math.Abs(got-tc.want) > 1e-12*tc.want) {
			t.Errorf("w=%v y=%v: Loss = %v, want %v", tc.w, tc.y, got, tc.want)
		}
		g := make([]float64, 2)
		m.Gradient(X, []float64{tc.y}, 0, g)
		if math.Abs(g[0]-tc.wantGrad) > 1e-14 || math.Abs(g[1]-tc.wantGrad) > 1e-14 {
			t.Errorf("w=%v y=%v: Gradient = %v, want [%v %v]", tc.w, tc.y, g, tc.wantGrad, tc.wantGrad)
		}
	}
}

// TestGradient compares Gradient with central finite differences of Loss.
func TestGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n, d = 200, 6
	X, y := synthetic(rng, n, []float64{1, -1, 0.5, 0, 2, -0.5}, 0.3)
	for i := 0; i < n; i += 7 {
		y[i] = 0.3 // soft labels are allowed
	}
	for _, l2 := range []float64{0, 0.3} {
		m := NewLogistic(d)
		p := make([]float64, d+1)
		for j := range p {
			p[j] = rng.NormFloat64()
		}
		if err := m.SetParams(p); err != nil {
			t.Fatal(err)
		}
		grad := make([]float64, d+1)
		m.Gradient(X, y, l2, grad)

		const h = 1e-6
		for j := range p {
			q := slices.Clone(p)
			q[j] = p[j] + h
			m.SetParams(q)
			up := m.Loss(X, y, l2)
			q[j] = p[j] - h
			m.SetParams(q)
			down := m.Loss(X, y, l2)
			fd := (up - down) / (2 * h)
			if math.Abs(fd-grad[j]) > 1e-7*math.Max(1, math.Abs(fd)) {
				t.Errorf("l2=%v: grad[%d] = %.10g, finite difference %.10g", l2, j, grad[j], fd)
			}
		}
		m.SetParams(p)
	}
}

// TestFitRecoversWeights fits data drawn from a known logistic model. With
// 50k rows the standard errors of the coefficients are about 0.015, so 0.1
// leaves room for optimiser noise and cannot pass by accident from a zero
// start (the smallest nonzero true weight is 0.5).
func TestFitRecoversWeights(t *testing.T) {
	wantW := []float64{1, -2, 0.5, 0, 1.5}
	const wantB = -1.0
	X, y := synthetic(rand.New(rand.NewPCG(42, 0)), 50_000, wantW, wantB)
	for _, c := range []TrainConfig{
		{Epochs: 5, BatchSize: 256, Seed: 1},
		{Epochs: 5, BatchSize: 256, Seed: 1, Optimizer: SGD},
		{Epochs: 300, Optimizer: SGD, LearningRate: 2}, // full batch
	} {
		m := NewLogistic(len(wantW))
		res, err := m.Fit(X, y, c)
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		steps := c.Epochs
		if c.BatchSize > 0 {
			steps = c.Epochs * ((50_000 + c.BatchSize - 1) / c.BatchSize)
		}
		if res.Examples != 50_000 || res.Steps != steps {
			t.Errorf("%+v: Examples, Steps = %d, %d, want 50000, %d", c, res.Examples, res.Steps, steps)
		}
		for j, w := range m.Weights {
			if math.Abs(w-wantW[j]) > 0.1 {
				t.Errorf("%+v: w[%d] = %.3f, want %.3f ± 0.1", c, j, w, wantW[j])
			}
		}
		if math.Abs(m.Intercept-wantB) > 0.1 {
			t.Errorf("%+v: b = %.3f, want %.3f ± 0.1", c, m.Intercept, wantB)
		}
		// The reported loss is the final epoch's running loss; at
		// convergence it is close to the loss at the final parameters.
		if final := m.Loss(X, y, 0); math.Abs(res.Loss-final) > 0.01 {
			t.Errorf("%+v: FitResult.Loss = %.4f, Loss at final params = %.4f", c, res.Loss, final)
		}
	}
}

// w and b are informed by sklearn.linear_model.LogisticRegression(
// C=1/(l2*n), tol=1e-12, max_iter=100000) (lbfgs) on smallX, smallY, whose
// objective C·Σ logloss + ½‖w‖² is n·C times ours. sklearn stops about 3e-5
// short of the optimum, so scipy.optimize.minimize(method="BFGS",
// gtol=1e-12) on our objective (mean log loss + l2/2‖w‖²) gives tighter
// references, theta.
var sklearnL2 = []struct {
	l2    float64
	w     []float64
	b     float64
	theta []float64
}{
	{
		l2: 0.1, w: []float64{0.4434137283717204, -0.5093286087018305, 0.6278582766914522}, b: 0.508785297801505,
		theta: []float64{0.4434196807115699, -0.5093270716051154, 0.6278588230014785, 0.5087836335411449},
	},
	{
		l2: 0.01, w: []float64{0.8343897195821315, -0.6515084357303148, 2.2194916438682237}, b: 1.6557962873162761,
		theta: []float64{0.8344192163147919, -0.6515163600686572, 2.2195057361497055, 1.6558313290734805},
	},
}

func TestFitMatchesSklearnL2(t *testing.T) {
	X := denseOf(smallX)
	for _, ref := range sklearnL2 {
		for _, c := range []TrainConfig{
			{Epochs: 3000, Optimizer: SGD, LearningRate: 1, L2: ref.l2},
			{Epochs: 3000, Optimizer: Adam, LearningRate: 0.01, L2: ref.l2},
		} {
			m := NewLogistic(3)
			if _, err := m.Fit(X, smallY, c); err != nil {
				t.Fatal(err)
			}
			const tol = 1e-4
			if !floats.EqualApprox(m.Weights, ref.w, tol) || math.Abs(m.Intercept-ref.b) > tol {
				t.Errorf("%s l2=%v: w, b = %v, %v; sklearn %v, %v", c.Optimizer, ref.l2, m.Weights, m.Intercept, ref.w, ref.b)
			}
			if !floats.EqualApprox(m.Params(), ref.theta, 1e-7) {
				t.Errorf("%s l2=%v: params %v; scipy %v", c.Optimizer, ref.l2, m.Params(), ref.theta)
			}
		}
	}
	// Informed by sklearn.metrics.log_loss at the sklearn fit for l2=0.1,
	// plus 0.1/2*||w||^2.
	m := &Logistic{Weights: sklearnL2[0].w, Intercept: sklearnL2[0].b}
	if got, want := m.Loss(X, smallY, 0.1), 0.5118184482075795; math.Abs(got-want) > 1e-13 {
		t.Errorf("Loss at sklearn optimum = %.16g, want %.16g", got, want)
	}
}

// TestFitProx checks that Fit with ProxMu minimises
// Loss + ProxMu/2·||θ - θ0||², θ0 being the starting parameters, and that
// the result is nearer θ0 than without the proximal term.
func TestFitProx(t *testing.T) {
	X := denseOf(smallX)
	theta0 := []float64{2, 2, -2, 0.5}
	fit := func(mu float64) []float64 {
		m := NewLogistic(3)
		m.SetParams(theta0)
		if _, err := m.Fit(X, smallY, TrainConfig{Epochs: 3000, Optimizer: SGD, LearningRate: 0.5, L2: 0.01, ProxMu: mu}); err != nil {
			t.Fatal(err)
		}
		return m.Params()
	}
	free, prox := fit(0), fit(1)
	if dp, df := floats.Distance(prox, theta0, 2), floats.Distance(free, theta0, 2); !(dp < 0.5*df) {
		t.Errorf("distance to θ0 with ProxMu=1 is %.3f, without %.3f; want it pulled in", dp, df)
	}

	// Stationarity: ∇Loss(θ) + μ(θ - θ0) = 0 at the prox solution.
	m := NewLogistic(3)
	m.SetParams(prox)
	g := make([]float64, 4)
	m.Gradient(X, smallY, 0.01, g)
	for j := range g {
		if r := g[j] + 1*(prox[j]-theta0[j]); math.Abs(r) > 1e-8 {
			t.Errorf("prox stationarity residual[%d] = %g", j, r)
		}
	}
}

func TestFitDeterministicAndWarmStart(t *testing.T) {
	X, y := synthetic(rand.New(rand.NewPCG(3, 4)), 1000, []float64{1, -1}, 0)
	c := TrainConfig{Epochs: 3, BatchSize: 100, Seed: 9}
	a, b := NewLogistic(2), NewLogistic(2)
	ra, _ := a.Fit(X, y, c)
	rb, _ := b.Fit(X, y, c)
	if !slices.Equal(a.Params(), b.Params()) || ra != rb {
		t.Fatalf("same seed gave %v %+v and %v %+v", a.Params(), ra, b.Params(), rb)
	}
	c.Seed = 10
	b = NewLogistic(2)
	b.Fit(X, y, c)
	if slices.Equal(a.Params(), b.Params()) {
		t.Error("different seeds gave identical parameters")
	}
	// Warm start: a second Fit continues from the first one's parameters.
	start := a.Params()
	c.Epochs = 1
	res, err := a.Fit(X, y, c)
	if err != nil {
		t.Fatal(err)
	}
	if floats.Distance(a.Params(), start, 2) > 0.2 {
		t.Errorf("warm start moved parameters from %v to %v", start, a.Params())
	}
	if res.Steps != 10 || res.Examples != 1000 {
		t.Errorf("Steps, Examples = %d, %d, want 10, 1000", res.Steps, res.Examples)
	}
}

func TestFitErrors(t *testing.T) {
	X := denseOf(smallX)
	bad := denseOf(smallX)
	bad.Set(5, 1, math.NaN())
	inf := denseOf(smallX)
	inf.Set(39, 0, math.Inf(1))
	cases := []struct {
		name string
		X    *mat.Dense
		y    []float64
		c    TrainConfig
		want error
	}{
		{name: "nil X", X: nil, y: smallY},
		{name: "empty X", X: &mat.Dense{}, y: nil},
		{name: "short y", X: X, y: smallY[:39]},
		{name: "label -1", X: X, y: append([]float64{-1}, smallY[1:]...)},
		{name: "wrong columns", X: mat.NewDense(40, 2, nil), y: smallY},
		{name: "optimizer", X: X, y: smallY, c: TrainConfig{Optimizer: "lbfgs"}},
		{name: "epochs", X: X, y: smallY, c: TrainConfig{Epochs: -1}},
		{name: "batch", X: X, y: smallY, c: TrainConfig{BatchSize: -1}},
		{name: "learning rate", X: X, y: smallY, c: TrainConfig{LearningRate: math.NaN()}},
		{name: "l2", X: X, y: smallY, c: TrainConfig{L2: -1}},
		{name: "prox", X: X, y: smallY, c: TrainConfig{ProxMu: math.Inf(1)}},
		{name: "NaN in X", X: bad, y: smallY, want: ErrDiverged},
		{name: "Inf in X", X: inf, y: smallY, c: TrainConfig{BatchSize: 8}, want: ErrDiverged},
	}
	for _, tc := range cases {
		m := &Logistic{Weights: []float64{0.1, 0.2, 0.3}, Intercept: 0.4}
		_, err := m.Fit(tc.X, tc.y, tc.c)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		if tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
		}
		if !slices.Equal(m.Params(), []float64{0.1, 0.2, 0.3, 0.4}) {
			t.Errorf("%s: failed Fit changed the model to %v", tc.name, m.Params())
		}
	}
}

func BenchmarkFitEpoch(b *testing.B) {
	for _, size := range []struct{ n, d int }{{100_000, 25}} {
		w := make([]float64, size.d)
		for j := range w {
			w[j] = float64(j%5) - 2
		}
		X, y := synthetic(rand.New(rand.NewPCG(1, 1)), size.n, w, 0)
		b.Run("adam/batch256/100kx25", func(b *testing.B) {
			m := NewLogistic(size.d)
			c := TrainConfig{Epochs: 1, BatchSize: 256}
			b.SetBytes(int64(size.n * size.d * 8))
			for b.Loop() {
				c.Seed++
				if _, err := m.Fit(X, y, c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestFitView checks that Fit reads a submatrix view (stride wider than its
// columns) exactly as it reads a compact copy.
func TestFitView(t *testing.T) {
	wide, y := synthetic(rand.New(rand.NewPCG(5, 6)), 3000, []float64{1, -1, 0.5, 2, 0}, 0)
	view := wide.Slice(0, 3000, 1, 4).(*mat.Dense)
	compact := mat.DenseCopyOf(view)
	for _, c := range []TrainConfig{{Epochs: 2, BatchSize: 64, Seed: 1}, {Epochs: 5}} {
		a, b := NewLogistic(3), NewLogistic(3)
		ra, err := a.Fit(view, y, c)
		if err != nil {
			t.Fatal(err)
		}
		rb, _ := b.Fit(compact, y, c)
		if !slices.Equal(a.Params(), b.Params()) || ra != rb {
			t.Errorf("%+v: view gave %v %+v, copy %v %+v", c, a.Params(), ra, b.Params(), rb)
		}
	}
}
