package secagg

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// ids returns n participant ids p000, p001, ...
func ids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("p%03d", i)
	}
	return out
}

// seeded returns a deterministic reader (ChaCha8, specified by c2sp.org/chacha8rand).
func seeded(seed uint64) *rand.ChaCha8 {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return rand.NewChaCha8(s)
}

// chacha returns ChaCha8 seeded with 32 bytes.
func chacha(seed []byte) *rand.ChaCha8 {
	return rand.NewChaCha8([32]byte(seed))
}

// randomInputs draws n participants' inputs for the given vector lengths.
func randomInputs(rng *rand.Rand, n int, lens []int) [][][]uint64 {
	in := make([][][]uint64, n)
	for u := range in {
		in[u] = make([][]uint64, len(lens))
		for v, m := range lens {
			in[u][v] = make([]uint64, m)
			for j := range in[u][v] {
				in[u][v][j] = rng.Uint64()
			}
		}
	}
	return in
}

// plainSum adds the inputs of the given participants.
func plainSum(in [][][]uint64, who []uint32, lens []int) [][]uint64 {
	out := make([][]uint64, len(lens))
	for v, m := range lens {
		out[v] = make([]uint64, m)
	}
	for _, u := range who {
		for v := range out {
			for j := range out[v] {
				out[v][j] += in[u][v][j]
			}
		}
	}
	return out
}

func equalVectors(a, b [][]uint64) bool {
	return slices.EqualFunc(a, b, func(x, y []uint64) bool { return slices.Equal(x, y) })
}

func mustPlan(t testing.TB, p Params) *Plan {
	t.Helper()
	pl, err := p.Plan()
	if err != nil {
		t.Fatal(err)
	}
	return pl
}
