package secagg

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// outcome is what a round should produce, worked out from the plan and the
// dropouts alone, without the Client or Server code: which sets survive each
// phase, and where the round fails if it does.
type outcome struct {
	u1, u2, u3, u4 []uint32
	failPhase      Phase
	failCause      error // nil on success
}

func contains(set []uint32, u uint32) bool { _, ok := slices.BinarySearch(set, u); return ok }

// countIn counts the holders of u that lie in set.
func countIn(pl *Plan, u uint32, set []uint32) int {
	n := 0
	for _, h := range pl.Holders(u) {
		if contains(set, h) {
			n++
		}
	}
	return n
}

func expectOutcome(pl *Plan, drop Dropouts) outcome {
	at := map[uint32]Phase{}
	for ph, us := range drop {
		for _, u := range us {
			at[u] = ph
		}
	}
	silent := func(u uint32, ph Phase) bool { p, ok := at[u]; return ok && p <= ph }
	var o outcome
	t := pl.Threshold
	for u := range uint32(pl.N) {
		if !silent(u, PhaseAdvertiseKeys) {
			o.u1 = append(o.u1, u)
		}
	}
	if len(o.u1) < pl.MinSurvivors {
		o.failPhase, o.failCause = PhaseAdvertiseKeys, ErrTooFewSurvivors
		return o
	}
	// A participant with fewer than t holders in U1 refuses to share.
	for _, u := range o.u1 {
		if !silent(u, PhaseShareKeys) && countIn(pl, u, o.u1) >= t {
			o.u2 = append(o.u2, u)
		}
	}
	if len(o.u2) < pl.MinSurvivors {
		o.failPhase, o.failCause = PhaseShareKeys, ErrTooFewSurvivors
		return o
	}
	// ... and with fewer than t holders in U2 refuses to mask.
	for _, u := range o.u2 {
		if !silent(u, PhaseMaskedInput) && countIn(pl, u, o.u2) >= t {
			o.u3 = append(o.u3, u)
		}
	}
	if len(o.u3) < pl.MinSurvivors {
		o.failPhase, o.failCause = PhaseMaskedInput, ErrTooFewSurvivors
		return o
	}
	for _, u := range o.u2 {
		if countIn(pl, u, o.u3) < t {
			o.failPhase, o.failCause = PhaseMaskedInput, ErrBelowThreshold
			return o
		}
	}
	for _, u := range o.u3 {
		if !silent(u, PhaseUnmasking) {
			o.u4 = append(o.u4, u)
		}
	}
	for _, u := range o.u2 {
		if countIn(pl, u, o.u4) < t {
			o.failPhase, o.failCause = PhaseUnmasking, ErrBelowThreshold
			return o
		}
	}
	return o
}

func minus(a, b []uint32) []uint32 {
	var out []uint32
	for _, u := range a {
		if !contains(b, u) {
			out = append(out, u)
		}
	}
	return out
}

// expectedDropouts lists who dropped in each phase up to the last one
// closed.
func (o outcome) dropouts(n int, last Phase) Dropouts {
	all := make([]uint32, n)
	for i := range all {
		all[i] = uint32(i)
	}
	d := Dropouts{}
	steps := []struct {
		ph         Phase
		prev, this []uint32
	}{{PhaseAdvertiseKeys, all, o.u1}, {PhaseShareKeys, o.u1, o.u2}, {PhaseMaskedInput, o.u2, o.u3}, {PhaseUnmasking, o.u3, o.u4}}
	for _, s := range steps {
		if s.ph > last {
			break
		}
		if m := minus(s.prev, s.this); len(m) > 0 {
			d[s.ph] = m
		}
	}
	return d
}

func sameDropouts(a, b Dropouts) bool {
	for _, ph := range []Phase{PhaseAdvertiseKeys, PhaseShareKeys, PhaseMaskedInput, PhaseUnmasking} {
		if !slices.Equal(a[ph], b[ph]) {
			return false
		}
	}
	return true
}

// randomDropouts silences d random participants at random phases.
func randomDropouts(rng *rand.Rand, n, d int) Dropouts {
	phases := []Phase{PhaseAdvertiseKeys, PhaseShareKeys, PhaseMaskedInput, PhaseUnmasking}
	drop := Dropouts{}
	for _, u := range rng.Perm(n)[:d] {
		ph := phases[rng.IntN(len(phases))]
		drop[ph] = append(drop[ph], uint32(u))
	}
	for ph := range drop {
		slices.Sort(drop[ph])
	}
	return drop
}

// checkRound runs one round and compares it with the expected outcome: on
// success the sum must equal the plain sum over U3 exactly; on failure no
// sum may be released and the error must say where, why and who dropped.
func checkRound(t *testing.T, p Params, drop Dropouts, seed uint64) (succeeded bool) {
	t.Helper()
	return checkRoundOutcome(t, p, drop, seed).failCause == nil
}

