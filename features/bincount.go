package features

import (
	"errors"
	"fmt"
	"sort"

	"github.com/fedscore/fedscore/datasets"
)

// CountBins is the participant's counting step: for plan p, the number of
// rows of each class in each bin of each feature, as one vector of length
// p.Len() laid out as BinPlan describes. labels holds each row's class,
// 0..p.Classes-1 (0/1 for a binary label). Vectors of disjoint row sets add,
// so the coordinator can sum them under secure aggregation; every entry is
// a non-negative integer count.
//
// A participant whose rows hold one class only counts them like any other;
// missing values (null, NaN, ±Inf) fall in the missing bin; a categorical
// value not in the vocabulary falls in "other". A missing feature column is
// an error wrapping ErrMissingFeature, and a numeric feature held as a
// String column is an error.
func CountBins(t *datasets.Table, labels []float64, p *BinPlan) ([]float64, error) {
	if t == nil {
		return nil, errors.New("features: nil table")
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	n := t.Rows()
	if err := checkLabels(labels, n, p.Classes); err != nil {
		return nil, err
	}
	out := make([]float64, p.Len())
	off := p.Offsets()
	k := p.Classes
	bins := make([]int, n)
	for j, f := range p.Features {
		c := t.Column(f.Name)
		if c == nil {
			return nil, fmt.Errorf("%w: %q", ErrMissingFeature, f.Name)
		}
		if c.Len() != n {
			return nil, fmt.Errorf("features: column %q has %d rows, table %d", f.Name, c.Len(), n)
		}
		var err error
		if f.Categorical {
			err = assignCategories(c, f.Categories, identityBins(len(f.Categories)), len(f.Categories), len(f.Categories)+1, bins)
		} else {
			err = assignNumeric(c, f.Edges, len(f.Edges)+1, bins)
		}
		if err != nil {
			return nil, err
		}
		block := out[off[j]:]
		for i, b := range bins {
			block[b*k+int(labels[i])]++
		}
	}
	return out, nil
}

func identityBins(n int) []int {
	b := make([]int, n)
	for i := range b {
		b[i] = i
	}
	return b
}

// assignNumeric writes the bin of each row of c into bins: the number of
// edges at or below the value (left-closed bins), or missing for a missing
// value.
func assignNumeric(c *datasets.Column, edges []float64, missing int, bins []int) error {
	if c.Kind == datasets.String {
		return fmt.Errorf("features: numeric feature %q is a String column", c.Name)
	}
	for i := range bins {
		x, ok := numericValue(c, i)
		if !ok {
			bins[i] = missing
			continue
		}
		bins[i] = sort.Search(len(edges), func(k int) bool { return edges[k] > x })
	}
	return nil
}

// assignCategories writes the bin of each row of c into bins: catBin of its
// category, other for a value not in cats, missing for a missing value.
// Numeric columns are matched by their text (Column.Format).
func assignCategories(c *datasets.Column, cats []string, catBin []int, other, missing int, bins []int) error {
	index := make(map[string]int, len(cats))
	for i, v := range cats {
		index[v] = catBin[i]
	}
	for i := range bins {
		v, ok := categoryValue(c, i)
		if !ok {
			bins[i] = missing
			continue
		}
		b, ok := index[v]
		if !ok {
			b = other
		}
		bins[i] = b
	}
	return nil
}
