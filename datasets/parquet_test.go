package datasets

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// allKinds is a small table with every kind, with and without nulls, in an
// order that is not alphabetical.
func allKinds() *Table {
	nan := math.NaN()
	return &Table{Columns: []*Column{
		{Name: "zeta_id", Kind: String, String: []string{"a", "b", "", "dé", "e"}},
		{Name: "amount", Kind: Float, Float: []float64{1.5, -2, 0, math.Inf(1), 1e-300}},
		{Name: "count", Kind: Int, Float: []float64{0, -7, maxExactInt, -maxExactInt, 42}},
		{Name: "flag", Kind: Bool, Float: []float64{1, 0, 0, 1, 1}},
		{Name: "opt_amount", Kind: Float, Float: []float64{nan, 2.25, nan, 3, 4}, Null: []bool{true, false, true, false, false}},
		{Name: "opt_count", Kind: Int, Float: []float64{1, nan, 3, 4, nan}, Null: []bool{false, true, false, false, true}},
		{Name: "opt_flag", Kind: Bool, Float: []float64{nan, 1, 0, nan, 1}, Null: []bool{true, false, false, true, false}},
		{Name: "opt_name", Kind: String, String: []string{"x", "", "", "z", ""}, Null: []bool{false, true, false, false, true}},
		{Name: "all_null", Kind: Float, Float: []float64{nan, nan, nan, nan, nan}, Null: []bool{true, true, true, true, true}},
	}}
}

// assertTablesEqual compares names, kinds, null marks and values (NaN
// equal to NaN), and that Null is nil exactly when there are no nulls.
func assertTablesEqual(t *testing.T, got, want *Table) {
	t.Helper()
	if err := got.Validate(); err != nil {
		t.Fatalf("result fails Validate: %v", err)
	}
	if g, w := strings.Join(got.Names(), ","), strings.Join(want.Names(), ","); g != w {
		t.Fatalf("columns %s, want %s", g, w)
	}
	if got.Rows() != want.Rows() {
		t.Fatalf("%d rows, want %d", got.Rows(), want.Rows())
	}
	for j, w := range want.Columns {
		g := got.Columns[j]
		if g.Kind != w.Kind {
			t.Errorf("column %q: kind %v, want %v", w.Name, g.Kind, w.Kind)
			continue
		}
		if (g.Null == nil) != (w.NullCount() == 0) {
			t.Errorf("column %q: Null nil is %v with %d nulls", w.Name, g.Null == nil, w.NullCount())
		}
		for i := range w.Len() {
			if g.IsNull(i) != w.IsNull(i) {
				t.Errorf("column %q row %d: null %v, want %v", w.Name, i, g.IsNull(i), w.IsNull(i))
				continue
			}
			if w.IsNull(i) {
				if w.Kind != String && !math.IsNaN(g.Float[i]) {
					t.Errorf("column %q row %d: null holds %v, want NaN", w.Name, i, g.Float[i])
				}
				continue
			}
			if w.Kind == String {
				if g.String[i] != w.String[i] {
					t.Errorf("column %q row %d: %q, want %q", w.Name, i, g.String[i], w.String[i])
				}
			} else if g.Float[i] != w.Float[i] {
				t.Errorf("column %q row %d: %v, want %v", w.Name, i, g.Float[i], w.Float[i])
			}
		}
	}
}