func checkRoundOutcome(t *testing.T, p Params, drop Dropouts, seed uint64) outcome {
	t.Helper()
	pl := mustPlan(t, p)
	rng := rand.New(rand.NewPCG(seed, 1))
	in := randomInputs(rng, pl.N, p.VectorLens)
	want := expectOutcome(pl, drop)
	res, err := RunLocal(LocalConfig{Params: p, Inputs: in, Drop: drop, Rand: seeded(seed)})
	desc := fmt.Sprintf("n=%d graph=%v k=%d t=%d min=%d drop={%v}", pl.N, pl.Graph, pl.Degree, pl.Threshold, pl.MinSurvivors, drop)
	if want.failCause == nil {
		if err != nil {
			t.Fatalf("%s: unexpected failure: %v", desc, err)
		}
		if !slices.Equal(res.Survivors, want.u3) {
			t.Fatalf("%s: survivors %v, want %v", desc, res.Survivors, want.u3)
		}
		if !equalVectors(res.Sum, plainSum(in, want.u3, p.VectorLens)) {
			t.Fatalf("%s: unmasked sum differs from the plain sum", desc)
		}
		if !sameDropouts(res.Dropped, want.dropouts(pl.N, PhaseUnmasking)) {
			t.Fatalf("%s: dropouts %v, want %v", desc, res.Dropped, want.dropouts(pl.N, PhaseUnmasking))
		}
		return want
	}
	var re *RoundError
	if !errors.As(err, &re) || !errors.Is(err, ErrRoundFailed) || !errors.Is(err, want.failCause) {
		t.Fatalf("%s: got %v, want a RoundError caused by %v", desc, err, want.failCause)
	}
	if res.Sum != nil {
		t.Fatalf("%s: a sum was released with a failed round", desc)
	}
	if re.Phase != want.failPhase {
		t.Fatalf("%s: failed in %v, want %v (%v)", desc, re.Phase, want.failPhase, err)
	}
	if wd := want.dropouts(pl.N, want.failPhase); !sameDropouts(re.Dropped, wd) {
		t.Fatalf("%s: error reports dropouts %v, want %v", desc, re.Dropped, wd)
	}
	return want
}

// TestSumExactUnderDropouts is the property test: random n ≤ 20, random
// vectors, random dropouts at every phase including unmasking, complete and
// Harary graphs.
func TestSumExactUnderDropouts(t *testing.T) {
	iters := 150
	if testing.Short() {
		iters = 40
	}
	var ok, failed int
	causes := map[string]int{}
	for seed := range uint64(iters) {
		rng := rand.New(rand.NewPCG(seed, 2))
		n := 3 + rng.IntN(18)
		lens := []int{1 + rng.IntN(40)}
		if rng.IntN(2) == 0 {
			lens = append(lens, 1+rng.IntN(10))
		}
		p := Params{Job: "prop", Round: seed, Participants: ids(n), VectorLens: lens}
		if n >= 7 && rng.IntN(3) == 0 {
			// A sparse graph with a low global minimum, so that the
			// per-secret threshold decides.
			p.Graph = GraphHarary
			p.Degree = 2 * (2 + rng.IntN((n-3)/2-1))
			p.Threshold = 2 + rng.IntN(p.Degree/2)
			p.MinSurvivors = 1 + rng.IntN(n/2)
		}
		pl := mustPlan(t, p)
		// Up to a few more dropouts than the round can bear.
		d := rng.IntN(min(n, n-pl.Threshold+3) + 1)
		o := checkRoundOutcome(t, p, randomDropouts(rng, n, d), seed)
		if o.failCause == nil {
			ok++
		} else {
			failed++
			causes[fmt.Sprintf("%v/%v", o.failPhase, o.failCause)]++
		}
	}
	t.Logf("%d rounds succeeded, %d failed as expected: %v", ok, failed, causes)
	if ok < iters/4 || failed < iters/10 || len(causes) < 4 {
		t.Fatalf("poor coverage: %d succeeded, %d failed", ok, failed)
	}
}

// TestEveryDropoutSetAtEveryPhase: for a small complete-graph round, every
// single participant dropping at every phase, and the maximal tolerated
// dropout sets (n − t) at each phase.
func TestEveryDropoutSetAtEveryPhase(t *testing.T) {
	n := 7 // t = ⌈0.7·7⌉ = 5, so up to 2 may drop
	p := Params{Job: "every", Round: 3, Participants: ids(n), VectorLens: []int{16}}
	seed := uint64(0)
	phases := []Phase{PhaseAdvertiseKeys, PhaseShareKeys, PhaseMaskedInput, PhaseUnmasking}
	for _, ph := range phases {
		for u := range uint32(n) {
			seed++
			if !checkRound(t, p, Dropouts{ph: {u}}, seed) {
				t.Fatalf("one dropout at %v failed the round", ph)
			}
		}
	}
	// Every pair, each member at any phase: all must succeed.
	for a := range uint32(n) {
		for b := a + 1; b < uint32(n); b++ {
			for _, pa := range phases {
				for _, pb := range phases {
					seed++
					d := Dropouts{}
					d[pa] = append(d[pa], a)
					d[pb] = append(d[pb], b)
					if !checkRound(t, p, d, seed) {
						t.Fatalf("two dropouts (%d at %v, %d at %v) failed the round", a, pa, b, pb)
					}
				}
			}
		}
	}
	// Three dropouts are one too many, whatever the phases.
	for _, ph := range phases {
		seed++
		if checkRound(t, p, Dropouts{ph: {1, 3, 5}}, seed) {
			t.Fatalf("three dropouts at %v did not fail the round", ph)
		}
	}
	seed++
	if checkRound(t, p, Dropouts{PhaseShareKeys: {0}, PhaseMaskedInput: {2}, PhaseUnmasking: {6}}, seed) {
		t.Fatal("three dropouts across phases did not fail the round")
	}
}

