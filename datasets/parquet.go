package datasets

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding"
	"github.com/parquet-go/parquet-go/format"
)

// rowGroupRows is how many rows WriteParquet puts in one row group.
const rowGroupRows = 256 << 10

// ReadParquet reads every column of a Parquet file into a Table. See
// ReadParquetFrom for the types it reads.
func ReadParquet(path string) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("datasets: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("datasets: %w", err)
	}
	return ReadParquetFrom(f, st.Size(), path)
}

// ReadParquetFrom reads every column of the Parquet file held in the first
// size bytes of r. source names the file in errors.
//
// Top-level columns of these physical types are read: DOUBLE and FLOAT as
// Float; INT32 and INT64, plain or with an INT logical type (signed or
// unsigned), as Int; BOOLEAN as Bool; BYTE_ARRAY, plain or annotated as a
// string, enum or JSON, as String. An integer column holding a value beyond
// ±2^53, which a float64 cannot hold exactly, is read as String (decimal
// text) so that identifiers survive. Any other type (dates, timestamps,
// decimals, INT96, fixed-length byte arrays, nested or repeated columns) is
// an error wrapping ErrColumnType that names the column. Optional columns
// may hold nulls, which end up in Column.Null.
//
// Files written by Arrow (whose schema root is marked REPEATED) read the
// same as any other. A zero-byte file is ErrEmpty; a damaged one ErrFormat.
func ReadParquetFrom(r io.ReaderAt, size int64, source string) (t *Table, err error) {
	if size <= 0 {
		return nil, &Error{Source: source, Msg: "empty file", Err: ErrEmpty}
	}
	// parquet-go panics on some malformed files (schemas it cannot map,
	// inconsistent page data); a file must never crash the caller.
	defer func() {
		if p := recover(); p != nil {
			t = nil
			err = &Error{Source: source, Msg: fmt.Sprintf("malformed parquet: %v", p), Err: ErrFormat}
		}
	}()
	if err := checkFooter(r, size); err != nil {
		return nil, &Error{Source: source, Msg: "not a readable parquet file: " + err.Error(), Err: ErrFormat}
	}
	pf, err := parquet.OpenFile(r, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, &Error{Source: source, Msg: "not a readable parquet file: " + err.Error(), Err: ErrFormat}
	}
	nrows := pf.NumRows()
	var sum int64
	for _, rg := range pf.RowGroups() {
		if rg.NumRows() < 0 {
			return nil, &Error{Source: source, Msg: "negative row count in row group", Err: ErrFormat}
		}
		sum += rg.NumRows()
	}
	if nrows < 0 || sum != nrows {
		return nil, &Error{Source: source, Msg: fmt.Sprintf("file claims %d rows but its row groups hold %d", nrows, sum), Err: ErrFormat}
	}
	// Reserve room for the declared rows, but no more than a row per byte
	// of file: a damaged footer must not make us reserve gigabytes. (A row
	// can take less than a byte when dictionary or RLE encoded; columns then
	// grow as they are read.)
	hint := int(min(nrows, size+4096))

	root := pf.Root()
	if root == nil {
		return nil, &Error{Source: source, Msg: "no schema", Err: ErrFormat}
	}
	t = &Table{}
	seen := make(map[string]bool)
	for _, pc := range root.Columns() {
		name := pc.Name()
		if seen[name] {
			return nil, colErr(source, name, ErrFormat, "column appears twice")
		}
		seen[name] = true
		c, err := readParquetColumn(r, size, pf, pc, source, hint)
		if err != nil {
			return nil, err
		}
		if int64(c.Len()) != nrows {
			return nil, colErr(source, name, ErrFormat, "%d values for %d rows", c.Len(), nrows)
		}
		t.Columns = append(t.Columns, c)
	}
	return t, nil
}

// parquetKind maps a Parquet column to the Kind it is read as, or explains
// why it cannot be read.
func parquetKind(pc *parquet.Column) (k Kind, unsigned bool, why string) {
	if !pc.Leaf() {
		return 0, false, "nested (group) columns are not supported"
	}
	if pc.Repeated() || pc.MaxRepetitionLevel() > 0 {
		return 0, false, "repeated (list) columns are not supported"
	}
	typ := pc.Type()
	var lt any
	if l := typ.LogicalType(); l != nil {
		lt = l.Value
	}
	unsupported := func() (Kind, bool, string) {
		s := typ.Kind().String()
		if l := typ.LogicalType(); l != nil && l.Value != nil {
			s += " (" + l.String() + ")"
		}
		return 0, false, "type " + s + " is not supported; want DOUBLE, FLOAT, INT32, INT64, BOOLEAN or BYTE_ARRAY strings"
	}
	switch typ.Kind() {
	case parquet.Double, parquet.Float:
		if lt == nil {
			return Float, false, ""
		}
	case parquet.Int32, parquet.Int64:
		switch it := lt.(type) {
		case nil:
			return Int, false, ""
		case *format.IntType:
			return Int, !it.IsSigned, ""
		}
	case parquet.Boolean:
		if lt == nil {
			return Bool, false, ""
		}
	case parquet.ByteArray:
		switch lt.(type) {
		case nil, *format.StringType, *format.EnumType, *format.JsonType:
			return String, false, ""
		}
	}
	return unsupported()
}

