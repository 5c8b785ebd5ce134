package datasets

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{Float: "Float", Int: "Int", String: "String", Bool: "Bool", 0: "Kind(0)", 9: "Kind(9)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, want)
		}
	}
}

func TestColumnAccessors(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		c      *Column
		len    int
		nulls  int
		format []string
	}{
		{&Column{Kind: Float, Float: []float64{1.5, nan, 1e21}, Null: []bool{false, true, false}}, 3, 1, []string{"1.5", "", "1e+21"}},
		{&Column{Kind: Int, Float: []float64{-3, maxExactInt}}, 2, 0, []string{"-3", "9007199254740992"}},
		{&Column{Kind: Bool, Float: []float64{1, 0}}, 2, 0, []string{"true", "false"}},
		{&Column{Kind: String, String: []string{"a", "", "c"}, Null: []bool{false, true, true}}, 3, 2, []string{"a", "", ""}},
		{&Column{Kind: String}, 0, 0, nil},
	}
	for i, tc := range tests {
		var format []string
		for r := range tc.c.Len() {
			format = append(format, tc.c.Format(r))
		}
		if tc.c.Len() != tc.len || tc.c.NullCount() != tc.nulls || !slices.Equal(format, tc.format) {
			t.Errorf("case %d: Len %d NullCount %d Format %q, want %d %d %q", i, tc.c.Len(), tc.c.NullCount(), format, tc.len, tc.nulls, tc.format)
		}
	}
}

func TestTableAccessorsAndSelect(t *testing.T) {
	tab := allKinds()
	if tab.Rows() != 5 || (&Table{}).Rows() != 0 {
		t.Errorf("Rows = %d (empty table %d), want 5 (0)", tab.Rows(), (&Table{}).Rows())
	}
	if tab.Column("count") != tab.Columns[2] || tab.Column("nope") != nil {
		t.Error("Column lookup wrong")
	}
	if got := strings.Join(tab.Names(), ","); got != "zeta_id,amount,count,flag,opt_amount,opt_count,opt_flag,opt_name,all_null" {
		t.Errorf("Names = %s", got)
	}
	rows := []int{3, 1, 1}
	sel := tab.Select(rows)
	want := &Table{}
	for _, c := range tab.Columns {
		nc := &Column{Name: c.Name, Kind: c.Kind}
		var null []bool
		for _, r := range rows {
			if c.Kind == String {
				nc.String = append(nc.String, c.String[r])
			} else {
				nc.Float = append(nc.Float, c.Float[r])
			}
			null = append(null, c.IsNull(r))
		}
		if slices.Contains(null, true) {
			nc.Null = null
		}
		want.Columns = append(want.Columns, nc)
	}
	assertTablesEqual(t, sel, want) // also checks Null is nil where rows 3 and 1 have no nulls
	sel.Columns[1].Float[0] = 99
	if tab.Columns[1].Float[3] == 99 {
		t.Error("Select shares storage with the table")
	}
	if empty := tab.Select(nil); empty.Rows() != 0 || len(empty.Columns) != len(tab.Columns) || empty.Validate() != nil {
		t.Error("Select(nil) should give a valid table with the same columns and no rows")
	}
}

func TestValidate(t *testing.T) {
	nan := math.NaN()
	good := []*Table{
		{},
		allKinds(),
		{Columns: []*Column{{Name: "x", Kind: Int, Float: []float64{nan}, Null: []bool{true}}}}, // a null Int may hold NaN
		{Columns: []*Column{{Name: "x", Kind: Float}, {Name: "s", Kind: String}}},               // no rows, nil slices
	}
	for i, tab := range good {
		if err := tab.Validate(); err != nil {
			t.Errorf("good table %d: %v", i, err)
		}
	}
	bad := []struct {
		table *Table
		want  string
	}{
		{nil, "nil table"},
		{&Table{Columns: []*Column{nil}}, "column 0 is nil"},
		{&Table{Columns: []*Column{{Kind: Float}}}, "empty name"},
		{&Table{Columns: []*Column{{Name: "k", Kind: 0}}}, "invalid kind Kind(0)"},
		{&Table{Columns: []*Column{{Name: "f", Kind: Float, Float: []float64{1}, String: []string{"a"}}}}, "kind Float but has String values"},
		{&Table{Columns: []*Column{{Name: "i", Kind: Int, Float: []float64{maxExactInt + 2}}}}, "not an integer within ±2^53"},
		{&Table{Columns: []*Column{{Name: "i", Kind: Int, Float: []float64{nan}}}}, "not an integer"},
		{&Table{Columns: []*Column{{Name: "b", Kind: Bool, Float: []float64{0.5}}}}, "Bool value 0.5"},
		{&Table{Columns: []*Column{{Name: "a", Kind: Float, Float: []float64{1}}, {Name: "b", Kind: String, String: []string{"x", "y"}}}}, `column "b": 2 rows, want 1`},
	}
	for _, tc := range bad {
		err := tc.table.Validate()
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "datasets: ") {
			t.Errorf("Validate() = %v, want ErrFormat saying %q", err, tc.want)
		}
	}
}
