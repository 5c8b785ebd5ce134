package models

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// Optimizer names a first-order optimisation method for Fit.
type Optimizer string

// Optimizers supported by Fit.
const (
	Adam Optimizer = "adam" // Kingma & Ba (2015), β1 = 0.9, β2 = 0.999, ε = 1e-8
	SGD  Optimizer = "sgd"  // plain (mini-batch) gradient descent, no momentum
)

// Default learning rates, used when TrainConfig.LearningRate is 0.
const (
	DefaultAdamLearningRate = 0.01
	DefaultSGDLearningRate  = 0.1
)

// Adam's constants.
const (
	adamBeta1 = 0.9
	adamBeta2 = 0.999
	adamEps   = 1e-8
)

// TrainConfig configures local training. The zero TrainConfig means one
// full-batch epoch of Adam at learning rate 0.01 without regularisation.
type TrainConfig struct {
	Epochs       int       // passes over the data; 0 means 1
	BatchSize    int       // rows per step; 0 (or more than the rows) means full batch
	LearningRate float64   // 0 means DefaultAdamLearningRate or DefaultSGDLearningRate
	L2           float64   // ridge penalty L2/2·‖w‖² added to the mean loss; the intercept is not penalised
	Optimizer    Optimizer // "" means Adam
	// Seed seeds the per-epoch shuffle of rows (a PCG from math/rand/v2).
	// The same Seed gives the same batches, so a federated round should
	// vary it (for example base seed + round) to avoid replaying one order.
	Seed uint64
	// ProxMu is FedProx's proximal term: Fit minimises the loss plus
	// ProxMu/2·‖θ - θ0‖², where θ0 are the parameters (weights and
	// intercept) at the start of Fit, which keeps a client's update near
	// the global model it was sent.
	ProxMu float64
}

// withDefaults validates c and fills in defaults.
func (c TrainConfig) withDefaults() (TrainConfig, error) {
	switch c.Optimizer {
	case "":
		c.Optimizer = Adam
	case Adam, SGD:
	default:
		return c, fmt.Errorf("models: unknown optimizer %q", c.Optimizer)
	}
	if c.Epochs < 0 {
		return c, fmt.Errorf("models: negative epochs %d", c.Epochs)
	}
	if c.Epochs == 0 {
		c.Epochs = 1
	}
	if c.BatchSize < 0 {
		return c, fmt.Errorf("models: negative batch size %d", c.BatchSize)
	}
	if !finite(c.LearningRate) || c.LearningRate < 0 {
		return c, fmt.Errorf("models: learning rate %v is not a finite non-negative number", c.LearningRate)
	}
	if c.LearningRate == 0 {
		c.LearningRate = DefaultAdamLearningRate
		if c.Optimizer == SGD {
			c.LearningRate = DefaultSGDLearningRate
		}
	}
	if !finite(c.L2) || c.L2 < 0 {
		return c, fmt.Errorf("models: L2 %v is not a finite non-negative number", c.L2)
	}
	if !finite(c.ProxMu) || c.ProxMu < 0 {
		return c, fmt.Errorf("models: ProxMu %v is not a finite non-negative number", c.ProxMu)
	}
	return c, nil
}

// FitResult reports what Fit did.
type FitResult struct {
	// Loss is the mean log loss over the final epoch's rows, each taken
	// with the parameters in effect when its batch was processed (before
	// that batch's step), without the L2 and proximal penalties. It comes
	// free with training; call Loss for the loss at the final parameters.
	Loss float64
	// Examples is the number of training rows, len(y): the weight FedAvg
	// gives this client's update. Rows processed are Examples·Epochs.
	Examples int
	// Steps is the number of optimiser steps taken.
	Steps int
}

// ErrDiverged is returned by Fit when the parameters become NaN or Inf,
// because X holds NaN or Inf or the learning rate is far too large.
var ErrDiverged = errors.New("models: training diverged to non-finite parameters")