// columnReader accumulates one column's values page by page.
type columnReader struct {
	source   string
	col      *Column
	phys     parquet.Kind
	unsigned bool
	maxDef   byte

	// dictionary of the current column chunk, decoded once: INT64 values
	// in dictI, other numbers in dictF, byte arrays in dictS
	dict   parquet.Dictionary
	dictF  []float64
	dictI  []int64
	dictS  []string
	dictOK bool // every dictI value fits a float64 exactly

	// scratch for the present values of a page with nulls
	f []float64
	s []string
}

func readParquetColumn(r io.ReaderAt, size int64, pf *parquet.File, pc *parquet.Column, source string, hint int) (*Column, error) {
	name := pc.Name()
	kind, unsigned, why := parquetKind(pc)
	if why != "" {
		return nil, colErr(source, name, ErrColumnType, "%s", why)
	}
	if pc.MaxDefinitionLevel() > 1 {
		return nil, colErr(source, name, ErrColumnType, "definition level %d: nested optional columns are not supported", pc.MaxDefinitionLevel())
	}
	cr := &columnReader{
		source:   source,
		col:      &Column{Name: name, Kind: kind},
		phys:     pc.Type().Kind(),
		unsigned: unsigned,
		maxDef:   byte(pc.MaxDefinitionLevel()),
	}
	if kind == String {
		cr.col.String = make([]string, 0, hint)
	} else {
		cr.col.Float = make([]float64, 0, hint)
	}
	idx := pc.Index()
	codec := codecOf(pc)
	md := pf.Metadata()
	for g, rg := range pf.RowGroups() {
		chunks := rg.ColumnChunks()
		if idx < 0 || idx >= len(chunks) || g >= len(md.RowGroups) || idx >= len(md.RowGroups[g].Columns) {
			return nil, colErr(source, name, ErrFormat, "row group %d has no chunk for column %d", g, idx)
		}
		if err := checkPages(r, size, &md.RowGroups[g].Columns[idx].MetaData, codec, rg.NumRows()); err != nil {
			return nil, colErr(source, name, ErrFormat, "row group %d: %v", g, err)
		}
		before := cr.col.Len()
		if err := cr.readChunk(chunks[idx]); err != nil {
			return nil, err
		}
		if got := int64(cr.col.Len() - before); got != rg.NumRows() {
			return nil, colErr(source, name, ErrFormat, "row group %d: %d values for %d rows", g, got, rg.NumRows())
		}
	}
	return cr.col, nil
}

func (cr *columnReader) readChunk(chunk parquet.ColumnChunk) error {
	cr.dict, cr.dictF, cr.dictI, cr.dictS = nil, nil, nil, nil
	pages := chunk.Pages()
	defer pages.Close()
	for {
		p, err := pages.ReadPage()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return cr.errf(ErrFormat, "reading page: %v", err)
		}
		err = cr.page(p)
		parquet.Release(p)
		if err != nil {
			return err
		}
	}
}

func (cr *columnReader) errf(sentinel error, format string, args ...any) error {
	return colErr(cr.source, cr.col.Name, sentinel, format, args...)
}

