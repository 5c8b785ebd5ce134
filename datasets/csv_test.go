package datasets

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCSVInference(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name  string
		cells string // one column: header "c", then one cell per line
		want  *Column
	}{
		{"ints", "1\n-2\n+3\n0", &Column{Kind: Int, Float: []float64{1, -2, 3, 0}}},
		{"ints with nulls", "1\n\nNA\nnull\nNaN\n7", &Column{Kind: Int, Float: []float64{1, nan, nan, nan, nan, 7}, Null: []bool{false, true, true, true, true, false}}},
		{"null tokens in any case", "na\nNULL\nnan\n2", &Column{Kind: Int, Float: []float64{nan, nan, nan, 2}, Null: []bool{true, true, true, false}}},
		{"ints at 2^53", "9007199254740992\n-9007199254740992", &Column{Kind: Int, Float: []float64{maxExactInt, -maxExactInt}}},
		{"ints beyond 2^53 are ids", "9007199254740993\n1", &Column{Kind: String, String: []string{"9007199254740993", "1"}}},
		{"floats", "1\n2.5\n-3e2\n.5", &Column{Kind: Float, Float: []float64{1, 2.5, -300, 0.5}}},
		{"float after ints", "1\n2\n3\n4.5", &Column{Kind: Float, Float: []float64{1, 2, 3, 4.5}}},
		{"infinity is a float", "1.5\nInf\n-inf", &Column{Kind: Float, Float: []float64{1.5, math.Inf(1), math.Inf(-1)}}},
		{"bools", "true\nFALSE\nTrue\n", &Column{Kind: Bool, Float: []float64{1, 0, 1, nan}, Null: []bool{false, false, false, true}}},
		{"bool and number is String", "true\n1", &Column{Kind: String, String: []string{"true", "1"}}},
		{"strings", "salaried\nstudent\n3", &Column{Kind: String, String: []string{"salaried", "student", "3"}}},
		{"string nulls", "a\n\nNA\nb", &Column{Kind: String, String: []string{"a", "", "", "b"}, Null: []bool{false, true, true, false}}},
		{"thousands separators are String", "\"1,000\"\n2", &Column{Kind: String, String: []string{"1,000", "2"}}},
		{"spaces trimmed", " 12 \n\t3", &Column{Kind: Int, Float: []float64{12, 3}}},
		{"all null is Float", "\nNA\n ", &Column{Kind: Float, Float: []float64{nan, nan, nan}, Null: []bool{true, true, true}}},
		{"late string after many ints", strings.Repeat("1\n", 50) + "x\n", &Column{Kind: String, String: append(strings.Split(strings.Repeat("1,", 50)+"x", ","), ""), Null: append(make([]bool, 51), true)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A second column keeps empty cells from making blank lines,
			// which encoding/csv skips.
			var b strings.Builder
			b.WriteString("c,k\n")
			for _, cell := range strings.Split(tc.cells, "\n") {
				b.WriteString(cell + ",0\n")
			}
			got, err := ReadCSVFrom(strings.NewReader(b.String()), "t.csv")
			if err != nil {
				t.Fatal(err)
			}
			tc.want.Name = "c"
			k := &Column{Name: "k", Kind: Int, Float: make([]float64, tc.want.Len())}
			assertTablesEqual(t, got, &Table{Columns: []*Column{tc.want, k}})
		})
	}
}

func TestCSVHeader(t *testing.T) {
	got, err := ReadCSVFrom(strings.NewReader("\ufeffid, score ,,label\r\nA1,0.5,x,1\r\n\"B, 2\",,y,0\r\n"), "h.csv")
	if err != nil {
		t.Fatal(err)
	}
	want := &Table{Columns: []*Column{
		{Name: "id", Kind: String, String: []string{"A1", "B, 2"}},
		{Name: "score", Kind: Float, Float: []float64{0.5, math.NaN()}, Null: []bool{false, true}},
		{Name: "_c2", Kind: String, String: []string{"x", "y"}},
		{Name: "label", Kind: Int, Float: []float64{1, 0}},
	}}
	assertTablesEqual(t, got, want)
}

