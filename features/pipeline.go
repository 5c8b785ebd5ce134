package features

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/fedscore/fedscore/datasets"
	"gonum.org/v1/gonum/mat"
)

// PipelineVersion is the version of the Pipeline layout: 2 added cross
// characteristics (BinnedFeature.Cross). Pipelines without them keep
// version PipelineVersion1, so readers of version 1 still read them;
// ParsePipeline accepts both and rejects any other.
const PipelineVersion = 2

// Encoding is how a Pipeline turns bins into model inputs.
type Encoding string

// Encodings.
const (
	// WOE gives one column per selected feature holding its bin's weight
	// of evidence: the input of a logistic scorecard.
	WOE Encoding = "woe"
	// OneHot gives one 0/1 column per selected feature and bin with
	// training rows: the input of a softmax model.
	OneHot Encoding = "onehot"
)

// Pipeline defaults, used where PipelineConfig leaves a field 0.
const (
	DefaultSmoothing        = 0.5
	DefaultMinCategoryRows  = 10
	DefaultMinCategoryShare = 0.002
)

// ErrOneClass is returned by FitPipeline when the summed counts of a binary
// label hold a single class: weights of evidence need both.
var ErrOneClass = errors.New("features: binning: the label has a single class in all rows")

// PipelineConfig configures FitPipeline.
type PipelineConfig struct {
	// Encoding is WOE or OneHot; "" means WOE for a binary label and
	// OneHot otherwise.
	Encoding Encoding `json:"encoding"`
	// Smoothing is α, the pseudo-rows added to every bin, split between
	// the classes in the overall class proportions, before weights of
	// evidence are taken (see WOEIV). 0 means DefaultSmoothing; it must
	// be positive, since α = 0 gives infinite WOE to a bin without bads.
	Smoothing float64 `json:"smoothing"`
	// Monotone merges adjacent numeric bins until the event rate is
	// monotone across them (binary labels only), in whichever direction
	// keeps more information value.
	Monotone bool `json:"monotone"`
	// MinIV deselects features whose information value is below it (0.02
	// is the usual "not predictive" line). 0 keeps every feature.
	MinIV float64 `json:"min_iv"`
	// A category is kept as its own bin only if it has at least
	// max(MinCategoryRows, MinCategoryShare·present rows) rows in the
	// summed counts; rarer ones merge into "other". 0 means the defaults;
	// negative disables the rule.
	MinCategoryRows  float64 `json:"min_category_rows"`
	MinCategoryShare float64 `json:"min_category_share"`
	// Derived lists the derived features the participants computed (with
	// Derive) before binning; the Pipeline records them and derives them
	// again whenever it reads a table that lacks them.
	Derived []Derived `json:"derived,omitempty"`
	// Crosses configures the segment crosses of a binary WOE pipeline
	// (see CrossConfig, PlanCrosses and AddCrosses); they are on unless
	// Crosses.Segmenters is negative.
	Crosses CrossConfig `json:"crosses,omitzero"`
}

// Pipeline is a fitted binning transform: plain data (JSON) that travels
// with the model, so that training and scoring, at any participant, turn a
// table into the same matrix.
type Pipeline struct {
	Version   int             `json:"version"`
	Encoding  Encoding        `json:"encoding"`
	Classes   int             `json:"classes"`
	Smoothing float64         `json:"smoothing"`
	Derived   []Derived       `json:"derived,omitempty"`
	Features  []BinnedFeature `json:"features"`
}

