package datasets

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Schema names the columns of a table that a model uses.
type Schema struct {
	// ID is the optional id column (any kind; rendered to string). Its
	// values must be present and distinct.
	ID string
	// Label is the binary label column: Int, Float or Bool with values 0
	// and 1. Empty means the table has no label, as for a partner's columns
	// in vertical federation; the Frame's Y is then nil.
	Label string
	// Features are the model's input columns, in order. Empty means every
	// numeric (Float, Int or Bool) column except ID and Label, in table
	// order; String columns are then skipped, not an error.
	Features []string
}

// Frame is a table checked against a Schema and laid out for training.
type Frame struct {
	IDs      []string   // nil when Schema.ID is empty
	Features []string   // column names of X
	X        *mat.Dense // rows x len(Features)
	Y        []float64  // 0/1; nil when Schema.Label is empty
}

// Frame checks t against the schema and returns its design matrix. source
// names the file in errors.
//
// Every problem with the data is an *Error naming source and the column,
// wrapping ErrEmpty (no rows), ErrMissingColumn, ErrColumnType (a String
// label or feature), ErrNullLabel, ErrLabelValue (a value other than 0 or
// 1), ErrNullFeature (a null, NaN or infinite feature value) or ErrID (a
// null or repeated id). A table that fails Validate is ErrFormat. The first
// problem found is reported: the id, then the label, then the features in
// order.
func (s Schema) Frame(t *Table, source string) (*Frame, error) {
	if err := t.validate(); err != nil {
		err.Source = source
		return nil, err
	}
	n := t.Rows()
	if n == 0 {
		return nil, &Error{Source: source, Msg: "no rows", Err: ErrEmpty}
	}
	fr := &Frame{}

	if s.ID != "" {
		c := t.Column(s.ID)
		if c == nil {
			return nil, colErr(source, s.ID, ErrMissingColumn, "id column not found")
		}
		if k := c.NullCount(); k > 0 {
			return nil, colErr(source, s.ID, ErrID, "id has %d nulls", k)
		}
		fr.IDs = make([]string, n)
		first := make(map[string]int, n)
		for i := range fr.IDs {
			id := c.Format(i)
			if j, dup := first[id]; dup {
				return nil, colErr(source, s.ID, ErrID, "id %q appears twice, in rows %d and %d", id, j, i)
			}
			first[id] = i
			fr.IDs[i] = id
		}
	}

	if s.Label != "" {
		c := t.Column(s.Label)
		if c == nil {
			return nil, colErr(source, s.Label, ErrMissingColumn, "label column not found")
		}
		if c.Kind == String {
			return nil, colErr(source, s.Label, ErrColumnType, "label is String; want Int, Float or Bool holding 0 and 1")
		}
		if k := c.NullCount(); k > 0 {
			return nil, colErr(source, s.Label, ErrNullLabel, "label has %d nulls", k)
		}
		bad, first := 0, -1
		for i, v := range c.Float {
			if v != 0 && v != 1 {
				if bad == 0 {
					first = i
				}
				bad++
			}
		}
		if bad > 0 {
			return nil, colErr(source, s.Label, ErrLabelValue, "label has %d values other than 0 and 1, the first %v in row %d", bad, c.Float[first], first)
		}
		fr.Y = append([]float64(nil), c.Float...)
	}

	cols, err := s.features(t, source)
	if err != nil {
		return nil, err
	}
	p := len(cols)
	fr.Features = make([]string, p)
	data := make([]float64, n*p)
	for j, c := range cols {
		fr.Features[j] = c.Name
		if c.Kind == String {
			return nil, colErr(source, c.Name, ErrColumnType, "feature is String; want Float, Int or Bool (encode it first)")
		}
		nulls, nonFinite := c.NullCount(), 0
		for i, v := range c.Float {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				if !c.IsNull(i) {
					nonFinite++
				}
				continue
			}
			data[i*p+j] = v
		}
		switch {
		case nulls > 0 && nonFinite > 0:
			return nil, colErr(source, c.Name, ErrNullFeature, "feature has %d nulls and %d NaN or infinite values", nulls, nonFinite)
		case nulls > 0:
			return nil, colErr(source, c.Name, ErrNullFeature, "feature has %d nulls", nulls)
		case nonFinite > 0:
			return nil, colErr(source, c.Name, ErrNullFeature, "feature has %d NaN or infinite values", nonFinite)
		}
	}
	fr.X = mat.NewDense(n, p, data)
	return fr, nil
}

// features resolves the schema's feature columns in t.
func (s Schema) features(t *Table, source string) ([]*Column, error) {
	var cols []*Column
	if len(s.Features) == 0 {
		for _, c := range t.Columns {
			if c.Name != s.ID && c.Name != s.Label && c.Kind.numeric() {
				cols = append(cols, c)
			}
		}
		if len(cols) == 0 {
			return nil, &Error{Source: source, Msg: "no numeric feature columns besides the id and label", Err: ErrMissingColumn}
		}
		return cols, nil
	}
	seen := make(map[string]bool, len(s.Features))
	for _, name := range s.Features {
		switch {
		case seen[name]:
			return nil, fmt.Errorf("datasets: schema: feature %q listed twice", name)
		case name == s.Label:
			return nil, fmt.Errorf("datasets: schema: feature %q is the label", name)
		case name == s.ID:
			return nil, fmt.Errorf("datasets: schema: feature %q is the id", name)
		}
		seen[name] = true
		c := t.Column(name)
		if c == nil {
			return nil, colErr(source, name, ErrMissingColumn, "feature column not found")
		}
		cols = append(cols, c)
	}
	return cols, nil
}

// LoadFrame reads a .csv or .parquet file (see ReadTable) and checks it
// against s (see Schema.Frame).
func LoadFrame(path string, s Schema) (*Frame, error) {
	t, err := ReadTable(path)
	if err != nil {
		return nil, err
	}
	return s.Frame(t, path)
}
