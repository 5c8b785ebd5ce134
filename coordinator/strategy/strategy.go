// Package strategy holds the coordinator's aggregation strategies: pure
// functions from the previous global parameters and the round's aggregate to
// the next global parameters.
//
// A strategy never sees a single participant's update. Under secure
// aggregation the coordinator learns only sums, so every strategy here is
// written against Aggregate: the sum of weighted parameters and the sum of
// weights over the round's survivors. Participants that dropped out reach the
// strategy explicitly as failures, as in Flower, so a strategy can decide
// what a thin round means; the round loop lives elsewhere (coordinator/round).
package strategy

import (
	"errors"
	"fmt"
	"math"
)

var (
	// ErrNoWeight means no participant contributed weight to the round.
	ErrNoWeight = errors.New("strategy: aggregate has no weight")
	// ErrDimension means the aggregate does not match the global parameters.
	ErrDimension = errors.New("strategy: dimension mismatch")
	// ErrUnknown means the job names a strategy that does not exist.
	ErrUnknown = errors.New("strategy: unknown strategy")
)

// Aggregate is what one round yields at the coordinator: sums over the
// participants that completed it.
type Aggregate struct {
	// WeightedParams is Σ ω_i·θ_i over contributors.
	WeightedParams []float64
	// Weight is Σ ω_i; ω_i grows with participant i's example count.
	Weight float64
	// Contributors is how many participants are in the sums.
	Contributors int
}

// Failure records a participant selected for the round that did not
// contribute, and why.
type Failure struct {
	Participant string
	Reason      string
}

// Strategy turns a round's aggregate into the next global parameters.
type Strategy interface {
	Name() string
	Aggregate(global []float64, agg Aggregate, failures []Failure) ([]float64, error)
	// LocalProx is the proximal coefficient participants add to their local
	// objective (FedProx); zero for plain FedAvg.
	LocalProx() float64
}

// FedAvg is federated averaging weighted by example counts (McMahan et al.,
// 2017): θ ← Σ ω_i·θ_i / Σ ω_i.
type FedAvg struct{}

var _ Strategy = FedAvg{}

// Name implements Strategy.
func (FedAvg) Name() string { return "fedavg" }

// LocalProx implements Strategy.
func (FedAvg) LocalProx() float64 { return 0 }

// Aggregate implements Strategy.
func (FedAvg) Aggregate(global []float64, agg Aggregate, _ []Failure) ([]float64, error) {
	return weightedMean(global, agg)
}

// FedProx aggregates as FedAvg does but asks participants to add
// Mu/2·‖θ−θ_global‖² to their local loss, which keeps heterogeneous
// participants from drifting apart (Li et al., 2020).
type FedProx struct{ Mu float64 }

var _ Strategy = FedProx{}

// Name implements Strategy.
func (FedProx) Name() string { return "fedprox" }

// LocalProx implements Strategy.
func (p FedProx) LocalProx() float64 { return p.Mu }

// Aggregate implements Strategy.
func (FedProx) Aggregate(global []float64, agg Aggregate, _ []Failure) ([]float64, error) {
	return weightedMean(global, agg)
}

func weightedMean(global []float64, agg Aggregate) ([]float64, error) {
	if len(agg.WeightedParams) != len(global) {
		return nil, fmt.Errorf("%w: aggregate has %d parameters, model has %d", ErrDimension, len(agg.WeightedParams), len(global))
	}
	if !(agg.Weight > 0) || math.IsInf(agg.Weight, 0) {
		return nil, fmt.Errorf("%w (weight %v from %d contributors)", ErrNoWeight, agg.Weight, agg.Contributors)
	}
	out := make([]float64, len(global))
	for i, s := range agg.WeightedParams {
		out[i] = s / agg.Weight
	}
	return out, nil
}

// ByName returns the strategy a job spec names; "" means FedAvg.
func ByName(name string, proxMu float64) (Strategy, error) {
	switch name {
	case "", "fedavg":
		return FedAvg{}, nil
	case "fedprox":
		if !(proxMu > 0) {
			return nil, fmt.Errorf("strategy: fedprox needs prox_mu > 0, got %v", proxMu)
		}
		return FedProx{Mu: proxMu}, nil
	}
	return nil, fmt.Errorf("%w %q (known: fedavg, fedprox)", ErrUnknown, name)
}