// BinnedFeature is one feature of a Pipeline.
//
// A numeric feature's bins are [-Inf, Cuts[0]), ..., [Cuts[last], +Inf),
// then missing. A categorical feature's bins are its Categories in order,
// then "other", then missing. A cross characteristic (Cross set) has the
// bins of its feature, then one for the rows outside its segment.
//
// Scoring rules: a missing value (null, NaN, ±Inf) takes the missing bin;
// a category never seen in training, or merged as rare, takes the "other"
// bin. A bin without training rows (the missing bin of a column that had no
// missing values, an "other" bin nothing fell into) has WOE exactly 0, the
// population average: no evidence either way.
type BinnedFeature struct {
	Name        string    `json:"name"`
	Categorical bool      `json:"categorical,omitempty"`
	Integer     bool      `json:"integer,omitempty"`
	Cuts        []float64 `json:"cuts,omitempty"`
	Categories  []string  `json:"categories,omitempty"`
	// Merged lists the categories counted but merged into "other" as rare.
	Merged []string `json:"merged,omitempty"`
	Bins   []Bin    `json:"bins"`
	// IV is the information value. For more than two classes it is the
	// mean over present classes of the one-versus-rest values.
	IV float64 `json:"iv"`
	// Selected features are the model's inputs (IV at least MinIV).
	Selected bool `json:"selected"`
	// Column is the WOE column of a selected feature, -1 otherwise.
	Column int `json:"column"`
	// Monotone is "increasing" or "decreasing" (event rate with the
	// value) when bins were merged to make it so.
	Monotone string `json:"monotone,omitempty"`
	// Approximate marks cuts that missed the tolerance (see BinConfig).
	Approximate bool `json:"approximate,omitempty"`
	// Cross makes the feature a cross characteristic: another feature's
	// bins inside one segment (see Cross and AddCrosses). Its IV is then
	// the information value inside the segment.
	Cross *Cross `json:"cross,omitempty"`
}

// Bin is one bin of a BinnedFeature.
type Bin struct {
	Label string `json:"label"`
	// Counts holds the training rows of each class in the bin.
	Counts []float64 `json:"counts"`
	// WOE is ln(share of class-0 rows / share of class-1 rows), smoothed
	// (binary labels; 0 otherwise): positive means fewer events (defaults)
	// than average.
	WOE float64 `json:"woe"`
	// Column is the one-hot column of the bin, -1 if none.
	Column int `json:"column"`
}

// Total returns the bin's training rows.
func (b Bin) Total() float64 {
	var s float64
	for _, c := range b.Counts {
		s += c
	}
	return s
}

// OtherBin is the index of the "other" bin of a categorical feature, -1
// for a numeric one.
func (f *BinnedFeature) OtherBin() int {
	if !f.Categorical {
		return -1
	}
	return len(f.Categories)
}

// MissingBin is the index of the missing bin: the last, or for a cross
// characteristic the last before the outside bin.
func (f *BinnedFeature) MissingBin() int {
	if f.Cross != nil {
		return len(f.Bins) - 2
	}
	return len(f.Bins) - 1
}

func (f *BinnedFeature) valueBins() int {
	if f.Cross != nil {
		return len(f.Bins) - 2
	}
	if f.Categorical {
		return len(f.Categories) + 1
	}
	return len(f.Cuts) + 1
}

func (c PipelineConfig) withDefaults(classes int) (PipelineConfig, error) {
	switch c.Encoding {
	case "":
		c.Encoding = OneHot
		if classes == 2 {
			c.Encoding = WOE
		}
	case WOE:
		if classes != 2 {
			return c, fmt.Errorf("features: WOE encoding needs a binary label, have %d classes", classes)
		}
	case OneHot:
	default:
		return c, fmt.Errorf("features: unknown encoding %q", c.Encoding)
	}
	if !(c.Smoothing >= 0) || math.IsInf(c.Smoothing, 0) {
		return c, fmt.Errorf("features: smoothing %v is not a finite non-negative number", c.Smoothing)
	}
	if c.Smoothing == 0 {
		c.Smoothing = DefaultSmoothing
	}
	if math.IsNaN(c.MinIV) || math.IsNaN(c.MinCategoryRows) || math.IsNaN(c.MinCategoryShare) {
		return c, errors.New("features: NaN in pipeline configuration")
	}
	if _, err := c.Crosses.withDefaults(); err != nil {
		return c, err
	}
	if c.MinCategoryRows == 0 {
		c.MinCategoryRows = DefaultMinCategoryRows
	}
	if c.MinCategoryShare == 0 {
		c.MinCategoryShare = DefaultMinCategoryShare
	}
	return c, nil
}

