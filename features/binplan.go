package features

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/fedscore/fedscore/datasets"
)

// PlanVersion is the version of the BinPlan layout.
const PlanVersion = 1

// Binning defaults, used where BinConfig leaves a field 0.
const (
	DefaultBins         = 10
	DefaultTolerance    = 0.005
	DefaultMaxRounds    = 6
	DefaultSubdivisions = 16
	DefaultMinBinShare  = 0.02
)

// BinConfig configures federated quantile binning of numeric features.
type BinConfig struct {
	// Bins is the number of equal-frequency bins wanted per numeric
	// feature (missing values get a bin of their own besides).
	Bins int `json:"bins"`
	// Tolerance is the largest acceptable distance between a cut's
	// cumulative share of the present values and its target i/Bins. Every
	// bin's share is then within 2·Tolerance of 1/Bins, unless a single
	// value holds more rows than that (an atom, such as the zero balances
	// of a credit file); a cut is then put at the atom's edge, the closest
	// any cut can come.
	Tolerance float64 `json:"tolerance"`
	// MaxRounds caps the counting rounds. If a feature has not met
	// Tolerance by then, its cuts are the best the last round's
	// candidates allow and it is marked Approximate.
	MaxRounds int `json:"max_rounds"`
	// Subdivisions is how many parts an interval that straddles a target
	// quantile is cut into for the next round.
	Subdivisions int `json:"subdivisions"`
	// MinBinShare is the smallest share of present values a final numeric
	// bin may hold; no cut is placed that would make a smaller bin. A
	// negative value disables the rule.
	MinBinShare float64 `json:"min_bin_share"`
}

func (c BinConfig) withDefaults() (BinConfig, error) {
	if c.Bins < 0 || c.MaxRounds < 0 || c.Subdivisions < 0 {
		return c, fmt.Errorf("features: negative bin configuration %+v", c)
	}
	if !(c.Tolerance >= 0 && c.Tolerance < 0.5) || !(c.MinBinShare < 0.5) || math.IsNaN(c.MinBinShare) {
		return c, fmt.Errorf("features: bin tolerance %v or minimum share %v out of range", c.Tolerance, c.MinBinShare)
	}
	if c.Bins == 0 {
		c.Bins = DefaultBins
	}
	if c.Tolerance == 0 {
		c.Tolerance = DefaultTolerance
	}
	if c.MaxRounds == 0 {
		c.MaxRounds = DefaultMaxRounds
	}
	if c.Subdivisions == 0 {
		c.Subdivisions = DefaultSubdivisions
	}
	if c.Subdivisions < 2 {
		c.Subdivisions = 2
	}
	if c.MinBinShare == 0 {
		c.MinBinShare = DefaultMinBinShare
	}
	if c.MinBinShare < 0 {
		c.MinBinShare = 0
	}
	return c, nil
}

// BinPlan is what the coordinator sends participants for one counting
// round: per feature, the candidate cut points (numeric) or the vocabulary
// (categorical). It fixes the layout of the count vector, so everyone knows
// its length (Len) before counting. It is plain data (JSON).
//
// Bins of a numeric feature with candidate edges e_0 < ... < e_{m-1} are
// [-Inf, e_0), [e_0, e_1), ..., [e_{m-1}, +Inf) (left-closed, as numpy's
// digitize and sklearn's KBinsDiscretizer), then the missing bin: m+2 bins.
// Bins of a categorical feature are its categories in order, then "other"
// (values not in the vocabulary), then missing: len(Categories)+2 bins.
//
// The count vector holds, feature after feature, bin after bin, one count
// per class: entry Offsets()[j] + b·Classes + k counts rows of class k in
// bin b of feature j.
type BinPlan struct {
	Version  int           `json:"version"`
	Round    int           `json:"round"` // counting round, from 1
	Classes  int           `json:"classes"`
	Config   BinConfig     `json:"config"`
	Features []PlanFeature `json:"features"`
}

