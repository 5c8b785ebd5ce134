package datasets

import (
	"fmt"
	"math"
	"strconv"
)

// Kind is the type of a column's values.
type Kind uint8

// The kinds of column. Float, Int and Bool columns hold their values in
// Column.Float; String columns in Column.String.
const (
	Float Kind = iota + 1
	Int
	String
	Bool
)

// String returns the kind's name, e.g. "Float".
func (k Kind) String() string {
	switch k {
	case Float:
		return "Float"
	case Int:
		return "Int"
	case String:
		return "String"
	case Bool:
		return "Bool"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// numeric reports whether values of kind k live in Column.Float.
func (k Kind) numeric() bool { return k == Float || k == Int || k == Bool }

// maxExactInt is the largest integer up to which every integer is exactly
// representable as a float64.
const maxExactInt = 1 << 53

// Column is one named, typed column of a Table.
//
// A missing value at row i has Null[i] set; its slot in Float holds NaN and
// its slot in String holds "". Columns are shared, not copied, by
// SplitVertical and by the accessors; treat them as read-only once built.
type Column struct {
	Name   string
	Kind   Kind
	Float  []float64 // values of Float, Int (exact to 2^53) and Bool (0/1) columns; nil for String
	String []string  // values of String columns; nil otherwise
	Null   []bool    // nil when the column has no nulls; otherwise Null[i] marks row i missing
}

// Len returns the number of rows in the column.
func (c *Column) Len() int {
	if c.Kind == String {
		return len(c.String)
	}
	return len(c.Float)
}

// NullCount returns the number of missing values.
func (c *Column) NullCount() int {
	n := 0
	for _, null := range c.Null {
		if null {
			n++
		}
	}
	return n
}

// IsNull reports whether row i is missing.
func (c *Column) IsNull(i int) bool { return c.Null != nil && c.Null[i] }

// Format renders row i as text: "" for a null, integers without a decimal
// point, Bool as "true"/"false", floats in the shortest form that parses
// back to the same value.
func (c *Column) Format(i int) string {
	if c.IsNull(i) {
		return ""
	}
	switch c.Kind {
	case String:
		return c.String[i]
	case Bool:
		return strconv.FormatBool(c.Float[i] != 0)
	case Int:
		return strconv.FormatInt(int64(c.Float[i]), 10)
	}
	return strconv.FormatFloat(c.Float[i], 'g', -1, 64)
}

// validate checks the column on its own; n is the expected length.
func (c *Column) validate(n int) *Error {
	bad := func(format string, args ...any) *Error {
		return colErr("", c.Name, ErrFormat, format, args...)
	}
	if c.Name == "" {
		return bad("column with empty name")
	}
	switch {
	case c.Kind.numeric():
		if c.String != nil {
			return bad("kind %v but has String values", c.Kind)
		}
	case c.Kind == String:
		if c.Float != nil {
			return bad("kind String but has Float values")
		}
	default:
		return bad("invalid kind %v", c.Kind)
	}
	if c.Len() != n {
		return bad("%d rows, want %d", c.Len(), n)
	}
	if c.Null != nil && len(c.Null) != n {
		return bad("%d null marks for %d rows", len(c.Null), n)
	}
	if c.Kind == Int || c.Kind == Bool {
		for i, v := range c.Float {
			if c.IsNull(i) {
				continue
			}
			if c.Kind == Bool && v != 0 && v != 1 {
				return bad("Bool value %v at row %d", v, i)
			}
			if c.Kind == Int && (v != math.Trunc(v) || math.Abs(v) > maxExactInt) {
				return bad("Int value %v at row %d is not an integer within ±2^53", v, i)
			}
		}
	}
	return nil
}

// Table is a set of equally long columns, in file order.
type Table struct {
	Columns []*Column // file order
}

// Rows returns the number of rows: the length of the first column, 0 when
// there are no columns.
func (t *Table) Rows() int {
	if len(t.Columns) == 0 {
		return 0
	}
	return t.Columns[0].Len()
}

// Column returns the column with the given name, or nil if there is none.
func (t *Table) Column(name string) *Column {
	for _, c := range t.Columns {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Names returns the column names in order.
func (t *Table) Names() []string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return names
}

// Select returns a new table holding the given rows of t, in the given
// order (a row may repeat). It copies the values. Row indexes must be in
// [0, t.Rows()).
func (t *Table) Select(rows []int) *Table {
	out := &Table{Columns: make([]*Column, len(t.Columns))}
	for j, c := range t.Columns {
		nc := &Column{Name: c.Name, Kind: c.Kind}
		if c.Kind == String {
			nc.String = make([]string, len(rows))
			for k, i := range rows {
				nc.String[k] = c.String[i]
			}
		} else {
			nc.Float = make([]float64, len(rows))
			for k, i := range rows {
				nc.Float[k] = c.Float[i]
			}
		}
		if c.Null != nil {
			null := make([]bool, len(rows))
			has := false
			for k, i := range rows {
				null[k] = c.Null[i]
				has = has || null[k]
			}
			if has {
				nc.Null = null
			}
		}
		out.Columns[j] = nc
	}
	return out
}

// Validate checks that the table is well formed: every column non-nil, with
// a unique non-empty name, a valid Kind whose values are in the matching
// slice (and only there), Int values integral within ±2^53, Bool values 0
// or 1, the same length as every other column, and Null either nil or of
// that length. A problem is an *Error wrapping ErrFormat.
func (t *Table) Validate() error {
	if err := t.validate(); err != nil {
		return err
	}
	return nil
}

func (t *Table) validate() *Error {
	if t == nil {
		return &Error{Msg: "nil table", Err: ErrFormat}
	}
	for i, c := range t.Columns {
		if c == nil {
			return &Error{Msg: fmt.Sprintf("column %d is nil", i), Err: ErrFormat}
		}
	}
	n := t.Rows()
	seen := make(map[string]bool, len(t.Columns))
	for _, c := range t.Columns {
		if seen[c.Name] {
			return colErr("", c.Name, ErrFormat, "column name appears twice")
		}
		seen[c.Name] = true
		if err := c.validate(n); err != nil {
			return err
		}
	}
	return nil
}
