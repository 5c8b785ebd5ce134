package features

import (
	"errors"
	"fmt"
	"math"

	"github.com/fedscore/fedscore/datasets"
)

// Derived declares a feature computed row by row from numeric columns of
// the same row, such as a utilisation BILL/LIMIT. Each participant derives
// it locally before binning, and a Pipeline that lists it derives it again
// at scoring, so it needs no federation of its own.
//
// Ops: "ratio" (Inputs[0]/Inputs[1]), "diff" (Inputs[0]-Inputs[1]), and,
// over any number of inputs, "sum", "mean", "min", "max" and
// "count_positive" (how many inputs are > 0). The result is missing when
// any input is missing, when a ratio's denominator is 0, or when it is not
// finite; missing values have their own bin, so the model learns what a
// zero denominator means.
type Derived struct {
	Name   string   `json:"name"`
	Op     string   `json:"op"`
	Inputs []string `json:"inputs"`
}

func (d Derived) validate() error {
	if d.Name == "" {
		return errors.New("features: derived feature without a name")
	}
	switch d.Op {
	case "ratio", "diff":
		if len(d.Inputs) != 2 {
			return fmt.Errorf("features: derived %q: %s takes 2 inputs, have %d", d.Name, d.Op, len(d.Inputs))
		}
	case "sum", "mean", "min", "max", "count_positive":
		if len(d.Inputs) == 0 {
			return fmt.Errorf("features: derived %q: %s needs inputs", d.Name, d.Op)
		}
	default:
		return fmt.Errorf("features: derived %q: unknown op %q", d.Name, d.Op)
	}
	return nil
}

// Derive returns t with the derived columns appended (nulls where
// missing; Int for counts and for sums, differences, minima and maxima of
// integer columns, Float otherwise), in order; a derived feature may use earlier ones. t is not
// modified; the result shares its columns. A derived column whose name is
// already in t is an error, as is a missing or String input.
func Derive(t *datasets.Table, defs []Derived) (*datasets.Table, error) {
	if t == nil {
		return nil, errors.New("features: nil table")
	}
	if len(defs) == 0 {
		return t, nil
	}
	out := &datasets.Table{Columns: append([]*datasets.Column(nil), t.Columns...)}
	n := t.Rows()
	for _, d := range defs {
		if err := d.validate(); err != nil {
			return nil, err
		}
		if out.Column(d.Name) != nil {
			return nil, fmt.Errorf("features: derived %q: a column of that name exists", d.Name)
		}
		in := make([]*datasets.Column, len(d.Inputs))
		for i, name := range d.Inputs {
			c := out.Column(name)
			if c == nil {
				return nil, fmt.Errorf("%w: %q (input of derived %q)", ErrMissingFeature, name, d.Name)
			}
			if c.Kind == datasets.String {
				return nil, fmt.Errorf("features: derived %q: input %q is a String column", d.Name, name)
			}
			if c.Len() != n {
				return nil, fmt.Errorf("features: derived %q: input %q has %d rows, table %d", d.Name, name, c.Len(), n)
			}
			in[i] = c
		}
		col := &datasets.Column{Name: d.Name, Kind: d.kind(in), Float: make([]float64, n)}
		xs := make([]float64, len(in))
		for i := range n {
			ok := true
			for k, c := range in {
				xs[k], ok = numericValue(c, i)
				if !ok {
					break
				}
			}
			v := math.NaN()
			if ok {
				v = d.apply(xs)
			}
			if !finite(v) {
				if col.Null == nil {
					col.Null = make([]bool, n)
				}
				col.Null[i] = true
				v = math.NaN()
			}
			col.Float[i] = v
		}
		out.Columns = append(out.Columns, col)
	}
	return out, nil
}

// kind is Int for counts, and for sums, differences, minima and maxima of
// integer columns (so they are binned between integers); Float otherwise.
func (d Derived) kind(in []*datasets.Column) datasets.Kind {
	switch d.Op {
	case "count_positive":
		return datasets.Int
	case "sum", "diff", "min", "max":
		for _, c := range in {
			if c.Kind != datasets.Int && c.Kind != datasets.Bool {
				return datasets.Float
			}
		}
		return datasets.Int
	}
	return datasets.Float
}

func (d Derived) apply(x []float64) float64 {
	switch d.Op {
	case "ratio":
		if x[1] == 0 {
			return math.NaN()
		}
		return x[0] / x[1]
	case "diff":
		return x[0] - x[1]
	case "sum", "mean":
		var s float64
		for _, v := range x {
			s += v
		}
		if d.Op == "mean" {
			s /= float64(len(x))
		}
		return s
	case "min", "max":
		r := x[0]
		for _, v := range x[1:] {
			if d.Op == "min" {
				r = min(r, v)
			} else {
				r = max(r, v)
			}
		}
		return r
	case "count_positive":
		var c float64
		for _, v := range x {
			if v > 0 {
				c++
			}
		}
		return c
	}
	return math.NaN()
}