// FitPipeline is the coordinator's last binning step: from the final plan
// and its summed counts (Refine said done) it chooses the cuts of features
// still searching, merges candidate bins into final bins, merges rare
// categories into "other", optionally merges bins to a monotone event rate,
// computes WOE and IV, selects features by IV and numbers the output
// columns. Counts add exactly, so summed per-participant counts give the
// same Pipeline as counts of the pooled rows.
//
// It returns ErrOneClass if a binary label has one class in all rows.
func FitPipeline(p *BinPlan, counts []float64, c PipelineConfig) (*Pipeline, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := checkCounts(counts, p.Len()); err != nil {
		return nil, err
	}
	c, err := c.withDefaults(p.Classes)
	if err != nil {
		return nil, err
	}
	if len(p.Features) == 0 {
		return nil, errors.New("features: no features to bin")
	}
	cfg, _ := p.Config.withDefaults()
	K := p.Classes
	off := p.Offsets()
	for _, d := range c.Derived {
		if err := d.validate(); err != nil {
			return nil, err
		}
	}
	out := &Pipeline{Version: PipelineVersion1, Encoding: c.Encoding, Classes: K, Smoothing: c.Smoothing, Derived: c.Derived}
	classTot := make([]float64, K)
	for j, f := range p.Features {
		block := counts[off[j] : off[j]+f.NumBins()*K]
		cell := func(b, k int) float64 { return block[b*K+k] }
		bf := BinnedFeature{Name: f.Name, Categorical: f.Categorical, Integer: f.Integer, Approximate: f.Approximate, Column: -1}
		var bins [][]float64 // per final bin, per class
		add := func(dst []float64, b int) {
			for k := range K {
				dst[k] += cell(b, k)
			}
		}
		if f.Categorical {
			nc := len(f.Categories)
			var present float64
			for b := range nc + 1 {
				for k := range K {
					present += cell(b, k)
				}
			}
			minRows := max(c.MinCategoryRows, c.MinCategoryShare*present)
			other := make([]float64, K)
			add(other, nc)
			for i, name := range f.Categories {
				row := make([]float64, K)
				add(row, i)
				if n := sum(row); n > 0 && n >= minRows {
					bf.Categories = append(bf.Categories, name)
					bins = append(bins, row)
				} else {
					if sum(row) > 0 {
						bf.Merged = append(bf.Merged, name)
					}
					for k := range K {
						other[k] += row[k]
					}
				}
			}
			bins = append(bins, other)
		} else {
			m := len(f.Edges)
			cuts, idx := f.Edges, identityBins(m)
			if !f.Final {
				s := newCutSearch(f, featureTotals(p, j, block), cfg)
				cuts, idx = s.selectCuts()
				bf.Approximate = len(s.pending()) > 0
			}
			bf.Cuts = append([]float64(nil), cuts...)
			lo := 0
			for u := 0; u <= len(idx); u++ {
				hi := m
				if u < len(idx) {
					hi = idx[u]
				}
				row := make([]float64, K)
				for v := lo; v <= hi; v++ {
					add(row, v)
				}
				bins = append(bins, row)
				lo = hi + 1
			}
		}
		missing := make([]float64, K)
		add(missing, f.NumBins()-1)
		bins = append(bins, missing)
		if j == 0 {
			for _, row := range bins {
				for k := range K {
					classTot[k] += row[k]
				}
			}
		}
		if K == 2 && c.Monotone && !f.Categorical && len(bins) > 2 {
			bins, bf.Cuts, bf.Monotone = monotoneMerge(bins, bf.Cuts, c.Smoothing)
		}
		bf.Bins = make([]Bin, len(bins))
		for b, row := range bins {
			bf.Bins[b] = Bin{Counts: row, Column: -1}
		}
		out.Features = append(out.Features, bf)
	}
	if K == 2 && (classTot[0] == 0 || classTot[1] == 0) {
		return nil, ErrOneClass
	}
	col := 0
	for j := range out.Features {
		f := &out.Features[j]
		f.labelBins()
		f.IV = f.computeWOE(K, c.Smoothing)
		f.Selected = f.IV >= c.MinIV
		if !f.Selected {
			continue
		}
		switch c.Encoding {
		case WOE:
			f.Column = col
			col++
		case OneHot:
			for b := range f.Bins {
				if f.Bins[b].Total() > 0 {
					f.Bins[b].Column = col
					col++
				}
			}
		}
	}
	if err := out.Validate(); err != nil {
		return nil, err
	}
	return out, nil
}

