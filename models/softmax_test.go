package models

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// softX and softY: 60 rows, 2 features, 3 classes, drawn once with numpy
// from a multinomial model. sklearn 1.2.1
// LogisticRegression(multi_class="multinomial", C=1, solver="newton-cg",
// tol=1e-14) gives the reference fit below (the default lbfgs stops about
// 1e-5 short of the optimum even at tol=1e-12); its objective C·Σloss + ½‖W‖² is ours, mean loss +
// L2/2·‖W‖², with L2 = 1/(C·n).
var softX = [][]float64{{2.04, -2.56}, {0.42, -0.57}, {-0.45, -0.22}, {-2.02, -0.23}, {-0.87, 3.32}, {0.23, -0.35}, {-0.28, -0.67}, {-1.06, -0.39}, {0.48, -0.24}, {0.96, -0.2}, {0.02, 1.55}, {0.55, -0.51}, {-0.18, 0.54}, {1.94, -0.27}, {-0.24, 1.0}, {-0.89, -0.29}, {0.88, 0.58}, {0.09, 0.67}, {-2.83, 1.02}, {-0.96, -1.67}, {0.28, 0.7}, {-0.44, -1.08}, {0.03, -0.05}, {1.41, 0.75}, {0.19, 1.11}, {-0.21, -0.93}, {0.58, 0.58}, {-0.21, -0.78}, {0.23, -2.49}, {0.69, 0.49}, {-1.64, 0.06}, {-0.96, 0.76}, {-2.03, -0.91}, {0.71, 1.16}, {-2.16, -0.5}, {0.33, -0.61}, {1.59, -1.19}, {0.35, -1.05}, {1.41, -0.02}, {-0.37, -1.72}, {1.68, 0.75}, {0.75, 1.14}, {0.35, -0.64}, {-0.8, -0.8}, {1.37, -1.46}, {-0.6, -0.32}, {0.22, 0.58}, {-1.25, -1.73}, {-0.0, 1.21}, {0.76, 0.22}, {-0.32, 0.29}, {-0.24, 0.82}, {-0.79, 0.13}, {-0.11, 0.54}, {0.22, 2.55}, {1.5, 1.5}, {-2.04, -0.34}, {-0.61, 0.53}, {-2.28, 1.17}, {1.07, -1.3}}

var softY = []float64{0, 1, 0, 1, 1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 1, 1, 0, 1, 1, 0, 0, 2, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 2, 2, 1, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 1, 2, 0, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 0}

var (
	sklearnCoef  = [][]float64{{1.366506935349367, -1.140541798837631}, {-1.215349833242237, 1.0009621810215485}, {-0.15115710210712902, 0.1395796178160818}}
	sklearnProba = [][]float64{{0.999561255538507, 1.3455437274410799e-05, 0.0004252890242185393}, {0.8880216162872683, 0.05556250125446146, 0.056415882458270304}, {0.38113080957159606, 0.4769429492691029, 0.14192624115930108}}
)

func TestSoftmaxMatchesSklearn(t *testing.T) {
	X := denseOf(softX)
	m := NewSoftmax(3, 2)
	l2 := 1.0 / float64(len(softY))
	// Full-batch Adam to convergence, then SGD to polish.
	if _, err := m.Fit(X, softY, TrainConfig{Epochs: 4000, LearningRate: 0.05, L2: l2}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Fit(X, softY, TrainConfig{Epochs: 3000, LearningRate: 1, L2: l2, Optimizer: SGD}); err != nil {
		t.Fatal(err)
	}
	for k := range 3 {
		for j := range 2 {
			if got := m.Weights[k*2+j]; math.Abs(got-sklearnCoef[k][j]) > 1e-8 {
				t.Errorf("W[%d][%d] = %v, sklearn %v", k, j, got, sklearnCoef[k][j])
			}
		}
	}
	P := m.Predict(X.Slice(0, 3, 0, 2), nil)
	for i := range 3 {
		for k := range 3 {
			if got := P.At(i, k); math.Abs(got-sklearnProba[i][k]) > 1e-8 {
				t.Errorf("P[%d][%d] = %v, sklearn %v", i, k, got, sklearnProba[i][k])
			}
		}
	}
}

// TestSoftmaxGradient compares Gradient with central differences of Loss.
func TestSoftmaxGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	X := denseOf(softX)
	m := NewSoftmax(3, 2)
	p := m.Params()
	for i := range p {
		p[i] = rng.NormFloat64()
	}
	if err := m.SetParams(p); err != nil {
		t.Fatal(err)
	}
	const l2 = 0.3
	grad := make([]float64, m.NumParams())
	m.Gradient(X, softY, l2, grad)
	for i := range p {
		const h = 1e-6
		q := append([]float64(nil), p...)
		q[i] += h
		_ = m.SetParams(q)
		up := m.Loss(X, softY, l2)
		q[i] -= 2 * h
		_ = m.SetParams(q)
		down := m.Loss(X, softY, l2)
		if num := (up - down) / (2 * h); math.Abs(num-grad[i]) > 1e-6 {
			t.Errorf("gradient[%d] = %v, numeric %v", i, grad[i], num)
		}
	}
}