func TestCSVErrors(t *testing.T) {
	tests := []struct {
		name, data string
		want       error
		mention    []string
	}{
		{"empty file", "", ErrEmpty, nil},
		{"header only", "a,b\n", ErrEmpty, nil},
		{"short row", "a,b,c\n1,2,3\n4,5\n", ErrRagged, []string{"line 3", `column "c"`, "2 fields"}},
		{"long row", "a,b\n1,2\n3,4\n5,6,7\n", ErrRagged, []string{"line 4", `column "b"`, "3 fields"}},
		{"ragged after quoted newline", "a,b\n\"x\ny\",2\n3\n", ErrRagged, []string{"line 4", `column "b"`}},
		{"bare quote", "a,b\n1,x\"y\n", ErrFormat, []string{"line 2"}},
		{"duplicate header", "a,b,a\n1,2,3\n", ErrFormat, []string{`column "a"`, "twice"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadCSVFrom(strings.NewReader(tc.data), "bad.csv")
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			for _, s := range append([]string{"datasets: file bad.csv: "}, tc.mention...) {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

func TestImportCSVAndReadTable(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(csvPath, []byte("id,x,flag,name\n1,1.5,true,a\n2,,false,\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pqPath := filepath.Join(dir, "out.PARQUET") // extensions match in any case
	imported, err := ImportCSV(csvPath, pqPath)
	if err != nil {
		t.Fatal(err)
	}
	fromCSV, err := ReadTable(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	fromParquet, err := ReadTable(pqPath)
	if err != nil {
		t.Fatal(err)
	}
	assertTablesEqual(t, fromCSV, imported)
	assertTablesEqual(t, fromParquet, imported)
	if k := imported.Column("id").Kind; k != Int {
		t.Errorf("id kind %v, want Int", k)
	}

	if _, err := ReadTable(filepath.Join(dir, "x.json")); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), `".json"`) {
		t.Errorf("ReadTable(.json) = %v, want ErrFormat naming the extension", err)
	}
	if _, err := ReadTable(filepath.Join(dir, "missing.csv")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadTable(missing) = %v, want os.ErrNotExist", err)
	}
}

// TestTaiwanCSV reads the UCI "default of credit card clients" data set
// from $FEDSCORE_DATASETS (the Makefile points it at ../shared/datasets).
func TestTaiwanCSV(t *testing.T) {
	dir := os.Getenv("FEDSCORE_DATASETS")
	if dir == "" {
		t.Skip("FEDSCORE_DATASETS not set")
	}
	path := filepath.Join(dir, "taiwan_default", "default_of_credit_card_clients.csv")
	tab, err := ReadCSV(path)
	if err != nil {
		t.Fatal(err)
	}
	if tab.Rows() != 30000 || len(tab.Columns) != 25 {
		t.Fatalf("%d rows x %d columns, want 30000 x 25", tab.Rows(), len(tab.Columns))
	}
	for _, c := range tab.Columns {
		if c.Kind != Int || c.NullCount() != 0 {
			t.Errorf("column %q: %v with %d nulls, want Int without nulls", c.Name, c.Kind, c.NullCount())
		}
	}
	if id := tab.Column("ID"); id == nil || id.Float[0] != 1 || id.Float[29999] != 30000 {
		t.Errorf("ID column does not run 1..30000")
	}
	label := "default_payment_next_month"
	fr, err := Schema{ID: "ID", Label: label}.Frame(tab, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, p := fr.X.Dims(); p != 23 {
		t.Errorf("%d features, want 23", p)
	}
	// The data set's documentation gives 6636 defaults (22.12%).
	pos := 0
	for _, y := range fr.Y {
		pos += int(y)
	}
	if pos != 6636 {
		t.Errorf("%d defaults, want 6636", pos)
	}
}

func TestWriteCSVRoundTrip(t *testing.T) {
	want := allKinds()
	// Kinds that CSV cannot carry: a String column of digits would come
	// back Int, and an all-null column Float (which it is already).
	path := filepath.Join(t.TempDir(), "out.csv")
	if err := WriteCSV(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadCSV(path)
	if err != nil {
		t.Fatal(err)
	}
	// Empty strings, which CSV cannot tell from nulls, come back null.
	want.Columns[0].Null = []bool{false, false, true, false, false}
	want.Columns[7].Null[2] = true
	assertTablesEqual(t, got, want)

	var buf strings.Builder
	if err := WriteCSVTo(&buf, &Table{Columns: []*Column{{Name: "a,b", Kind: String, String: []string{"x\"y"}}}}); err != nil {
		t.Fatal(err)
	}
	if want := "\"a,b\"\n\"x\"\"y\"\n"; buf.String() != want {
		t.Errorf("WriteCSVTo = %q, want %q", buf.String(), want)
	}
}