func sum(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s
}

// WOEIV returns the weight of evidence of each bin and the information
// value, from per-bin counts of goods (class 0, non-events) and bads
// (class 1, events), with additive smoothing alpha > 0:
//
//	g'_b = g_b + α(1-p), d'_b = d_b + α·p, where p = D/(G+D),
//	WOE_b = ln( (g'_b/ΣG') / (d'_b/ΣD') ),
//	IV    = Σ_b (g'_b/ΣG' - d'_b/ΣD')·WOE_b.
//
// The pseudo-rows follow the overall class mix, so a bin with no rows gets
// WOE exactly 0 (no evidence), a bin with goods and no bads a large but
// finite WOE, and IV is never negative. G and D must both be positive
// (otherwise every WOE is 0 and IV 0).
func WOEIV(good, bad []float64, alpha float64) (woe []float64, iv float64) {
	woe = make([]float64, len(good))
	G, D := sum(good), sum(bad)
	if !(G > 0 && D > 0) || !(alpha > 0) {
		return woe, 0
	}
	p := D / (G + D)
	nb := float64(len(good))
	Gs, Ds := G+alpha*(1-p)*nb, D+alpha*p*nb
	for b := range good {
		if good[b]+bad[b] == 0 {
			continue
		}
		gs := (good[b] + alpha*(1-p)) / Gs
		ds := (bad[b] + alpha*p) / Ds
		woe[b] = math.Log(gs / ds)
		iv += (gs - ds) * woe[b]
	}
	return woe, max(iv, 0)
}

// computeWOE fills the bins' WOE (binary) and returns the IV.
func (f *BinnedFeature) computeWOE(K int, alpha float64) float64 {
	nb := len(f.Bins)
	if K == 2 {
		good, bad := make([]float64, nb), make([]float64, nb)
		for b, bin := range f.Bins {
			good[b], bad[b] = bin.Counts[0], bin.Counts[1]
		}
		woe, iv := WOEIV(good, bad, alpha)
		for b := range f.Bins {
			f.Bins[b].WOE = woe[b]
		}
		return iv
	}
	var ivSum float64
	var present int
	for k := range K {
		rest, one := make([]float64, nb), make([]float64, nb)
		for b, bin := range f.Bins {
			one[b] = bin.Counts[k]
			rest[b] = bin.Total() - bin.Counts[k]
		}
		if sum(one) == 0 {
			continue
		}
		_, iv := WOEIV(rest, one, alpha)
		ivSum += iv
		present++
	}
	if present == 0 {
		return 0
	}
	return ivSum / float64(present)
}

// monotoneMerge merges adjacent value bins (all but the last, missing,
// bin) by pool-adjacent-violators until the event rate strictly increases,
// or strictly decreases, across them, and keeps the direction with the
// larger IV (increasing on a tie). Empty bins merge into a neighbour.
func monotoneMerge(bins [][]float64, cuts []float64, alpha float64) ([][]float64, []float64, string) {
	value := bins[:len(bins)-1]
	missing := bins[len(bins)-1]
	try := func(inc bool) ([][]float64, []float64, float64) {
		groups := pava(value, inc)
		var nb [][]float64
		var nc []float64
		for g, r := range groups {
			row := make([]float64, 2)
			for v := r[0]; v <= r[1]; v++ {
				row[0] += value[v][0]
				row[1] += value[v][1]
			}
			nb = append(nb, row)
			if g < len(groups)-1 {
				nc = append(nc, cuts[r[1]])
			}
		}
		nb = append(nb, missing)
		good, bad := make([]float64, len(nb)), make([]float64, len(nb))
		for b, row := range nb {
			good[b], bad[b] = row[0], row[1]
		}
		_, iv := WOEIV(good, bad, alpha)
		return nb, nc, iv
	}
	ib, ic, iiv := try(true)
	db, dc, div := try(false)
	if div > iiv {
		return db, dc, "decreasing"
	}
	return ib, ic, "increasing"
}