// page appends the rows of one data page.
func (cr *columnReader) page(p parquet.Page) error {
	n := p.NumValues()
	if n < 0 || n > maxPageValues {
		return cr.errf(ErrFormat, "page claims %d values", n)
	}
	present := int(n)
	var defs []byte
	if cr.maxDef > 0 {
		defs = p.DefinitionLevels()
		if len(defs) != int(n) {
			return cr.errf(ErrFormat, "page has %d definition levels for %d values", len(defs), n)
		}
		present = 0
		for _, d := range defs {
			if d == cr.maxDef {
				present++
			}
		}
	}

	// Check the page's values, and find the dictionary indexes if any.
	v := p.Data()
	var ix []int32
	dict := p.Dictionary()
	if dict != nil {
		if v.Kind() != encoding.Int32 {
			return cr.errf(ErrFormat, "dictionary page indexes are %v, want INT32", v.Kind())
		}
		if dict != cr.dict {
			if err := cr.loadDict(dict); err != nil {
				return err
			}
		}
		ix = v.Int32()
		if len(ix) < present {
			return cr.errf(ErrFormat, "%d dictionary indexes for %d values", len(ix), present)
		}
		ix = ix[:present]
		size := max(len(cr.dictF), len(cr.dictI), len(cr.dictS))
		for _, i := range ix {
			if i < 0 || int(i) >= size {
				return cr.errf(ErrFormat, "dictionary index %d out of range [0, %d)", i, size)
			}
		}
	} else if err := cr.checkPlain(v, present); err != nil {
		return err
	}

	// An INT64 beyond ±2^53 turns the column into String, so that ids
	// survive.
	c := cr.col
	if cr.phys == parquet.Int64 && c.Kind == Int {
		big := dict != nil && !cr.dictOK
		if dict == nil {
			for _, x := range v.Int64()[:present] {
				if cr.tooBig(x) {
					big = true
					break
				}
			}
		}
		if big {
			cr.toString()
		}
	}

	// A page without nulls goes straight into the column; one with nulls
	// through scratch, then spread out by its definition levels.
	if present == int(n) {
		if c.Null != nil {
			c.Null = append(c.Null, make([]bool, n)...)
		}
		cr.emit(v, dict != nil, ix, present, &c.Float, &c.String)
		return nil
	}
	cr.f, cr.s = cr.f[:0], cr.s[:0]
	cr.emit(v, dict != nil, ix, present, &cr.f, &cr.s)
	if c.Null == nil {
		c.Null = make([]bool, c.Len(), cap(c.String)+cap(c.Float))
	}
	k := 0
	for _, d := range defs {
		null := d != cr.maxDef
		c.Null = append(c.Null, null)
		switch {
		case c.Kind == String && null:
			c.String = append(c.String, "")
		case c.Kind == String:
			c.String = append(c.String, cr.s[k])
			k++
		case null:
			c.Float = append(c.Float, math.NaN())
		default:
			c.Float = append(c.Float, cr.f[k])
			k++
		}
	}
	return nil
}

func (cr *columnReader) tooBig(x int64) bool {
	if cr.unsigned {
		return uint64(x) > maxExactInt
	}
	return x > maxExactInt || x < -maxExactInt
}

// checkPlain checks that a page of plain values holds n of the column's
// physical type.
func (cr *columnReader) checkPlain(v encoding.Values, n int) error {
	if v.Kind() != encodingKind(cr.phys) {
		return cr.errf(ErrFormat, "page holds %v values in a %v column", v.Kind(), cr.phys)
	}
	var have int
	switch cr.phys {
	case parquet.Double:
		have = len(v.Double())
	case parquet.Float:
		have = len(v.Float())
	case parquet.Int32:
		have = len(v.Int32())
	case parquet.Int64:
		have = len(v.Int64())
	case parquet.Boolean:
		if bits := v.Boolean(); len(bits)*8 < n {
			return cr.errf(ErrFormat, "page holds %d bits, want %d", len(bits)*8, n)
		}
		return nil
	case parquet.ByteArray:
		data, off := v.ByteArray()
		if len(off) < n+1 {
			return cr.errf(ErrFormat, "page holds %d byte array offsets, want %d", len(off), n+1)
		}
		for i := range n {
			if off[i] > off[i+1] {
				return cr.errf(ErrFormat, "byte array offsets decrease")
			}
		}
		if int(off[n]) > len(data) {
			return cr.errf(ErrFormat, "byte array offset %d beyond %d bytes", off[n], len(data))
		}
		return nil
	default:
		return cr.errf(ErrColumnType, "unsupported physical type %v", cr.phys)
	}
	if have != n {
		return cr.errf(ErrFormat, "page holds %d values, want %d", have, n)
	}
	return nil
}

// loadDict decodes a column chunk's dictionary.
func (cr *columnReader) loadDict(dict parquet.Dictionary) error {
	cr.dict, cr.dictF, cr.dictI, cr.dictS, cr.dictOK = dict, nil, nil, nil, true
	n := dict.Len()
	v := dict.Page().Data()
	if err := cr.checkPlain(v, n); err != nil {
		return err
	}
	switch cr.phys {
	case parquet.Int64:
		cr.dictI = append([]int64(nil), v.Int64()...)
		for _, x := range cr.dictI {
			if cr.tooBig(x) {
				cr.dictOK = false
			}
		}
	case parquet.ByteArray:
		cr.emit(v, false, nil, n, nil, &cr.dictS)
	case parquet.Boolean:
		return cr.errf(ErrFormat, "dictionary-encoded BOOLEAN")
	default:
		cr.emit(v, false, nil, n, &cr.dictF, nil)
	}
	return nil
}

