package secagg

import (
	"math/rand/v2"
	"testing"
)

func TestSmoke(t *testing.T) {
	n := 7
	p := Params{Job: "j", Round: 1, Participants: ids(n), VectorLens: []int{10, 3}}
	rng := rand.New(rand.NewPCG(1, 2))
	in := randomInputs(rng, n, p.VectorLens)
	res, err := RunLocal(LocalConfig{Params: p, Inputs: in, Drop: Dropouts{PhaseMaskedInput: {3}, PhaseUnmasking: {5}}, Rand: seeded(1)})
	if err != nil {
		t.Fatal(err, res.Refused)
	}
	want := plainSum(in, res.Survivors, p.VectorLens)
	if !equalVectors(res.Sum, want) {
		t.Fatalf("sum mismatch")
	}
	t.Log(res.Survivors, res.Dropped)
}