// pava groups consecutive bins (rows of [goods, bads]) so that the event
// rate is strictly increasing (inc) or decreasing across groups. It
// returns each group's first and last bin.
func pava(bins [][]float64, inc bool) [][2]int {
	type block struct {
		bad, n      float64
		first, last int
	}
	violates := func(a, b block) bool {
		if a.n == 0 || b.n == 0 {
			return true
		}
		ra, rb := a.bad/a.n, b.bad/b.n
		if inc {
			return ra >= rb
		}
		return ra <= rb
	}
	var st []block
	for v, row := range bins {
		st = append(st, block{bad: row[1], n: row[0] + row[1], first: v, last: v})
		for len(st) >= 2 && violates(st[len(st)-2], st[len(st)-1]) {
			a, b := st[len(st)-2], st[len(st)-1]
			st = st[:len(st)-2]
			st = append(st, block{bad: a.bad + b.bad, n: a.n + b.n, first: a.first, last: b.last})
		}
	}
	out := make([][2]int, len(st))
	for i, b := range st {
		out[i] = [2]int{b.first, b.last}
	}
	return out
}

// labelBins writes human-readable labels for the bins.
func (f *BinnedFeature) labelBins() {
	nv := f.valueBins()
	for b := range f.Bins {
		switch {
		case b == nv:
			f.Bins[b].Label = "(missing)"
		case f.Categorical && b == len(f.Categories):
			f.Bins[b].Label = "(other)"
		case f.Categorical:
			f.Bins[b].Label = f.Categories[b]
		default:
			f.Bins[b].Label = numericLabel(f.Cuts, b, f.Integer)
		}
	}
}

// fmtNum renders a cut for a label, to 8 significant digits (the cut
// itself is exact in Cuts); adding 0 turns -0 into 0.
func fmtNum(x float64) string { return strconv.FormatFloat(x+0, 'g', 8, 64) }

func numericLabel(cuts []float64, u int, integer bool) string {
	n := len(cuts)
	if n == 0 {
		return "all values"
	}
	if integer {
		lo, hi := 0.0, 0.0
		if u > 0 {
			lo = math.Ceil(cuts[u-1])
		}
		if u < n {
			hi = math.Ceil(cuts[u]) - 1
		}
		switch {
		case u == 0:
			return "<= " + fmtNum(hi)
		case u == n:
			return ">= " + fmtNum(lo)
		case lo == hi:
			return fmtNum(lo)
		default:
			return fmtNum(lo) + " to " + fmtNum(hi)
		}
	}
	switch {
	case u == 0:
		return "< " + fmtNum(cuts[0])
	case u == n:
		return ">= " + fmtNum(cuts[n-1])
	default:
		return "[" + fmtNum(cuts[u-1]) + ", " + fmtNum(cuts[u]) + ")"
	}
}