// PlanFeature is one feature of a BinPlan.
type PlanFeature struct {
	Name        string `json:"name"`
	Categorical bool   `json:"categorical,omitempty"`
	// Integer marks a numeric column whose values are all integers (Int
	// or Bool at every participant); its edges sit at half-integers.
	Integer bool `json:"integer,omitempty"`
	// Scale is the column's standard deviation from the moments step; it
	// sets the step when a search must extend beyond the outer edges.
	Scale      float64   `json:"scale,omitempty"`
	Edges      []float64 `json:"edges,omitempty"`
	Categories []string  `json:"categories,omitempty"`
	// Final marks edges that are the final cuts (categorical features
	// are always final): later rounds count them unchanged.
	Final bool `json:"final,omitempty"`
	// Approximate marks final cuts that did not meet the tolerance within
	// MaxRounds.
	Approximate bool `json:"approximate,omitempty"`
}

// NumBins is the number of bins of f, the missing bin included.
func (f PlanFeature) NumBins() int {
	if f.Categorical {
		return len(f.Categories) + 2
	}
	return len(f.Edges) + 2
}

// Len is the length of the count vector for p.
func (p *BinPlan) Len() int {
	n := 0
	for _, f := range p.Features {
		n += f.NumBins() * p.Classes
	}
	return n
}

// Offsets returns where each feature's block starts in the count vector.
func (p *BinPlan) Offsets() []int {
	off := make([]int, len(p.Features))
	n := 0
	for j, f := range p.Features {
		off[j] = n
		n += f.NumBins() * p.Classes
	}
	return off
}