// TestRoundErrorNamesDropouts checks the text the coordinator logs.
func TestRoundErrorNamesDropouts(t *testing.T) {
	n := 10 // t = 7
	p := Params{Job: "names", Round: 1, Participants: ids(n), VectorLens: []int{4}}
	in := randomInputs(rand.New(rand.NewPCG(1, 1)), n, p.VectorLens)
	res, err := RunLocal(LocalConfig{Params: p, Inputs: in, Rand: seeded(1),
		Drop: Dropouts{PhaseAdvertiseKeys: {2}, PhaseMaskedInput: {5}, PhaseUnmasking: {7, 8}}})
	if err == nil {
		t.Fatal("round with 4 of 10 dropped succeeded")
	}
	const want = "secagg: round failed closing unmasking: fewer live share holders than the threshold (have 6, need 7); secrets of [0 1 3 4 5 6 7 8 9] unrecoverable; dropped: advertise-keys [2]; masked-input [5]; unmasking [7 8]"
	if err.Error() != want {
		t.Fatalf("error:\n got %s\nwant %s", err, want)
	}
	if res.Sum != nil {
		t.Fatal("sum released")
	}
}

// TestManyVectorsIndependentMasks: several vectors masked in one round get
// independent masks, so equal inputs do not give equal (or related) outputs.
func TestManyVectorsIndependentMasks(t *testing.T) {
	n, m := 4, 64
	p := Params{Job: "vec", Round: 1, Participants: ids(n), VectorLens: []int{m, m}}
	var masked [][]uint64
	in := make([][][]uint64, n)
	for u := range in {
		x := make([]uint64, m)
		in[u] = [][]uint64{x, x}
	}
	res, err := RunLocal(LocalConfig{Params: p, Inputs: in, Rand: seeded(5), Trace: func(from, to uint32, b []byte) {
		if from == 0 && to == Coordinator {
			if mi, err := Unmarshal(b); err == nil {
				if mi, ok := mi.(*MaskedInput); ok {
					masked = mi.Vectors
				}
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(masked) != 2 {
		t.Fatal("masked input not traced")
	}
	same := 0
	for j := range m {
		if masked[0][j] == masked[1][j] {
			same++
		}
	}
	if same != 0 {
		t.Fatalf("%d words equal across vector-ids with equal inputs: masks reused", same)
	}
	for _, v := range res.Sum {
		for _, w := range v {
			if w != 0 {
				t.Fatal("sum of zero vectors is not zero")
			}
		}
	}
}

// TestLargeRound: 1,000 participants × 10,000 parameters (random Harary
// graph, k = 66, t = 23) completes with 30% dropout.
func TestLargeRound(t *testing.T) {
	if testing.Short() {
		t.Skip("large round skipped in -short")
	}
	if raceEnabled {
		// About 8 s without the race detector, over a minute with it.
		t.Skip("large round skipped under the race detector; run go test -run TestLargeRound without -race")
	}
	n, m := 1000, 10_000
	p := Params{Job: "large", Round: 1, Participants: ids(n), VectorLens: []int{m}, Workers: 2}
	pl := mustPlan(t, p)
	if pl.Graph != GraphHarary || pl.Degree != 66 || pl.Threshold != 23 {
		t.Fatalf("plan %+v", pl)
	}
	rng := rand.New(rand.NewPCG(1000, 1))
	in := randomInputs(rng, n, p.VectorLens)
	drop := Dropouts{}
	for i, u := range rng.Perm(n)[:300] {
		ph := []Phase{PhaseAdvertiseKeys, PhaseShareKeys, PhaseMaskedInput}[i%3]
		drop[ph] = append(drop[ph], uint32(u))
	}
	res, err := RunLocal(LocalConfig{Params: p, Inputs: in, Drop: drop, Rand: seeded(1000)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Survivors) != 700 {
		t.Fatalf("%d survivors", len(res.Survivors))
	}
	if !equalVectors(res.Sum, plainSum(in, res.Survivors, p.VectorLens)) {
		t.Fatal("sum differs from the plain sum")
	}
}