// Validate checks that p is well formed and can transform tables: known
// version and encoding, bins consistent with cuts or categories, finite
// non-negative counts, finite WOE, and output columns numbered 0..n-1 once
// each.
func (p *Pipeline) Validate() error {
	if p == nil {
		return errors.New("features: nil pipeline")
	}
	if p.Version != PipelineVersion && p.Version != PipelineVersion1 {
		return fmt.Errorf("features: pipeline version %d, want %d or %d", p.Version, PipelineVersion1, PipelineVersion)
	}
	if p.Classes < 2 {
		return fmt.Errorf("features: pipeline has %d classes", p.Classes)
	}
	if p.Encoding != WOE && p.Encoding != OneHot {
		return fmt.Errorf("features: pipeline encoding %q", p.Encoding)
	}
	seen := map[string]bool{}
	for _, d := range p.Derived {
		if err := d.validate(); err != nil {
			return err
		}
	}
	cols := map[int]bool{}
	useCol := func(c int) error {
		if c < 0 {
			return nil
		}
		if cols[c] {
			return fmt.Errorf("features: pipeline column %d used twice", c)
		}
		cols[c] = true
		return nil
	}
	for j := range p.Features {
		f := &p.Features[j]
		if f.Name == "" || seen[f.Name] {
			return fmt.Errorf("features: pipeline feature %q is empty or repeated", f.Name)
		}
		seen[f.Name] = true
		if err := checkEdges(f.Cuts); err != nil {
			return fmt.Errorf("features: pipeline feature %q: %w", f.Name, err)
		}
		if f.Categorical && len(f.Cuts) > 0 {
			return fmt.Errorf("features: pipeline feature %q is categorical and has cuts", f.Name)
		}
		if f.Cross != nil {
			if err := p.validateCross(f); err != nil {
				return err
			}
		} else if len(f.Bins) != f.valueBins()+1 {
			return fmt.Errorf("features: pipeline feature %q has %d bins, want %d", f.Name, len(f.Bins), f.valueBins()+1)
		}
		if !finite(f.IV) {
			return fmt.Errorf("features: pipeline feature %q has IV %v", f.Name, f.IV)
		}
		if f.Column >= 0 && (p.Encoding != WOE || !f.Selected) {
			return fmt.Errorf("features: pipeline feature %q has a WOE column but is not a selected WOE feature", f.Name)
		}
		if p.Encoding == WOE && f.Selected && f.Column < 0 {
			return fmt.Errorf("features: pipeline feature %q is selected without a column", f.Name)
		}
		if err := useCol(f.Column); err != nil {
			return err
		}
		for b, bin := range f.Bins {
			if len(bin.Counts) != p.Classes {
				return fmt.Errorf("features: pipeline feature %q bin %d has %d counts", f.Name, b, len(bin.Counts))
			}
			for _, c := range bin.Counts {
				if !(c >= 0) || math.IsInf(c, 1) {
					return fmt.Errorf("features: pipeline feature %q bin %d has count %v", f.Name, b, c)
				}
			}
			if !finite(bin.WOE) {
				return fmt.Errorf("features: pipeline feature %q bin %d has WOE %v", f.Name, b, bin.WOE)
			}
			if bin.Column >= 0 && (p.Encoding != OneHot || !f.Selected) {
				return fmt.Errorf("features: pipeline feature %q bin %d has a one-hot column but is not a selected one-hot feature", f.Name, b)
			}
			if err := useCol(bin.Column); err != nil {
				return err
			}
		}
	}
	for c := range len(cols) {
		if !cols[c] {
			return fmt.Errorf("features: pipeline columns are not numbered 0..%d", len(cols)-1)
		}
	}
	return nil
}