// Validate checks that p is well formed: known version, at least two
// classes, unique feature names, strictly increasing finite edges, unique
// categories.
func (p *BinPlan) Validate() error {
	if p == nil {
		return errors.New("features: nil bin plan")
	}
	if p.Version != PlanVersion {
		return fmt.Errorf("features: bin plan version %d, want %d", p.Version, PlanVersion)
	}
	if p.Classes < 2 {
		return fmt.Errorf("features: bin plan has %d classes, want at least 2", p.Classes)
	}
	if _, err := p.Config.withDefaults(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, f := range p.Features {
		if f.Name == "" || seen[f.Name] {
			return fmt.Errorf("features: bin plan feature %q is empty or repeated", f.Name)
		}
		seen[f.Name] = true
		if err := checkEdges(f.Edges); err != nil {
			return fmt.Errorf("features: bin plan feature %q: %w", f.Name, err)
		}
		if f.Categorical && len(f.Edges) > 0 {
			return fmt.Errorf("features: bin plan feature %q is categorical and has edges", f.Name)
		}
		cats := map[string]bool{}
		for _, c := range f.Categories {
			if cats[c] {
				return fmt.Errorf("features: bin plan feature %q lists category %q twice", f.Name, c)
			}
			cats[c] = true
		}
	}
	return nil
}

func checkEdges(e []float64) error {
	for i, v := range e {
		if !finite(v) {
			return fmt.Errorf("edge %d is %v", i, v)
		}
		if i > 0 && !(v > e[i-1]) {
			return fmt.Errorf("edges not strictly increasing at %d", i)
		}
	}
	return nil
}

// NewBinPlan is the coordinator's step after discovery and moments: it
// builds the plan of the first counting round.
//
// descs are the participants' Descriptions (in any order; may be empty if
// every categorical feature declares its Categories, in which case no
// numeric feature is known to be integer-valued). moments is the sum of the
// participants' ColumnMoments vectors. classes is 2 for a binary label.
//
// A feature is categorical if its spec says so or any participant holds it
// as a String column; its vocabulary is the declared Categories, else the
// sorted union of the proposals. A numeric feature is integer-valued if
// every participant holds it as Int or Bool.
//
// The first candidate edges of a numeric feature with mean μ and standard
// deviation σ (over present values) are: a core grid μ + σ·z for z in
// [-4, 4] in steps of 1/8, which by Chebyshev's inequality brackets every
// decile; tails at μ ± {5, 6, 8, 12, 16, 24, 32, 64, ..., 1024}σ; and a
// signed log ladder 0, ±σ·2^-k for k = 0..30 that resolves values
// concentrated near zero whatever their scale, as in heavy-tailed amounts
// where a few huge values inflate σ. Integer features snap every edge to a
// half-integer and, when the core spans at most 4·Subdivisions integers,
// get a cut between every pair of integers in it, which resolves codes and
// counts (payment status, number of products) in the first round. Where
// the variance is below 1e-12 of the mean square (a constant, or a small
// spread on a large offset such as timestamps) σ is taken as at least
// 10^-6·|μ|; a constant is then proven a single atom by refinement and gets
// one value bin. A feature with no present value, or only zeros, has no
// edges and is final at once.
func NewBinPlan(specs []FeatureSpec, descs []Description, moments []float64, classes int, cfg BinConfig) (*BinPlan, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if classes < 2 {
		return nil, fmt.Errorf("features: %d classes, want at least 2", classes)
	}
	d := len(specs)
	if len(moments) != MomentsLen(d) {
		return nil, fmt.Errorf("features: moments vector has length %d, want %d", len(moments), MomentsLen(d))
	}
	for _, ds := range descs {
		if len(ds.Features) != d {
			return nil, fmt.Errorf("features: description has %d features, want %d", len(ds.Features), d)
		}
	}
	p := &BinPlan{Version: PlanVersion, Round: 1, Classes: classes, Config: cfg, Features: make([]PlanFeature, d)}
	for j, s := range specs {
		f := PlanFeature{Name: s.Name, Categorical: s.Categorical || len(s.Categories) > 0, Integer: len(descs) > 0}
		for _, ds := range descs {
			ci := ds.Features[j]
			if ci.Name != s.Name {
				return nil, fmt.Errorf("features: description names feature %d %q, want %q", j, ci.Name, s.Name)
			}
			switch ci.Kind {
			case datasets.String:
				f.Categorical = true
			case datasets.Float:
				f.Integer = false
			}
		}
		if f.Categorical {
			f.Integer, f.Final = false, true
			if len(s.Categories) > 0 {
				f.Categories = slices.Clone(s.Categories)
			} else {
				for _, ds := range descs {
					f.Categories = append(f.Categories, ds.Features[j].Categories...)
				}
				slices.Sort(f.Categories)
				f.Categories = slices.Compact(f.Categories)
			}
			p.Features[j] = f
			continue
		}
		n, sum, sq := moments[j], moments[d+j], moments[2*d+j]
		if !(n >= 0) || math.IsNaN(sum) || math.IsNaN(sq) {
			return nil, fmt.Errorf("features: moments of feature %q are invalid (%v, %v, %v)", s.Name, n, sum, sq)
		}
		f.Edges, f.Scale = initialEdges(n, sum, sq, f.Integer, cfg)
		f.Final = len(f.Edges) == 0
		p.Features[j] = f
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// initialEdges places the first candidate edges from the moments.
func initialEdges(n, sum, sq float64, integer bool, cfg BinConfig) (edges []float64, scale float64) {
	if n == 0 {
		return nil, 0
	}
	mu := sum / n
	meanSq := sq / n
	v := meanSq - mu*mu
	sigma := math.Sqrt(max(v, 0))
	if v <= constantTol*meanSq {
		// Constant as far as the moments can tell, or a small spread on
		// a large offset (timestamps): search on a scale of a millionth
		// of the value; a true constant is then proven atomic in a round
		// or two and gets one bin.
		sigma = max(sigma, 1e-6*math.Abs(mu))
		if sigma == 0 {
			return nil, 0 // every value is 0
		}
	}
	if !finite(mu) || !finite(sigma) || sigma == 0 {
		// The sums overflowed: fall back to a log ladder over the whole
		// float range, which refinement narrows down.
		for k := -64; k <= 1020; k += 4 {
			x := math.Ldexp(1, k)
			edges = append(edges, -x, x)
		}
		edges = append(edges, 0)
		return normalizeEdges(edges, integer), 1
	}
	for z := -32; z <= 32; z++ {
		edges = append(edges, nice(mu+sigma*float64(z)/8, sigma/8))
	}
	for _, z := range []float64{5, 6, 8, 12, 16, 24, 32, 64, 128, 256, 512, 1024} {
		edges = append(edges, nice(mu-sigma*z, sigma), nice(mu+sigma*z, sigma))
	}
	edges = append(edges, 0)
	for k := 0; k <= 30; k++ {
		x := math.Ldexp(sigma, -k)
		edges = append(edges, nice(-x, x/4), nice(x, x/4))
	}
	if integer {
		lo, hi := math.Floor(mu-4*sigma), math.Ceil(mu+4*sigma)
		if hi-lo <= float64(4*cfg.Subdivisions) {
			for x := lo - 0.5; x <= hi+0.5; x++ {
				edges = append(edges, x)
			}
		}
	}
	return normalizeEdges(edges, integer), sigma
}

// normalizeEdges drops non-finite edges, snaps integer features' edges to
// half-integers, sorts and removes duplicates.
func normalizeEdges(e []float64, integer bool) []float64 {
	out := e[:0]
	for _, v := range e {
		if !finite(v) {
			continue
		}
		if integer {
			v = snapHalf(v)
		}
		out = append(out, v)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// nice rounds x to a round number no further than step/4 away, so that
// candidate edges, and hence the final cuts a risk analyst reads, are
// numbers like 2400 or 0.35 rather than 2417.3318. Any candidate is as good
// as another nearby; only the counts at the edges matter.
func nice(x, step float64) float64 {
	step = math.Abs(step)
	if !(step > 0) || !finite(x) || !finite(step) {
		return x
	}
	e := int(math.Floor(math.Log10(step / 2)))
	if e < -300 || e > 300 {
		return x
	}
	if e >= 0 {
		q := math.Pow10(e)
		r := math.Round(x/q) * q
		if finite(r) {
			return r
		}
		return x
	}
	r, err := strconv.ParseFloat(strconv.FormatFloat(x, 'f', -e, 64), 64)
	if err != nil || !finite(r) {
		return x
	}
	return r
}

// snapHalf moves x to the half-integer at or below it, k+0.5 with
// k = floor(x) unless x is itself a half-integer. Beyond 2^51 every float
// is an integer or half-integer already, and x is returned as is.
func snapHalf(x float64) float64 {
	if math.Abs(x) >= 1<<51 {
		return x
	}
	f := math.Floor(x)
	if x-f == 0.5 {
		return x
	}
	if x-f > 0.5 {
		return f + 0.5
	}
	return f - 0.5
}

// featureTotals returns, for feature j of p, the total count over classes
// of each value bin (len(edges)+1 for numeric) followed by the missing bin.
func featureTotals(p *BinPlan, j int, block []float64) []float64 {
	k := p.Classes
	nb := p.Features[j].NumBins()
	tot := make([]float64, nb)
	for b := range nb {
		for c := range k {
			tot[b] += block[b*k+c]
		}
	}
	return tot
}

// cutSearch is the state of one numeric feature's search after a counting
// round: its candidate edges, the cumulative count of present values below
// each, and the total.
type cutSearch struct {
	edges   []float64
	tot     []float64 // per value bin, len(edges)+1
	cum     []float64 // cum[i]: present values below edges[i]
	n       float64
	integer bool
	scale   float64
	cfg     BinConfig
}

func newCutSearch(f PlanFeature, tot []float64, cfg BinConfig) *cutSearch {
	m := len(f.Edges)
	s := &cutSearch{edges: f.Edges, tot: tot[:m+1], cum: make([]float64, m), integer: f.Integer, scale: f.Scale, cfg: cfg}
	var c float64
	for i := range m {
		c += tot[i]
		s.cum[i] = c
	}
	s.n = c + tot[m]
	return s
}

// share is the cumulative share below edge i.
func (s *cutSearch) share(i int) float64 { return s.cum[i] / s.n }

// atomic reports whether value bin v cannot be usefully split: it holds at
// most one integer, or is narrower than 1e-9 of its magnitude.
func (s *cutSearch) atomic(v int) bool {
	m := len(s.edges)
	if v == 0 || v == m {
		return false
	}
	a, b := s.edges[v-1], s.edges[v]
	if s.integer {
		return b-a <= 1
	}
	return b-a <= 1e-9*max(math.Abs(a), math.Abs(b), s.scale)
}

// pending returns the value bins that straddle a target quantile that no
// edge meets within the tolerance and that can still be split.
func (s *cutSearch) pending() []int {
	if s.n == 0 {
		return nil
	}
	B := s.cfg.Bins
	var out []int
	for i := 1; i < B; i++ {
		t := float64(i) / float64(B)
		// The first edge whose share reaches t; the value bin before it
		// straddles t.
		v, _ := slices.BinarySearchFunc(s.cum, t, func(c, t float64) int {
			if c/s.n < t {
				return -1
			}
			return 1
		})
		near := false
		if v < len(s.edges) && s.share(v)-t <= s.cfg.Tolerance {
			near = true
		}
		if v > 0 && t-s.share(v-1) <= s.cfg.Tolerance {
			near = true
		}
		if near || s.atomic(v) {
			continue
		}
		if len(out) == 0 || out[len(out)-1] != v {
			out = append(out, v)
		}
	}
	return out
}

// refine returns the next round's candidate edges: the current ones less
// those inside runs of empty bins, plus a subdivision of every pending bin.
func (s *cutSearch) refine(pending []int) []float64 {
	m := len(s.edges)
	var out []float64
	for i, e := range s.edges {
		if s.tot[i] == 0 && s.tot[i+1] == 0 && i > 0 && i < m-1 {
			continue
		}
		out = append(out, e)
	}
	S := s.cfg.Subdivisions
	w := s.scale
	if !(w > 0) {
		w = 1
	}
	for _, v := range pending {
		switch {
		case m == 0:
			out = append(out, 0)
		case v == 0:
			b := s.edges[0]
			for k := 1; k <= 8; k++ {
				step := max(w, math.Abs(b)) * math.Ldexp(1, 2*k)
				out = append(out, nice(b-step, step/2))
			}
		case v == m:
			a := s.edges[m-1]
			for k := 1; k <= 8; k++ {
				step := max(w, math.Abs(a)) * math.Ldexp(1, 2*k)
				out = append(out, nice(a+step, step/2))
			}
		default:
			a, b := s.edges[v-1], s.edges[v]
			switch {
			case s.integer && b-a <= float64(4*S):
				for x := a + 1; x < b; x++ {
					out = append(out, x)
				}
			case a > 0 && b/a > 16:
				r := math.Pow(b/a, 1/float64(S))
				for k := 1; k < S; k++ {
					x := a * math.Pow(b/a, float64(k)/float64(S))
					out = append(out, nice(x, x*(1-1/r)))
				}
			case b < 0 && a/b > 16:
				r := math.Pow(a/b, 1/float64(S))
				for k := 1; k < S; k++ {
					x := b * math.Pow(a/b, float64(k)/float64(S))
					out = append(out, nice(x, x*(1-1/r)))
				}
			default:
				step := (b - a) / float64(S)
				for k := 1; k < S; k++ {
					out = append(out, nice(a+step*float64(k), step))
				}
				out = append(out, s.probes(a, b)...)
			}
		}
	}
	return normalizeEdges(out, s.integer)
}

// probes returns edges that isolate the round numbers inside [a, b): the
// multiples of the largest power of ten that fits (and of a tenth of it
// when there are few). A value held by many rows (an atom: a credit limit
// of 50000, a count of 1) is almost always such a number, and a uniform
// subdivision only shrinks the bin around it S-fold per round; a probe
// proves it atomic in one. An integer feature's probe r gets the edges
// r ± 0.5, a real one's r and r + (b-a)·2^-32.
func (s *cutSearch) probes(a, b float64) []float64 {
	w := b - a
	if !(w > 0) || !finite(w) {
		return nil
	}
	e := int(math.Floor(math.Log10(w)))
	var out []float64
	for level := range 2 {
		q := e - level
		if level == 1 && w >= 2*math.Pow10(e) {
			break
		}
		if s.integer && q < 0 {
			break
		}
		if q < -300 || q > 300 {
			break
		}
		step := math.Pow10(q)
		k0, k1 := math.Ceil(a/step), math.Floor(b/step)
		if !(k1-k0 < 64) {
			continue
		}
		for k := k0; k <= k1; k++ {
			r := k * step
			if q < 0 {
				r, _ = strconv.ParseFloat(strconv.FormatFloat(r, 'f', -q, 64), 64)
			}
			if !(r >= a && r < b) {
				continue
			}
			if s.integer {
				out = append(out, r-0.5, r+0.5)
			} else {
				out = append(out, r, r+math.Ldexp(w, -32)) // r == a repeats an edge: harmless
			}
		}
	}
	return out
}

// cutRun is a run of consecutive candidate edges with the same cumulative
// count (the bins between them are empty).
type cutRun struct {
	first, last int
	share       float64
}

// selectCuts chooses the final cuts among the candidates: for each target
// i/Bins in turn, the candidate nearest to it whose cumulative share is
// above the previous cut's, leaving at least MinBinShare in the new bin and
// after it. Within a run of edges with equal counts the cut is the run's
// midpoint (snapped to a half-integer for integer features), so it sits in
// the middle of an empty gap. idx[u] is the candidate edge whose
// cumulative count the cut u shares.
func (s *cutSearch) selectCuts() (cuts []float64, idx []int) {
	if s.n == 0 || len(s.edges) == 0 {
		return nil, nil
	}
	var runs []cutRun
	for i := range s.edges {
		if len(runs) > 0 && s.cum[i] == s.cum[runs[len(runs)-1].first] {
			runs[len(runs)-1].last = i
			continue
		}
		runs = append(runs, cutRun{first: i, last: i, share: s.share(i)})
	}
	B := s.cfg.Bins
	minShare := s.cfg.MinBinShare
	prev := 0.0
	for i := 1; i < B; i++ {
		t := float64(i) / float64(B)
		if t <= prev {
			continue
		}
		best := -1
		for r, run := range runs {
			f := run.share
			if f <= prev || f >= 1 || f-prev < minShare || 1-f < minShare {
				continue
			}
			if best < 0 || math.Abs(f-t) < math.Abs(runs[best].share-t) {
				best = r
			}
		}
		if best < 0 {
			break
		}
		run := runs[best]
		lo, hi := s.edges[run.first], s.edges[run.last]
		c := lo
		if hi > lo {
			c = nice((lo+hi)/2, (hi-lo)/2)
			if s.integer {
				c = snapHalf(c)
			}
			if !(c >= lo && c <= hi) {
				c = lo
			}
		}
		cuts = append(cuts, c)
		idx = append(idx, run.first)
		prev = run.share
	}
	return cuts, idx
}

// Refine is the coordinator's step after a counting round: from the summed
// counts of plan p it returns the plan of the next round, or done = true
// when p's counts are final and go to FitPipeline.
//
// A numeric feature has converged when every target quantile i/Bins is met
// within Tolerance by some candidate edge, or lies inside a bin that cannot
// be split (one integer value, or narrower than 1e-9 of its magnitude).
// Converged features become final with their chosen cuts, which later
// rounds count unchanged. Every bin straddling an unmet target is cut into
// Subdivisions parts (at every half-integer for integer features, on a log
// scale where the bin spans more than a factor of 16, and outward in
// powers of 4 beyond the outer edges). Counting is done after round
// MaxRounds whatever happens.
func Refine(p *BinPlan, counts []float64) (next *BinPlan, done bool, err error) {
	if err := p.Validate(); err != nil {
		return nil, false, err
	}
	if err := checkCounts(counts, p.Len()); err != nil {
		return nil, false, err
	}
	cfg, _ := p.Config.withDefaults()
	if p.Round >= cfg.MaxRounds {
		return nil, true, nil
	}
	off := p.Offsets()
	nf := make([]PlanFeature, len(p.Features))
	more := false
	for j, f := range p.Features {
		nf[j] = f
		if f.Final || f.Categorical {
			continue
		}
		s := newCutSearch(f, featureTotals(p, j, counts[off[j]:]), cfg)
		pend := s.pending()
		if len(pend) == 0 {
			cuts, _ := s.selectCuts()
			nf[j].Edges, nf[j].Final = cuts, true
			continue
		}
		more = true
		nf[j].Edges = s.refine(pend)
	}
	if !more {
		return nil, true, nil
	}
	next = &BinPlan{Version: PlanVersion, Round: p.Round + 1, Classes: p.Classes, Config: p.Config, Features: nf}
	if err := next.Validate(); err != nil {
		return nil, false, err
	}
	return next, false, nil
}

// checkCounts validates a summed count vector.
func checkCounts(v []float64, n int) error {
	if len(v) != n {
		return fmt.Errorf("features: count vector has length %d, want %d", len(v), n)
	}
	for i, c := range v {
		if !(c >= 0) || math.IsInf(c, 1) {
			return fmt.Errorf("features: count %v at %d is not a finite non-negative number", c, i)
		}
	}
	return nil
}

// String summarises the plan, e.g. for logs: round, vector length and the
// number of candidate edges per numeric feature.
func (p *BinPlan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "bin plan round %d, %d classes, %d counts:", p.Round, p.Classes, p.Len())
	for _, f := range p.Features {
		if f.Categorical {
			fmt.Fprintf(&b, " %s[%d cats]", f.Name, len(f.Categories))
		} else {
			fin := ""
			if f.Final {
				fin = " final"
			}
			fmt.Fprintf(&b, " %s[%d edges%s]", f.Name, len(f.Edges), fin)
		}
	}
	return b.String()
}