func TestParquetRoundTrip(t *testing.T) {
	dir := t.TempDir()
	w, err := Synthesize(SynthConfig{Customers: 1000, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		table *Table
	}{
		{"all kinds with nulls", allKinds()},
		{"synthetic wallet", w.Table},
		{"no rows", &Table{Columns: []*Column{{Name: "x", Kind: Float, Float: []float64{}}, {Name: "s", Kind: String, String: []string{}}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".parquet")
			if err := WriteParquet(path, tc.table); err != nil {
				t.Fatal(err)
			}
			got, err := ReadParquet(path)
			if err != nil {
				t.Fatal(err)
			}
			assertTablesEqual(t, got, tc.table)
		})
	}
}

// TestParquetRowGroups writes several row groups, some with and some
// without nulls in the same column, and checks what comes back.
func TestParquetRowGroups(t *testing.T) {
	const n = 1000
	x := &Column{Name: "x", Kind: Float, Float: make([]float64, n), Null: make([]bool, n)}
	s := &Column{Name: "s", Kind: String, String: make([]string, n)}
	for i := range n {
		x.Float[i] = float64(i) / 4
		if i >= 500 && i%7 == 0 { // nulls only in the later row groups
			x.Float[i], x.Null[i] = math.NaN(), true
		}
		s.String[i] = strings.Repeat("ab", i%5)
	}
	want := &Table{Columns: []*Column{x, s}}
	var buf bytes.Buffer
	if err := writeParquet(&buf, want, 128); err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if g := len(f.RowGroups()); g != 8 {
		t.Errorf("%d row groups, want 8 (1000 rows, 128 per group)", g)
	}
	got, err := ReadParquetFrom(bytes.NewReader(buf.Bytes()), int64(buf.Len()), "mem")
	if err != nil {
		t.Fatal(err)
	}
	assertTablesEqual(t, got, want)
}

// rawColumn is one column of a file written directly with parquet-go, to
// exercise types and encodings WriteParquet does not produce.
type rawColumn struct {
	name string
	node parquet.Node
	vals []parquet.Value // a zero Value is a null
}

// writeRaw writes columns of equal length through parquet-go's row API,
// flushing a row group every groupRows rows.
func writeRaw(t *testing.T, cols []rawColumn, groupRows int, opts ...parquet.WriterOption) []byte {
	t.Helper()
	g := parquet.Group{}
	for _, c := range cols {
		g[c.name] = c.node
	}
	schema := parquet.NewSchema("raw", g)
	var buf bytes.Buffer
	w := parquet.NewWriter(&buf, append([]parquet.WriterOption{schema}, opts...)...)
	n := len(cols[0].vals)
	for i := range n {
		row := make(parquet.Row, len(cols))
		for _, c := range cols {
			leaf, _ := schema.Lookup(c.name)
			v := c.vals[i]
			if v.IsNull() {
				row[leaf.ColumnIndex] = v.Level(0, 0, leaf.ColumnIndex)
			} else {
				row[leaf.ColumnIndex] = v.Level(0, leaf.MaxDefinitionLevel, leaf.ColumnIndex)
			}
		}
		if _, err := w.WriteRows([]parquet.Row{row}); err != nil {
			t.Fatal(err)
		}
		if (i+1)%groupRows == 0 {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func values[T any](xs []T, f func(T) parquet.Value) []parquet.Value {
	out := make([]parquet.Value, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

// TestParquetTypes reads physical and logical types, dictionary encoding,
// many small pages, several row groups and both data page versions, from
// files written by parquet-go's row API.
func TestParquetTypes(t *testing.T) {
	const n = 300
	i32 := make([]int32, n)
	i8 := make([]int32, n)
	u32 := make([]uint32, n)
	u64 := make([]uint64, n)
	f32 := make([]float32, n)
	cat := make([]string, n)
	dictF := make([]float64, n)
	optCat := make([]parquet.Value, n)
	want := &Table{Columns: []*Column{
		{Name: "a_int32", Kind: Int, Float: make([]float64, n)},
		{Name: "b_int8", Kind: Int, Float: make([]float64, n)},
		{Name: "c_uint32", Kind: Int, Float: make([]float64, n)},
		{Name: "d_uint64", Kind: Int, Float: make([]float64, n)},
		{Name: "e_float", Kind: Float, Float: make([]float64, n)},
		{Name: "f_cat", Kind: String, String: make([]string, n)},
		{Name: "g_dict_double", Kind: Float, Float: make([]float64, n)},
		{Name: "h_opt_cat", Kind: String, String: make([]string, n), Null: make([]bool, n)},
		{Name: "i_enum", Kind: String, String: make([]string, n)},
	}}
	cats := []string{"north", "south", "east", "west"}
	for i := range n {
		i32[i] = int32(i*1000 - 150000)
		i8[i] = int32(i%256 - 128)
		u32[i] = math.MaxUint32 - uint32(i)
		u64[i] = uint64(i) << 40
		f32[i] = float32(i) / 8
		cat[i] = cats[i%4]
		dictF[i] = float64(i%3) * 0.5
		if i%5 == 0 {
			want.Columns[7].Null[i] = true
		} else {
			optCat[i] = parquet.ByteArrayValue([]byte(cats[i%3]))
			want.Columns[7].String[i] = cats[i%3]
		}
		want.Columns[0].Float[i] = float64(i32[i])
		want.Columns[1].Float[i] = float64(i8[i])
		want.Columns[2].Float[i] = float64(u32[i])
		want.Columns[3].Float[i] = float64(u64[i])
		want.Columns[4].Float[i] = float64(f32[i])
		want.Columns[5].String[i] = cat[i]
		want.Columns[6].Float[i] = dictF[i]
		want.Columns[8].String[i] = cat[i]
	}
	cols := []rawColumn{
		{"a_int32", parquet.Leaf(parquet.Int32Type), values(i32, parquet.Int32Value)},
		{"b_int8", parquet.Int(8), values(i8, parquet.Int32Value)},
		{"c_uint32", parquet.Uint(32), values(u32, func(x uint32) parquet.Value { return parquet.Int32Value(int32(x)) })},
		{"d_uint64", parquet.Uint(64), values(u64, func(x uint64) parquet.Value { return parquet.Int64Value(int64(x)) })},
		{"e_float", parquet.Leaf(parquet.FloatType), values(f32, parquet.FloatValue)},
		{"f_cat", parquet.Encoded(parquet.String(), &parquet.RLEDictionary), values(cat, func(s string) parquet.Value { return parquet.ByteArrayValue([]byte(s)) })},
		{"g_dict_double", parquet.Encoded(parquet.Leaf(parquet.DoubleType), &parquet.RLEDictionary), values(dictF, parquet.DoubleValue)},
		{"h_opt_cat", parquet.Optional(parquet.Encoded(parquet.String(), &parquet.RLEDictionary)), optCat},
		{"i_enum", parquet.Enum(), values(cat, func(s string) parquet.Value { return parquet.ByteArrayValue([]byte(s)) })},
	}
	for _, tc := range []struct {
		name string
		opts []parquet.WriterOption
	}{
		{"v2 pages", nil},
		{"v1 pages", []parquet.WriterOption{parquet.DataPageVersion(1)}},
		{"small pages snappy", []parquet.WriterOption{parquet.PageBufferSize(256), parquet.Compression(&parquet.Snappy)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := writeRaw(t, cols, 110, tc.opts...)
			got, err := ReadParquetFrom(bytes.NewReader(b), int64(len(b)), "types.parquet")
			if err != nil {
				t.Fatal(err)
			}
			assertTablesEqual(t, got, want)
			// Make sure the file exercised what this test is about.
			f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			if g := len(f.RowGroups()); g != 3 {
				t.Errorf("%d row groups, want 3", g)
			}
			for _, name := range []string{"f_cat", "g_dict_double", "h_opt_cat"} {
				pages, dict := countPages(t, f, name)
				if !dict {
					t.Errorf("column %q is not dictionary encoded", name)
				}
				if tc.name == "small pages snappy" && pages < 6 {
					t.Errorf("column %q has %d pages, want several per row group", name, pages)
				}
			}
		})
	}
}

// countPages counts the data pages of a column and reports whether any is
// dictionary encoded.
func countPages(t *testing.T, f *parquet.File, name string) (pages int, dict bool) {
	t.Helper()
	c := f.Root().Column(name)
	for _, rg := range f.RowGroups() {
		ps := rg.ColumnChunks()[c.Index()].Pages()
		for {
			p, err := ps.ReadPage()
			if err != nil {
				break
			}
			pages++
			dict = dict || p.Dictionary() != nil
		}
		ps.Close()
	}
	return pages, dict
}

// TestParquetBigInt64 checks that INT64 values a float64 cannot hold
// exactly come back as String, in plain and dictionary pages, whether the
// first big value is in the first row group or a later one.
func TestParquetBigInt64(t *testing.T) {
	ids := []int64{1, 2, 3, 1 << 60, -5, 1<<53 + 1, 7}
	want := &Table{Columns: []*Column{{Name: "id", Kind: String, String: []string{"1", "2", "3", "1152921504606846976", "-5", "9007199254740993", "7"}}}}
	for _, tc := range []struct {
		name string
		node parquet.Node
	}{
		{"plain", parquet.Leaf(parquet.Int64Type)},
		{"dictionary", parquet.Encoded(parquet.Leaf(parquet.Int64Type), &parquet.RLEDictionary)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := writeRaw(t, []rawColumn{{"id", tc.node, values(ids, parquet.Int64Value)}}, 3)
			got, err := ReadParquetFrom(bytes.NewReader(b), int64(len(b)), "ids.parquet")
			if err != nil {
				t.Fatal(err)
			}
			assertTablesEqual(t, got, want)
		})
	}
}

// patchFooter rewrites a parquet file's footer metadata.
func patchFooter(t *testing.T, b []byte, patch func(*format.FileMetaData)) []byte {
	t.Helper()
	n := int(binary.LittleEndian.Uint32(b[len(b)-8:]))
	footer := b[len(b)-8-n : len(b)-8]
	var md format.FileMetaData
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), footer, &md); err != nil {
		t.Fatal(err)
	}
	patch(&md)
	nf, err := thrift.Marshal(new(thrift.CompactProtocol), &md)
	if err != nil {
		t.Fatal(err)
	}
	out := append([]byte(nil), b[:len(b)-8-n]...)
	out = append(out, nf...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(nf)))
	return append(out, "PAR1"...)
}

// TestParquetArrowRepeatedRoot reads a file whose schema root is marked
// REPEATED, as Arrow's pqarrow writer marks it: parquet-go's schema lookup
// then reports definition levels off by one, which would turn every value
// of an optional column into a null.
func TestParquetArrowRepeatedRoot(t *testing.T) {
	want := allKinds()
	var buf bytes.Buffer
	if err := WriteParquetTo(&buf, want); err != nil {
		t.Fatal(err)
	}
	b := patchFooter(t, buf.Bytes(), func(md *format.FileMetaData) {
		md.Schema[0].RepetitionType = thrift.New(format.Repeated)
	})
	f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if rt, _ := f.Metadata().Schema[0].RepetitionType.Get(); rt != format.Repeated {
		t.Fatalf("patched root repetition %v, want REPEATED", rt)
	}
	got, err := ReadParquetFrom(bytes.NewReader(b), int64(len(b)), "arrow.parquet")
	if err != nil {
		t.Fatal(err)
	}
	assertTablesEqual(t, got, want)
}

func TestParquetUnsupportedTypes(t *testing.T) {
	type nested struct {
		Inner struct{ X int64 } `parquet:"inner"`
	}
	type list struct {
		Xs []int64 `parquet:"xs,list"`
	}
	type repeated struct {
		Xs []int64 `parquet:"xs"`
	}
	writeGeneric := func(t *testing.T, row any) []byte {
		var buf bytes.Buffer
		w := parquet.NewWriter(&buf, parquet.SchemaOf(row))
		if err := w.Write(row); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	tests := []struct {
		name, column, why string
		file              func(t *testing.T) []byte
	}{
		{"date", "d", "DATE", func(t *testing.T) []byte {
			return writeRaw(t, []rawColumn{{"d", parquet.Date(), []parquet.Value{parquet.Int32Value(19000)}}}, 10)
		}},
		{"timestamp", "ts", "TIMESTAMP", func(t *testing.T) []byte {
			return writeRaw(t, []rawColumn{{"ts", parquet.Timestamp(parquet.Millisecond), []parquet.Value{parquet.Int64Value(1)}}}, 10)
		}},
		{"decimal", "amt", "DECIMAL", func(t *testing.T) []byte {
			return writeRaw(t, []rawColumn{{"amt", parquet.Decimal(2, 9, parquet.Int32Type), []parquet.Value{parquet.Int32Value(1234)}}}, 10)
		}},
		{"fixed length bytes", "u", "FIXED_LEN_BYTE_ARRAY", func(t *testing.T) []byte {
			return writeRaw(t, []rawColumn{{"u", parquet.UUID(), []parquet.Value{parquet.FixedLenByteArrayValue(make([]byte, 16))}}}, 10)
		}},
		{"nested group", "inner", "nested", func(t *testing.T) []byte { return writeGeneric(t, &nested{}) }},
		{"list", "xs", "nested", func(t *testing.T) []byte { return writeGeneric(t, &list{Xs: []int64{1, 2}}) }},
		{"repeated", "xs", "repeated", func(t *testing.T) []byte { return writeGeneric(t, &repeated{Xs: []int64{1, 2}}) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.file(t)
			_, err := ReadParquetFrom(bytes.NewReader(b), int64(len(b)), "odd.parquet")
			if !errors.Is(err, ErrColumnType) {
				t.Fatalf("err = %v, want ErrColumnType", err)
			}
			for _, s := range []string{"odd.parquet", `"` + tc.column + `"`, tc.why} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %s", err, s)
				}
			}
		})
	}
}

func TestParquetBadFiles(t *testing.T) {
	var good bytes.Buffer
	if err := WriteParquetTo(&good, allKinds()); err != nil {
		t.Fatal(err)
	}
	g := good.Bytes()
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"zero bytes", nil, ErrEmpty},
		{"not parquet", []byte("id,label\n1,0\n"), ErrFormat},
		{"magic only", []byte("PAR1PAR1"), ErrFormat},
		{"truncated", g[:len(g)/2], ErrFormat},
		{"footer cut", append(append([]byte(nil), g[:len(g)-20]...), g[len(g)-8:]...), ErrFormat},
		{"pages zeroed", append(append(append([]byte(nil), g[:4]...), make([]byte, len(g)/2)...), g[4+len(g)/2:]...), ErrFormat},
		{"row count lies", patchFooter(t, g, func(md *format.FileMetaData) { md.NumRows = 1 << 40 }), ErrFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadParquetFrom(bytes.NewReader(tc.data), int64(len(tc.data)), "bad.parquet")
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), "bad.parquet") || !strings.HasPrefix(err.Error(), "datasets: ") {
				t.Errorf("error %q should start with datasets: and name the file", err)
			}
		})
	}
}

