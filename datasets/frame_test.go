package datasets

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestFrame(t *testing.T) {
	tab, err := ReadCSVFrom(strings.NewReader(
		"id,income,seg,age,default,active\n"+
			"7,100.5,a,30,0,true\n"+
			"8,200,b,41,1,false\n"+
			"9,300.25,a,52,1,true\n"), "f.csv")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		schema   Schema
		ids      []string
		features []string
		x        []float64
		y        []float64
	}{
		{
			name:     "default features skip id, label and String",
			schema:   Schema{ID: "id", Label: "default"},
			ids:      []string{"7", "8", "9"},
			features: []string{"income", "age", "active"},
			x:        []float64{100.5, 30, 1, 200, 41, 0, 300.25, 52, 1},
			y:        []float64{0, 1, 1},
		},
		{
			name:     "explicit features in the given order, no id",
			schema:   Schema{Label: "default", Features: []string{"age", "income"}},
			features: []string{"age", "income"},
			x:        []float64{30, 100.5, 41, 200, 52, 300.25},
			y:        []float64{0, 1, 1},
		},
		{
			name:     "no label, as for a vertical partner",
			schema:   Schema{ID: "id", Features: []string{"age"}},
			ids:      []string{"7", "8", "9"},
			features: []string{"age"},
			x:        []float64{30, 41, 52},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fr, err := tc.schema.Frame(tab, "f.csv")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(fr.IDs, tc.ids) || !slices.Equal(fr.Features, tc.features) || !slices.Equal(fr.Y, tc.y) {
				t.Errorf("ids %v features %v y %v, want %v %v %v", fr.IDs, fr.Features, fr.Y, tc.ids, tc.features, tc.y)
			}
			if want := mat.NewDense(3, len(tc.features), tc.x); !mat.Equal(fr.X, want) {
				t.Errorf("X = %v, want %v", mat.Formatted(fr.X), mat.Formatted(want))
			}
		})
	}
	// The frame owns its data: changing the table afterwards leaves it be.
	fr, _ := Schema{ID: "id", Label: "default"}.Frame(tab, "f.csv")
	tab.Column("default").Float[0] = 1
	tab.Column("income").Float[0] = -1
	if fr.Y[0] != 0 || fr.X.At(0, 0) != 100.5 {
		t.Error("frame shares storage with the table")
	}
}