func TestSoftmaxParamsAndPredict(t *testing.T) {
	m := NewSoftmax(3, 2)
	p := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}
	if err := m.SetParams(p); err != nil {
		t.Fatal(err)
	}
	if got := m.Params(); len(got) != 9 || got[2] != 3 || got[5] != 6 || m.Intercepts[1] != 6 || m.Weights[2] != 4 {
		t.Errorf("params %v, weights %v, intercepts %v", got, m.Weights, m.Intercepts)
	}
	if m.SetParams(p[:8]) == nil || m.SetParams(append(p[:8:8], math.NaN())) == nil {
		t.Error("bad params accepted")
	}
	// Extreme logits: probabilities stay finite and sum to 1.
	_ = m.SetParams([]float64{300, 0, 0, -300, 0, 0, 0, 0, 800})
	P := m.Predict(mat.NewDense(2, 2, []float64{5, 1, -5, 1}), nil)
	for i := range 2 {
		var s float64
		for k := range 3 {
			v := P.At(i, k)
			if math.IsNaN(v) || v < 0 {
				t.Fatalf("P = %v", P.RawMatrix().Data)
			}
			s += v
		}
		if math.Abs(s-1) > 1e-12 {
			t.Errorf("row %d sums to %v", i, s)
		}
	}
	if c := m.PredictClass(mat.NewDense(1, 2, []float64{0, 0})); c[0] != 2 {
		t.Errorf("class %v", c)
	}
	// Wrong width: NaN, not a panic.
	if P := m.Predict(mat.NewDense(1, 3, nil), nil); !math.IsNaN(P.At(0, 0)) {
		t.Error("wrong width predicted")
	}
	if _, err := m.Fit(mat.NewDense(2, 2, nil), []float64{0, 3}, TrainConfig{}); err == nil {
		t.Error("label 3 of 3 classes accepted")
	}
	if _, err := m.Fit(mat.NewDense(2, 2, []float64{1, 2, 3, 1}), []float64{0, 1}, TrainConfig{Epochs: 10, LearningRate: 1e308, Optimizer: SGD}); !errors.Is(err, ErrDiverged) {
		t.Errorf("divergence: %v", err)
	}
}

// TestSoftmaxFedAvg: averaging the Params of clients trained from the same
// start, as FedAvg does, gives a model as good as pooled training.
func TestSoftmaxFedAvg(t *testing.T) {
	X := denseOf(softX)
	pooled := NewSoftmax(3, 2)
	c := TrainConfig{Epochs: 3, BatchSize: 10, LearningRate: 0.05, L2: 0.01}
	global := NewSoftmax(3, 2).Params()
	for r := range 60 {
		sum := make([]float64, len(global))
		for k := range 3 {
			m := NewSoftmax(3, 2)
			_ = m.SetParams(global)
			c.Seed = uint64(r*3 + k)
			if _, err := m.Fit(X.Slice(20*k, 20*k+20, 0, 2).(*mat.Dense), softY[20*k:20*k+20], c); err != nil {
				t.Fatal(err)
			}
			for i, v := range m.Params() {
				sum[i] += v / 3
			}
		}
		global = sum
	}
	c.Epochs, c.Seed = 180, 0
	if _, err := pooled.Fit(X, softY, c); err != nil {
		t.Fatal(err)
	}
	fed := NewSoftmax(3, 2)
	_ = fed.SetParams(global)
	lf, lp := fed.Loss(X, softY, 0), pooled.Loss(X, softY, 0)
	if math.Abs(lf-lp) > 0.01 {
		t.Errorf("federated loss %v, pooled %v", lf, lp)
	}
}