// TestWriteParquetAtomic checks that a failed write leaves the old file and
// no temporary file behind, and that column lengths are checked before
// parquet-go sees them.
func TestWriteParquetAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data.parquet")
	old := allKinds()
	if err := WriteParquet(path, old); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		name  string
		table *Table
		want  string
	}{
		{"ragged columns", &Table{Columns: []*Column{
			{Name: "a", Kind: Float, Float: []float64{1, 2, 3}},
			{Name: "b", Kind: Float, Float: []float64{1, 2}},
		}}, `column "b": 2 rows, want 3`},
		{"duplicate names", &Table{Columns: []*Column{
			{Name: "a", Kind: Float, Float: []float64{1}},
			{Name: "a", Kind: Int, Float: []float64{1}},
		}}, `column "a": column name appears twice`},
		{"fractional Int", &Table{Columns: []*Column{{Name: "n", Kind: Int, Float: []float64{1, 2.5}}}}, `column "n": Int value 2.5`},
		{"Bool 2", &Table{Columns: []*Column{{Name: "b", Kind: Bool, Float: []float64{2}}}}, `column "b": Bool value 2`},
		{"String with Float values", &Table{Columns: []*Column{{Name: "s", Kind: String, Float: []float64{1}, String: []string{"x"}}}}, `column "s": kind String but has Float values`},
		{"short Null", &Table{Columns: []*Column{{Name: "x", Kind: Float, Float: []float64{1, 2}, Null: []bool{true}}}}, `column "x": 1 null marks for 2 rows`},
		{"no columns", &Table{}, "table has no columns"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			err := WriteParquet(path, tc.table)
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("err = %v, want ErrFormat naming %s and saying %s", err, path, tc.want)
			}
			got, err := ReadParquet(path)
			if err != nil {
				t.Fatal(err)
			}
			assertTablesEqual(t, got, old)
		})
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only data.parquet", names)
	}
	if err := WriteParquet(filepath.Join(dir, "missing", "x.parquet"), old); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}
