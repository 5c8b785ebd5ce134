package features

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/fedscore/fedscore/datasets"
)

// FeatureSpec names one input column of a binned model, as the job
// declares it. Both sides of the binning protocol take the same list.
type FeatureSpec struct {
	Name string `json:"name"`
	// Categorical bins the column by value instead of by range. String
	// columns are always categorical; set it for Int codes (an education
	// level, a region code) whose order means nothing.
	Categorical bool `json:"categorical,omitempty"`
	// Categories, if set, is the fixed vocabulary of a categorical column.
	// Discovery (Describe) is then not needed for it, and its values
	// never leave a participant, even as names.
	Categories []string `json:"categories,omitempty"`
}

// ErrMissingFeature is returned when a table lacks a feature column.
var ErrMissingFeature = errors.New("features: feature column not found")

// Description is what a participant tells the coordinator about its
// columns before binning (the discovery step): each column's kind and, for
// categorical columns without a declared vocabulary, the values it holds in
// at least minRows rows. It carries names, never counts or rows, and is not
// summable: the coordinator takes the union (NewBinPlan). A category held
// by fewer than minRows rows at every participant is never named; its rows
// fall into the "other" bin.
type Description struct {
	Features []ColumnInfo `json:"features"`
}

// ColumnInfo describes one feature column at one participant.
type ColumnInfo struct {
	Name       string        `json:"name"`
	Kind       datasets.Kind `json:"kind"`
	Categories []string      `json:"categories,omitempty"`
}

// DefaultDiscoveryRows is the discovery threshold Describe uses when
// minRows is 0: every category a participant holds is proposed, so the
// vocabulary is the union of all categories and the federated pipeline
// equals the pooled one. Rare categories are still merged into "other",
// but by their summed counts (FitPipeline), which is where that decision
// belongs. Raise it where category names are themselves sensitive (a rare
// employer's name, say): a category no participant holds minRows times is
// then never named and its rows count as "other", and the pipeline can
// differ from the pooled one in that respect.
const DefaultDiscoveryRows = 1

// Describe is the participant's discovery step. minRows 0 means
// DefaultDiscoveryRows. A missing feature column is an error wrapping
// ErrMissingFeature.
func Describe(t *datasets.Table, specs []FeatureSpec, minRows int) (Description, error) {
	if t == nil {
		return Description{}, errors.New("features: nil table")
	}
	if minRows <= 0 {
		minRows = DefaultDiscoveryRows
	}
	d := Description{Features: make([]ColumnInfo, len(specs))}
	for j, s := range specs {
		c := t.Column(s.Name)
		if c == nil {
			return Description{}, fmt.Errorf("%w: %q", ErrMissingFeature, s.Name)
		}
		info := ColumnInfo{Name: s.Name, Kind: c.Kind}
		if (s.Categorical || c.Kind == datasets.String) && len(s.Categories) == 0 {
			counts := map[string]int{}
			for i := range c.Len() {
				if v, ok := categoryValue(c, i); ok {
					counts[v]++
				}
			}
			for v, n := range counts {
				if n >= minRows {
					info.Categories = append(info.Categories, v)
				}
			}
			slices.Sort(info.Categories)
		}
		d.Features[j] = info
	}
	return d, nil
}

// categoryValue returns the text of row i of c as a category, and false if
// it is missing (null, or NaN in a numeric column).
func categoryValue(c *datasets.Column, i int) (string, bool) {
	if c.IsNull(i) {
		return "", false
	}
	if c.Kind == datasets.String {
		return c.String[i], true
	}
	if !finite(c.Float[i]) {
		return "", false
	}
	return c.Format(i), true
}

// numericValue returns row i of a numeric column and false if it is
// missing: null, NaN or ±Inf (non-finite values are treated as missing
// everywhere in binning).
func numericValue(c *datasets.Column, i int) (float64, bool) {
	if c.IsNull(i) {
		return 0, false
	}
	v := c.Float[i]
	return v, finite(v)
}

// MomentsLen returns the length of a ColumnMoments vector for d features.
func MomentsLen(d int) int { return 3 * d }

// ColumnMoments is the participant's moments step: for each feature, the
// number of present values and their sum and sum of squares, laid out as
// [count_1..count_d | sum_1..sum_d | sumsq_1..sumsq_d] (MomentsLen(d)).
// Missing values (null, NaN, ±Inf) are left out; categorical and String
// columns contribute zeros. The vectors of disjoint row sets add. The
// counts are exact integers; the sums are reals. The coordinator uses them
// only to place the first candidate cut points (NewBinPlan), so rounding
// or fixed-point error in the sums costs at most an extra refinement
// round, never a wrong bin.
func ColumnMoments(t *datasets.Table, specs []FeatureSpec) ([]float64, error) {
	if t == nil {
		return nil, errors.New("features: nil table")
	}
	d := len(specs)
	v := make([]float64, MomentsLen(d))
	for j, s := range specs {
		c := t.Column(s.Name)
		if c == nil {
			return nil, fmt.Errorf("%w: %q", ErrMissingFeature, s.Name)
		}
		if s.Categorical || c.Kind == datasets.String {
			continue
		}
		var n, sum, comp, sq, compSq float64
		for i := range c.Len() {
			x, ok := numericValue(c, i)
			if !ok {
				continue
			}
			n++
			sum, comp = neumaier(sum, comp, x)
			sq, compSq = neumaier(sq, compSq, x*x)
		}
		v[j], v[d+j], v[2*d+j] = n, sum+comp, sq+compSq
		if !finite(v[2*d+j]) { // x² overflowed: the grid needs only a rough scale
			v[2*d+j] = math.MaxFloat64
		}
	}
	return v, nil
}