// TestFrameErrors runs each bad input through LoadFrame from a CSV file and
// from the same data as Parquet, and checks the sentinel and that the
// message names the file and the column.
func TestFrameErrors(t *testing.T) {
	dir := t.TempDir()
	label := Schema{ID: "id", Label: "default"}
	tests := []struct {
		name   string
		csv    string
		schema Schema
		want   error
		column string // "" when the problem is with the whole file
		msg    string
	}{
		{"missing label column", "id,x\n1,2\n", label, ErrMissingColumn, "default", "label column not found"},
		{"label with nulls", "id,x,default\n1,2,0\n2,3,\n3,4,NA\n", label, ErrNullLabel, "default", "label has 2 nulls"},
		{"label value 2", "id,x,default\n1,2,0\n2,3,2\n3,4,1\n", label, ErrLabelValue, "default", "1 values other than 0 and 1, the first 2 in row 1"},
		{"label 0.5", "id,x,default\n1,2,0.5\n2,3,1\n", label, ErrLabelValue, "default", "first 0.5 in row 0"},
		{"String label", "id,x,default\n1,2,yes\n2,3,no\n", label, ErrColumnType, "default", "label is String"},
		{"String feature", "id,x,seg,default\n1,2,a,0\n2,3,b,1\n", Schema{Label: "default", Features: []string{"x", "seg"}}, ErrColumnType, "seg", "feature is String"},
		{"feature with nulls", "id,x,default\n1,,0\n2,3,1\n", label, ErrNullFeature, "x", "feature has 1 nulls"},
		{"missing feature", "id,x,default\n1,2,0\n", Schema{Label: "default", Features: []string{"x", "y"}}, ErrMissingColumn, "y", "feature column not found"},
		{"missing id", "x,default\n1,0\n", label, ErrMissingColumn, "id", "id column not found"},
		{"repeated id", "id,x,default\nA,1,0\nB,2,1\nA,3,0\n", label, ErrID, "id", `id "A" appears twice, in rows 0 and 2`},
		{"null id", "id,x,default\nA,1,0\n,2,1\n", label, ErrID, "id", "id has 1 nulls"},
		{"no numeric features", "id,seg,default\n1,a,0\n", label, ErrMissingColumn, "", "no numeric feature columns"},
	}
	for _, tc := range tests {
		tab, err := ReadCSVFrom(strings.NewReader(tc.csv), "src")
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		base := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
		if err := os.WriteFile(base+".csv", []byte(tc.csv), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := WriteParquet(base+".parquet", tab); err != nil {
			t.Fatal(err)
		}
		for _, ext := range []string{".csv", ".parquet"} {
			t.Run(tc.name+ext, func(t *testing.T) {
				_, err := LoadFrame(base+ext, tc.schema)
				checkErr(t, err, tc.want, base+ext, tc.column, tc.msg)
			})
		}
	}

	// Cases that only one format can hold.
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	noRows := filepath.Join(dir, "no_rows.parquet")
	if err := WriteParquet(noRows, &Table{Columns: []*Column{{Name: "default", Kind: Int, Float: []float64{}}}}); err != nil {
		t.Fatal(err)
	}
	nanFeature := filepath.Join(dir, "nan_feature.parquet")
	if err := WriteParquet(nanFeature, &Table{Columns: []*Column{
		{Name: "x", Kind: Float, Float: []float64{1, math.NaN(), math.Inf(1)}},
		{Name: "default", Kind: Int, Float: []float64{0, 1, 0}},
	}}); err != nil {
		t.Fatal(err)
	}
	others := []struct {
		name, path string
		want       error
		column     string
		msg        string
	}{
		{"empty CSV", write("empty.csv", ""), ErrEmpty, "", "empty file"},
		{"header-only CSV", write("header.csv", "id,x,default\n"), ErrEmpty, "", "no rows"},
		{"zero-byte Parquet", write("empty.parquet", ""), ErrEmpty, "", "empty file"},
		{"Parquet without rows", noRows, ErrEmpty, "", "no rows"},
		{"ragged CSV", write("ragged.csv", "id,x,default\n1,2,0\n2,3\n"), ErrRagged, "default", "line 3: "},
		{"NaN feature in Parquet", nanFeature, ErrNullFeature, "x", "feature has 2 NaN or infinite values"},
	}
	for _, tc := range others {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadFrame(tc.path, Schema{Label: "default"})
			checkErr(t, err, tc.want, tc.path, tc.column, tc.msg)
		})
	}
}

func checkErr(t *testing.T, err, want error, file, column, msg string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err %v is not an *Error", err)
	}
	if e.Source != file || e.Column != column {
		t.Errorf("error names file %q column %q, want %q %q", e.Source, e.Column, file, column)
	}
	s := err.Error()
	mention := []string{"datasets: file " + file + ": ", msg}
	if column != "" {
		mention = append(mention, `column "`+column+`"`)
	}
	for _, m := range mention {
		if !strings.Contains(s, m) {
			t.Errorf("error %q does not mention %q", s, m)
		}
	}
}

func TestFrameSchemaMistakes(t *testing.T) {
	tab := &Table{Columns: []*Column{
		{Name: "id", Kind: Int, Float: []float64{1}},
		{Name: "x", Kind: Float, Float: []float64{1}},
		{Name: "default", Kind: Int, Float: []float64{0}},
	}}
	for _, s := range []Schema{
		{Label: "default", Features: []string{"x", "x"}},
		{Label: "default", Features: []string{"x", "default"}},
		{ID: "id", Label: "default", Features: []string{"id"}},
	} {
		if _, err := s.Frame(tab, "s.parquet"); err == nil || !strings.HasPrefix(err.Error(), "datasets: schema: ") {
			t.Errorf("%+v: err = %v, want a schema error", s, err)
		}
	}
	bad := &Table{Columns: []*Column{{Name: "x", Kind: Float, Float: []float64{1}, String: []string{"a"}}}}
	if _, err := (Schema{}).Frame(bad, "s.parquet"); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "s.parquet") {
		t.Errorf("invalid table: err = %v, want ErrFormat naming the file", err)
	}
	if _, err := (Schema{}).Frame(nil, "s.parquet"); !errors.Is(err, ErrFormat) {
		t.Errorf("nil table: err = %v, want ErrFormat", err)
	}
}