// ParsePipeline decodes a Pipeline from JSON and validates it.
func ParsePipeline(data []byte) (*Pipeline, error) {
	var p Pipeline
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("features: pipeline: %w", err)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// NumColumns returns the number of columns Transform produces.
func (p *Pipeline) NumColumns() int {
	n := 0
	for _, f := range p.Features {
		if f.Column >= 0 {
			n++
		}
		for _, b := range f.Bins {
			if b.Column >= 0 {
				n++
			}
		}
	}
	return n
}

// Columns names Transform's columns: the feature name for WOE, and
// "feature=bin label" for one-hot.
func (p *Pipeline) Columns() []string {
	names := make([]string, p.NumColumns())
	for _, f := range p.Features {
		if f.Column >= 0 {
			names[f.Column] = f.Name
		}
		for _, b := range f.Bins {
			if b.Column >= 0 {
				names[b.Column] = f.Name + "=" + b.Label
			}
		}
	}
	return names
}

// Selected returns the indexes, in Features, of the selected features.
func (p *Pipeline) Selected() []int {
	var out []int
	for j, f := range p.Features {
		if f.Selected {
			out = append(out, j)
		}
	}
	return out
}

// Feature returns the feature with the given name, or nil.
func (p *Pipeline) Feature(name string) *BinnedFeature {
	for j := range p.Features {
		if p.Features[j].Name == name {
			return &p.Features[j]
		}
	}
	return nil
}

// Prepare returns t with the pipeline's derived features that t lacks
// appended (see Derive); t itself if it lacks none.
func (p *Pipeline) Prepare(t *datasets.Table) (*datasets.Table, error) {
	if t == nil {
		return nil, errors.New("features: nil table")
	}
	var need []Derived
	for _, d := range p.Derived {
		if t.Column(d.Name) == nil {
			need = append(need, d)
		}
	}
	return Derive(t, need)
}

// AssignFeature returns the bin of every row of t for feature j. t must
// hold the derived features already (see Prepare); Assign and Transform
// prepare it themselves. A cross characteristic reads its feature's and
// its segmenter's columns.
func (p *Pipeline) AssignFeature(t *datasets.Table, j int) ([]int, error) {
	if t == nil {
		return nil, errors.New("features: nil table")
	}
	if j < 0 || j >= len(p.Features) {
		return nil, fmt.Errorf("features: no feature %d", j)
	}
	need := make([]bool, len(p.Features))
	need[j] = true
	bins, err := p.assign(t, need)
	if err != nil {
		return nil, err
	}
	return bins[j], nil
}

// assignColumn bins the column of a feature that is not a cross.
func (f *BinnedFeature) assignColumn(t *datasets.Table) ([]int, error) {
	c := t.Column(f.Name)
	if c == nil {
		return nil, fmt.Errorf("%w: %q", ErrMissingFeature, f.Name)
	}
	bins := make([]int, c.Len())
	if f.Categorical {
		return bins, assignCategories(c, f.Categories, identityBins(len(f.Categories)), f.OtherBin(), f.MissingBin(), bins)
	}
	return bins, assignNumeric(c, f.Cuts, f.MissingBin(), bins)
}

// assign returns the bins of the features marked in need (nil for the
// others), binning each column once: a cross characteristic takes its
// feature's bin inside its segment and the outside bin elsewhere.
func (p *Pipeline) assign(t *datasets.Table, need []bool) ([][]int, error) {
	out := make([][]int, len(p.Features))
	var index map[string]int
	plain := func(name string) ([]int, error) {
		if index == nil {
			index = make(map[string]int, len(p.Features))
			for j := range p.Features {
				if p.Features[j].Cross == nil {
					index[p.Features[j].Name] = j
				}
			}
		}
		j, ok := index[name]
		if !ok {
			return nil, fmt.Errorf("features: cross characteristic refers to %q, not a plain feature of the pipeline", name)
		}
		if out[j] == nil {
			b, err := p.Features[j].assignColumn(t)
			if err != nil {
				return nil, err
			}
			out[j] = b
		}
		return out[j], nil
	}
	for j := range p.Features {
		f := &p.Features[j]
		if !need[j] || out[j] != nil {
			continue
		}
		if f.Cross == nil {
			if _, err := plain(f.Name); err != nil {
				return nil, err
			}
			continue
		}
		xb, err := plain(f.Cross.Feature)
		if err != nil {
			return nil, err
		}
		sb, err := plain(f.Cross.Segmenter)
		if err != nil {
			return nil, err
		}
		if len(xb) != len(sb) {
			return nil, fmt.Errorf("features: columns %q and %q have %d and %d rows", f.Cross.Feature, f.Cross.Segmenter, len(xb), len(sb))
		}
		bins := make([]int, len(xb))
		outside := f.OutsideBin()
		for i, b := range xb {
			if sb[i] == f.Cross.Segment {
				bins[i] = b
			} else {
				bins[i] = outside
			}
		}
		out[j] = bins
	}
	for j := range out {
		if !need[j] {
			out[j] = nil
		}
	}
	return out, nil
}

// Assign returns the bins of every row of t for every feature (selected or
// not): out[j][i] is row i's bin in Features[j].
func (p *Pipeline) Assign(t *datasets.Table) ([][]int, error) {
	need := make([]bool, len(p.Features))
	for j := range need {
		need[j] = true
	}
	return p.AssignSome(t, need)
}

// AssignSome is Assign for the features marked in need only (out[j] is nil
// for the others), so that columns of unmarked features may be absent.
func (p *Pipeline) AssignSome(t *datasets.Table, need []bool) ([][]int, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if len(need) != len(p.Features) {
		return nil, fmt.Errorf("features: %d flags for %d features", len(need), len(p.Features))
	}
	t, err := p.Prepare(t)
	if err != nil {
		return nil, err
	}
	return p.assign(t, need)
}

// Transform turns the rows of t into the model's input matrix, with
// NumColumns columns named by Columns: each selected feature's WOE, or its
// one-hot bin indicators. Only the selected features' columns are read
// (for a cross characteristic, its feature's and its segmenter's); others
// may be absent. A bin without a one-hot column (no training rows) gives a
// row of zeros for that feature; a row outside a cross characteristic's
// segment gives 0 in its column.
func (p *Pipeline) Transform(t *datasets.Table) (*mat.Dense, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	t, err := p.Prepare(t)
	if err != nil {
		return nil, err
	}
	n, d := t.Rows(), p.NumColumns()
	if n == 0 || d == 0 {
		return nil, fmt.Errorf("features: cannot transform %d rows into %d columns", n, d)
	}
	X := mat.NewDense(n, d, nil)
	raw := X.RawMatrix()
	need := make([]bool, len(p.Features))
	for j := range p.Features {
		need[j] = p.Features[j].Selected
	}
	all, err := p.assign(t, need)
	if err != nil {
		return nil, err
	}
	for j := range p.Features {
		f := &p.Features[j]
		if !f.Selected {
			continue
		}
		bins := all[j]
		if len(bins) != n {
			return nil, fmt.Errorf("features: column %q has %d rows, table %d", f.Name, len(bins), n)
		}
		for i, b := range bins {
			row := raw.Data[i*raw.Stride:]
			if f.Column >= 0 {
				row[f.Column] = f.Bins[b].WOE
			} else if c := f.Bins[b].Column; c >= 0 {
				row[c] = 1
			}
		}
	}
	return X, nil
}

// BinCountsLen is the length of a BinCounts vector.
func (p *Pipeline) BinCountsLen() int {
	n := 0
	for _, f := range p.Features {
		n += len(f.Bins)
	}
	return n
}

// BinCounts counts the rows of t in each bin of each feature, feature
// after feature (BinCountsLen entries). It needs no labels, so a
// participant can count its scoring population; summed across participants
// and split by SplitBinCounts, it is the "actual" distribution of a
// characteristic stability index (eval.CSI) against TrainingBinCounts.
func (p *Pipeline) BinCounts(t *datasets.Table) ([]float64, error) {
	bins, err := p.Assign(t)
	if err != nil {
		return nil, err
	}
	out := make([]float64, 0, p.BinCountsLen())
	for j, f := range p.Features {
		c := make([]float64, len(f.Bins))
		for _, b := range bins[j] {
			c[b]++
		}
		out = append(out, c...)
	}
	return out, nil
}

// SplitBinCounts splits a BinCounts vector by feature.
func (p *Pipeline) SplitBinCounts(v []float64) ([][]float64, error) {
	if len(v) != p.BinCountsLen() {
		return nil, fmt.Errorf("features: bin count vector has length %d, want %d", len(v), p.BinCountsLen())
	}
	out := make([][]float64, len(p.Features))
	off := 0
	for j, f := range p.Features {
		out[j] = v[off : off+len(f.Bins)]
		off += len(f.Bins)
	}
	return out, nil
}

// TrainingBinCounts returns each feature's training rows per bin.
func (p *Pipeline) TrainingBinCounts() [][]float64 {
	out := make([][]float64, len(p.Features))
	for j, f := range p.Features {
		out[j] = make([]float64, len(f.Bins))
		for b, bin := range f.Bins {
			out[j][b] = bin.Total()
		}
	}
	return out
}

// String renders the binning table: per feature its IV and, per bin, the
// label, rows, event rate and WOE.
func (p *Pipeline) String() string {
	var b strings.Builder
	for _, f := range p.Features {
		sel := ""
		if !f.Selected {
			sel = " (not selected)"
		}
		fmt.Fprintf(&b, "%s IV=%.4f%s\n", f.Name, f.IV, sel)
		for _, bin := range f.Bins {
			n := bin.Total()
			rate := 0.0
			if n > 0 && len(bin.Counts) == 2 {
				rate = bin.Counts[1] / n
			}
			fmt.Fprintf(&b, "  %-24s n=%-7g rate=%.4f woe=%+.4f\n", bin.Label, n, rate, bin.WOE)
		}
	}
	return b.String()
}