// emit appends n checked values (through the dictionary when dict is set)
// to *fs, or to *ss for a String column.
func (cr *columnReader) emit(v encoding.Values, dict bool, ix []int32, n int, fs *[]float64, ss *[]string) {
	str := cr.col.Kind == String
	if dict {
		switch {
		case cr.dictS != nil || cr.phys == parquet.ByteArray:
			for _, i := range ix {
				*ss = append(*ss, cr.dictS[i])
			}
		case cr.phys == parquet.Int64:
			for _, i := range ix {
				if str {
					*ss = append(*ss, cr.formatInt(cr.dictI[i]))
				} else {
					*fs = append(*fs, cr.intFloat(cr.dictI[i]))
				}
			}
		default:
			for _, i := range ix {
				*fs = append(*fs, cr.dictF[i])
			}
		}
		return
	}
	switch cr.phys {
	case parquet.Double:
		*fs = append(*fs, v.Double()[:n]...)
	case parquet.Float:
		for _, x := range v.Float()[:n] {
			*fs = append(*fs, float64(x))
		}
	case parquet.Int32:
		for _, x := range v.Int32()[:n] {
			if cr.unsigned {
				*fs = append(*fs, float64(uint32(x)))
			} else {
				*fs = append(*fs, float64(x))
			}
		}
	case parquet.Int64:
		for _, x := range v.Int64()[:n] {
			if str {
				*ss = append(*ss, cr.formatInt(x))
			} else {
				*fs = append(*fs, cr.intFloat(x))
			}
		}
	case parquet.Boolean:
		bits := v.Boolean()
		for i := range n {
			*fs = append(*fs, float64(bits[i>>3]>>(i&7)&1))
		}
	case parquet.ByteArray:
		data, off := v.ByteArray()
		if n == 0 {
			return
		}
		// One allocation per page; each value is a substring of it.
		all := string(data[off[0]:off[n]])
		for i := range n {
			*ss = append(*ss, all[off[i]-off[0]:off[i+1]-off[0]])
		}
	}
}

func (cr *columnReader) intFloat(x int64) float64 {
	if cr.unsigned {
		return float64(uint64(x))
	}
	return float64(x)
}

func (cr *columnReader) formatInt(x int64) string {
	if cr.unsigned {
		return strconv.FormatUint(uint64(x), 10)
	}
	return strconv.FormatInt(x, 10)
}

// encodingKind maps a physical type to the kind of its decoded values.
func encodingKind(k parquet.Kind) encoding.Kind {
	switch k {
	case parquet.Boolean:
		return encoding.Boolean
	case parquet.Int32:
		return encoding.Int32
	case parquet.Int64:
		return encoding.Int64
	case parquet.Float:
		return encoding.Float
	case parquet.Double:
		return encoding.Double
	case parquet.ByteArray:
		return encoding.ByteArray
	}
	return encoding.Undefined
}

// toString turns the Int column read so far into a String column, for a
// column that turns out to hold integers beyond ±2^53.
func (cr *columnReader) toString() {
	c := cr.col
	ss := make([]string, len(c.Float), cap(c.Float))
	for i, x := range c.Float {
		if !c.IsNull(i) {
			ss[i] = strconv.FormatInt(int64(x), 10)
		}
	}
	c.Kind, c.Float, c.String = String, nil, ss
}

// WriteParquet writes t to path as a Snappy-compressed Parquet file, with a
// row group every 256k rows. It writes to a temporary file in the same
// directory, syncs it and renames it over path, so that readers see either
// the old file or the whole new one. The file is readable by its owner
// only.
//
// Column order and kinds survive a round trip through ReadParquet: Float is
// written as DOUBLE, Int as INT64, Bool as BOOLEAN and String as BYTE_ARRAY
// (UTF8); a column with nulls is OPTIONAL, one without REQUIRED.
func WriteParquet(path string, t *Table) error {
	if err := checkWritable(t, path); err != nil {
		return err
	}
	return writeAtomic(path, func(w io.Writer) error { return writeParquet(w, t, rowGroupRows) })
}