// Fit trains the model on the rows of X with labels y (values in [0, 1]),
// starting from the current parameters (a warm start: in FedAvg, set the
// global parameters, then Fit). Optimiser state is fresh on every call.
// Each epoch shuffles the rows (unless full batch) and takes one step per
// batch of c.BatchSize rows; the last batch of an epoch may be smaller.
//
// Fit returns an error, and leaves the model unchanged, if the shapes
// disagree, a label is outside [0, 1], c is invalid, or training diverges
// (ErrDiverged).
//
// Fit allocates only per call (a permutation of the rows, one batch of
// rows, and a few vectors of length Dim()+1), never per batch.
func (m *Logistic) Fit(X *mat.Dense, y []float64, c TrainConfig) (FitResult, error) {
	c, err := c.withDefaults()
	if err != nil {
		return FitResult{}, err
	}
	if err := m.checkData(X, y); err != nil {
		return FitResult{}, err
	}
	raw := X.RawMatrix()
	n, d := raw.Rows, raw.Cols
	batch := c.BatchSize
	if batch == 0 || batch > n {
		batch = n
	}

	theta := m.Params() // working copy: w = theta[:d], b = theta[d]
	w := theta[:d]
	var theta0 []float64
	if c.ProxMu > 0 {
		theta0 = m.Params()
	}
	grad := make([]float64, d+1)
	gw := grad[:d]
	var mom, vel []float64
	if c.Optimizer == Adam {
		mom = make([]float64, d+1)
		vel = make([]float64, d+1)
	}

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
		rng = rand.New(rand.NewPCG(c.Seed, 0x6665647363f2e5))
	}

	var res FitResult
	b1t, b2t := 1.0, 1.0 // β1^t, β2^t
	for epoch := range c.Epochs {
		if perm != nil {
			rng.Shuffle(n, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		}
		last := epoch == c.Epochs-1
		var lossSum float64
		for start := 0; start < n; start += batch {
			end := min(start+batch, n)
			clear(grad)
			var gb float64
			b := theta[d]
			xb, yb := raw.Data[start*raw.Stride:], y[start:end]
			stride := raw.Stride
			if perm != nil {
				// Gather the batch into contiguous buffers first. The copy
				// loop is short, so the CPU overlaps the cache misses of
				// many random rows instead of stalling on each in turn.
				for k, i := range perm[start:end] {
					copy(xbuf[k*d:(k+1)*d], raw.Data[int(i)*raw.Stride:int(i)*raw.Stride+d])
					ybuf[k] = y[i]
				}
				xb, yb, stride = xbuf, ybuf[:end-start], d
			}
			for k, yk := range yb {
				x := xb[k*stride : k*stride+d]
				z := floats.Dot(x, w) + b
				// One exp serves both the probability and the loss.
				e := math.Exp(-math.Abs(z))
				var p float64
				if z >= 0 {
					p = 1 / (1 + e)
				} else {
					p = e / (1 + e)
				}
				if last {
					l := math.Log1p(e)
					lossSum += yk*(max(-z, 0)+l) + (1-yk)*(max(z, 0)+l)
				}
				r := p - yk
				floats.AddScaled(gw, r, x)
				gb += r
			}
			grad[d] = gb
			floats.Scale(1/float64(end-start), grad)
			if c.L2 > 0 {
				floats.AddScaled(gw, c.L2, w)
			}
			if theta0 != nil {
				for j := range grad {
					grad[j] += c.ProxMu * (theta[j] - theta0[j])
				}
			}

			res.Steps++
			switch c.Optimizer {
			case SGD:
				floats.AddScaled(theta, -c.LearningRate, grad)
			case Adam:
				b1t *= adamBeta1
				b2t *= adamBeta2
				for j, g := range grad {
					mom[j] = adamBeta1*mom[j] + (1-adamBeta1)*g
					vel[j] = adamBeta2*vel[j] + (1-adamBeta2)*g*g
					mhat := mom[j] / (1 - b1t)
					vhat := vel[j] / (1 - b2t)
					theta[j] -= c.LearningRate * mhat / (math.Sqrt(vhat) + adamEps)
				}
			}
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
	copy(m.Weights, w)
	m.Intercept = theta[d]
	res.Examples = n
	return res, nil
}
