package strategy

import (
	"errors"
	"math"
	"testing"
)

func TestFedAvgWeightedMean(t *testing.T) {
	// Two participants: θ1 = (1, 2) with 300 examples, θ2 = (3, -2) with 100.
	// Weighted mean = (300·1 + 100·3)/400, (300·2 − 100·2)/400 = (1.5, 1).
	agg := Aggregate{WeightedParams: []float64{300*1 + 100*3, 300*2 - 100*2}, Weight: 400, Contributors: 2}
	got, err := FedAvg{}.Aggregate([]float64{0, 0}, agg, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{1.5, 1}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Fatalf("param %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestAggregateErrors(t *testing.T) {
	tests := []struct {
		name string
		agg  Aggregate
		want error
	}{
		{"zero weight", Aggregate{WeightedParams: []float64{1, 2}, Weight: 0}, ErrNoWeight},
		{"NaN weight", Aggregate{WeightedParams: []float64{1, 2}, Weight: math.NaN()}, ErrNoWeight},
		{"wrong length", Aggregate{WeightedParams: []float64{1}, Weight: 1}, ErrDimension},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, s := range []Strategy{FedAvg{}, FedProx{Mu: 0.1}} {
				if _, err := s.Aggregate([]float64{0, 0}, tc.agg, nil); !errors.Is(err, tc.want) {
					t.Fatalf("%s: err = %v, want %v", s.Name(), err, tc.want)
				}
			}
		})
	}
}

func TestByName(t *testing.T) {
	tests := []struct {
		name    string
		mu      float64
		want    string
		wantErr bool
	}{
		{"", 0, "fedavg", false},
		{"fedavg", 0, "fedavg", false},
		{"fedprox", 0.01, "fedprox", false},
		{"fedprox", 0, "", true},
		{"fedadam", 0, "", true},
	}
	for _, tc := range tests {
		s, err := ByName(tc.name, tc.mu)
		if (err != nil) != tc.wantErr {
			t.Fatalf("ByName(%q, %v) err = %v, wantErr %v", tc.name, tc.mu, err, tc.wantErr)
		}
		if err == nil && s.Name() != tc.want {
			t.Fatalf("ByName(%q) = %s, want %s", tc.name, s.Name(), tc.want)
		}
	}
	if s, _ := ByName("fedprox", 0.5); s.LocalProx() != 0.5 {
		t.Fatalf("fedprox LocalProx = %v", s.LocalProx())
	}
}