// writeAtomic writes a file through a temporary file in the same
// directory, synced and then renamed over path.
func writeAtomic(path string, write func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("datasets: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err := write(bw); err != nil {
		return writeErr(path, err)
	}
	if err := bw.Flush(); err != nil {
		return writeErr(path, err)
	}
	if err := tmp.Sync(); err != nil {
		return writeErr(path, err)
	}
	if err := tmp.Close(); err != nil {
		return writeErr(path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("datasets: %w", err)
	}
	// Make the rename itself durable; not every system can sync a directory.
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// WriteParquetTo writes t to w in the format WriteParquet uses.
func WriteParquetTo(w io.Writer, t *Table) error {
	if err := checkWritable(t, ""); err != nil {
		return err
	}
	if err := writeParquet(w, t, rowGroupRows); err != nil {
		return writeErr("", err)
	}
	return nil
}

func writeErr(source string, err error) error {
	if source == "" {
		return fmt.Errorf("datasets: writing parquet: %w", err)
	}
	return fmt.Errorf("datasets: writing %s: %w", source, err)
}

func checkWritable(t *Table, source string) error {
	if err := t.validate(); err != nil {
		err.Source = source
		return err
	}
	if len(t.Columns) == 0 {
		return &Error{Source: source, Msg: "table has no columns", Err: ErrFormat}
	}
	return nil
}

func writeParquet(w io.Writer, t *Table, groupRows int) error {
	g := orderedGroup{Group: parquet.Group{}, rank: make(map[string]int, len(t.Columns))}
	for i, c := range t.Columns {
		var node parquet.Node
		switch c.Kind {
		case Float:
			node = parquet.Leaf(parquet.DoubleType)
		case Int:
			node = parquet.Leaf(parquet.Int64Type)
		case Bool:
			node = parquet.Leaf(parquet.BooleanType)
		case String:
			node = parquet.String()
		}
		if c.NullCount() > 0 {
			node = parquet.Optional(node)
		}
		g.Group[c.Name] = node
		g.rank[c.Name] = i
	}
	schema := parquet.NewSchema("fedscore", g)
	leaves := make([]parquet.LeafColumn, len(t.Columns))
	for i, c := range t.Columns {
		leaf, ok := schema.Lookup(c.Name)
		if !ok {
			return fmt.Errorf("column %q missing from parquet schema", c.Name)
		}
		leaves[i] = leaf
	}
	pw := parquet.NewWriter(w, schema, parquet.Compression(&parquet.Snappy))
	n := t.Rows()
	vals := make([]parquet.Value, 0, min(n, groupRows))
	for lo := 0; lo < n; lo += groupRows {
		hi := min(lo+groupRows, n)
		writers := pw.ColumnWriters()
		for i, c := range t.Columns {
			vals = appendValues(vals[:0], c, lo, hi, leaves[i])
			got, err := writers[leaves[i].ColumnIndex].WriteRowValues(vals)
			if err != nil {
				return fmt.Errorf("column %q: %w", c.Name, err)
			}
			// parquet-go writes a corrupt file, without error, when
			// columns get different row counts: check each one.
			if got != hi-lo {
				return fmt.Errorf("column %q: wrote %d of %d rows", c.Name, got, hi-lo)
			}
		}
		if err := pw.Flush(); err != nil {
			return err
		}
	}
	if err := pw.Close(); err != nil {
		return err
	}
	return nil
}

func appendValues(vals []parquet.Value, c *Column, lo, hi int, leaf parquet.LeafColumn) []parquet.Value {
	ci, def := leaf.ColumnIndex, leaf.MaxDefinitionLevel
	for i := lo; i < hi; i++ {
		var v parquet.Value
		switch {
		case c.IsNull(i):
			vals = append(vals, parquet.NullValue().Level(0, 0, ci))
			continue
		case c.Kind == Float:
			v = parquet.DoubleValue(c.Float[i])
		case c.Kind == Int:
			v = parquet.Int64Value(int64(c.Float[i]))
		case c.Kind == Bool:
			v = parquet.BooleanValue(c.Float[i] != 0)
		default:
			// The writer copies the bytes; no need to allocate them.
			s := c.String[i]
			v = parquet.ByteArrayValue(unsafe.Slice(unsafe.StringData(s), len(s)))
		}
		vals = append(vals, v.Level(0, def, ci))
	}
	return vals
}

// orderedGroup is a parquet.Group whose fields come out in table order
// rather than sorted by name, so that a round trip keeps column order.
type orderedGroup struct {
	parquet.Group
	rank map[string]int
}

func (g orderedGroup) Fields() []parquet.Field {
	fs := g.Group.Fields()
	slices.SortFunc(fs, func(a, b parquet.Field) int { return g.rank[a.Name()] - g.rank[b.Name()] })
	return fs
}
