package secagg

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

// TestHararyTable: k and t as tabulated in design/secure-aggregation.md (from
// fcp's graph-parameter finder; δ = 0.3, security 2^-40, failure 2^-20).
func TestHararyTable(t *testing.T) {
	type kt struct{ k, t int }
	table := []struct {
		threat Threat
		gamma  float64
		want   [5]kt // n = 100, 200, 500, 1000, 10^4
	}{
		{SemiHonest, 0.05, [5]kt{{26, 6}, {38, 11}, {58, 20}, {66, 23}, {80, 29}}},
		{SemiHonest, 0.10, [5]kt{{34, 11}, {54, 21}, {76, 31}, {88, 36}, {108, 44}}},
		{SemiMalicious, 0.05, [5]kt{{66, 36}, {116, 64}, {212, 119}, {314, 179}, {522, 299}}},
	}
	for _, row := range table {
		for i, n := range []int{100, 200, 500, 1000, 10000} {
			k, th, err := HararyParams(n, 0.3, row.gamma, row.threat)
			if err != nil || k != row.want[i].k || th != row.want[i].t {
				t.Errorf("%v γ=%v n=%d: k=%d t=%d (%v), want %d/%d", row.threat, row.gamma, n, k, th, err, row.want[i].k, row.want[i].t)
			}
		}
	}
	// Between columns the next larger one applies.
	if k, th, _ := HararyParams(201, 0.3, 0.05, SemiHonest); k != 58 || th != 20 {
		t.Errorf("n=201: %d/%d, want 58/20", k, th)
	}
	for _, bad := range []struct {
		n            int
		delta, gamma float64
		threat       Threat
	}{{10001, 0.3, 0.05, SemiHonest}, {500, 0.2, 0.05, SemiHonest}, {500, 0.3, 0.07, SemiHonest}, {500, 0.3, 0.10, SemiMalicious}} {
		if _, _, err := HararyParams(bad.n, bad.delta, bad.gamma, bad.threat); !errors.Is(err, ErrParams) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}

func TestPlanDefaults(t *testing.T) {
	cases := []struct {
		n                 int
		graph             GraphKind
		k, t, minSurvivor int
	}{
		{2, GraphComplete, 1, 2, 2},
		{3, GraphComplete, 2, 3, 3},
		{10, GraphComplete, 9, 7, 7},
		{100, GraphComplete, 99, 70, 70}, // table: complete graph t = 70
		{200, GraphComplete, 199, 140, 140},
		{201, GraphHarary, 58, 20, 141},
		{500, GraphHarary, 58, 20, 350},
		{1000, GraphHarary, 66, 23, 700},
	}
	for _, c := range cases {
		pl := mustPlan(t, Params{Job: "j", Participants: ids(c.n), VectorLens: []int{1}})
		if pl.Graph != c.graph || pl.Degree != c.k || pl.Threshold != c.t || pl.MinSurvivors != c.minSurvivor {
			t.Errorf("n=%d: %v k=%d t=%d min=%d, want %v %d/%d/%d", c.n, pl.Graph, pl.Degree, pl.Threshold, pl.MinSurvivors, c.graph, c.k, c.t, c.minSurvivor)
		}
	}
	// ⌈(1−δ)n⌉ computed exactly, where float products are not.
	for n := 1; n <= 2000; n++ {
		for _, tenths := range []int{1, 2, 3, 4, 5} {
			want := n - (n*tenths)/10 // n − ⌊δn⌋ = ⌈(1−δ)n⌉
			if got := ceilFrac(n, float64(tenths)/10); got != want {
				t.Fatalf("ceilFrac(%d, 0.%d) = %d, want %d", n, tenths, got, want)
			}
		}
	}
}

func TestPlanValidation(t *testing.T) {
	ok := Params{Job: "j", Participants: ids(10), VectorLens: []int{4}}
	cases := map[string]func(p *Params){
		"no job":            func(p *Params) { p.Job = "" },
		"one participant":   func(p *Params) { p.Participants = ids(1) },
		"duplicate id":      func(p *Params) { p.Participants[3] = p.Participants[2] },
		"empty id":          func(p *Params) { p.Participants[3] = "" },
		"no vectors":        func(p *Params) { p.VectorLens = nil },
		"empty vector":      func(p *Params) { p.VectorLens = []int{0} },
		"threshold 1":       func(p *Params) { p.Threshold = 1 },
		"threshold > k+1":   func(p *Params) { p.Threshold = 11 },
		"odd degree":        func(p *Params) { p.Graph, p.Degree, p.Threshold = GraphHarary, 3, 2 },
		"degree n":          func(p *Params) { p.Graph, p.Degree, p.Threshold = GraphHarary, 10, 2 },
		"complete degree":   func(p *Params) { p.Degree = 4 },
		"dropout 1":         func(p *Params) { p.Dropout = 1 },
		"negative override": func(p *Params) { p.MinSurvivors = -1 },
		"min > n":           func(p *Params) { p.MinSurvivors = 11 },
		"harary small n":    func(p *Params) { p.Graph = GraphHarary }, // k = 26 from the table > n−1
		"unknown graph":     func(p *Params) { p.Graph = 9 },
	}
	for name, edit := range cases {
		p := ok
		p.Participants = slices.Clone(ok.Participants)
		edit(&p)
		if _, err := p.Plan(); !errors.Is(err, ErrParams) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := ok.Plan(); err != nil {
		t.Fatal(err)
	}
}

// TestHararyGraph: every participant has exactly k neighbours, adjacency is
// symmetric and agrees with Neighbours, and the graph depends on job, round
// and the set U but not on how U is listed.
func TestHararyGraph(t *testing.T) {
	p := Params{Job: "g", Round: 5, Participants: ids(300), VectorLens: []int{1}}
	pl := mustPlan(t, p)
	if pl.Graph != GraphHarary || pl.Degree != 58 {
		t.Fatalf("plan %v k=%d", pl.Graph, pl.Degree)
	}
	for u := range uint32(pl.N) {
		nb := pl.Neighbours(u)
		if len(nb) != pl.Degree || !slices.IsSorted(nb) || slices.Contains(nb, u) {
			t.Fatalf("N(%d) = %v", u, nb)
		}
		for v := range uint32(pl.N) {
			if pl.Adjacent(u, v) != slices.Contains(nb, v) || pl.Adjacent(u, v) != pl.Adjacent(v, u) {
				t.Fatalf("adjacency of %d and %d inconsistent", u, v)
			}
		}
		if h := pl.Holders(u); len(h) != pl.Degree+1 || !slices.Contains(h, u) {
			t.Fatalf("holders of %d: %v", u, h)
		}
	}
	edges := func(p Params) map[[2]string]bool {
		pl := mustPlan(t, p)
		e := map[[2]string]bool{}
		for u := range uint32(pl.N) {
			for _, v := range pl.Neighbours(u) {
				a, b := p.Participants[u], p.Participants[v]
				if a > b {
					a, b = b, a
				}
				e[[2]string{a, b}] = true
			}
		}
		return e
	}
	base := edges(p)
	shuffled := p
	shuffled.Participants = slices.Clone(p.Participants)
	slices.Reverse(shuffled.Participants)
	if !mapsEqual(base, edges(shuffled)) {
		t.Error("graph depends on the listing order of U")
	}
	next := p
	next.Round++
	if mapsEqual(base, edges(next)) {
		t.Error("graph did not change with the round")
	}
	other := p
	other.Job = "h"
	if mapsEqual(base, edges(other)) {
		t.Error("graph did not change with the job")
	}
}

func mapsEqual(a, b map[[2]string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// TestHararyRingKnownAnswer pins the shuffle, so that a change in it (which
// would split a federation running mixed versions) cannot pass unnoticed.
func TestHararyRingKnownAnswer(t *testing.T) {
	pl := mustPlan(t, Params{Job: "kat", Round: 1, Participants: ids(12), VectorLens: []int{1}, Graph: GraphHarary, Degree: 4, Threshold: 3})
	got := fmt.Sprint(pl.ring)
	const want = "[7 9 10 8 2 1 11 6 3 4 0 5]" // recorded from this implementation (v1)
	if got != want {
		t.Fatalf("ring = %s, want %s", got, want)
	}
}
