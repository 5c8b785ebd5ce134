package datasets

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ReadCSV reads a comma-separated file with a header row. See ReadCSVFrom.
func ReadCSV(path string) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("datasets: %w", err)
	}
	defer f.Close()
	return ReadCSVFrom(bufio.NewReaderSize(f, 1<<20), path)
}

// ReadCSVFrom reads comma-separated values with a header row from r. source
// names the file in errors.
//
// Cells are trimmed of surrounding white space. An empty cell, or one that
// reads NA, NaN or null (in any case), is a null. Each column's kind is
// inferred from its non-null cells:
//
//   - Int if every one parses as a base-10 int64 within ±2^53;
//   - String if every one parses as an int64 but some lie beyond ±2^53
//     (float64 cannot hold them exactly; these are usually identifiers);
//   - else Float if every one parses as a float64;
//   - else Bool if every one is true or false (in any case);
//   - else String.
//
// A column with no non-null cell is Float. A header cell that is empty is
// named "_c" followed by its 0-based position.
//
// A row with more or fewer fields than the header is an error wrapping
// ErrRagged that names the line; a file with no header, or a header and no
// rows, ErrEmpty; invalid quoting or a repeated column name, ErrFormat.
func ReadCSVFrom(r io.Reader, source string) (*Table, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // ragged rows are reported below, with a column name
	header, err := cr.Read()
	if err == io.EOF {
		return nil, &Error{Source: source, Msg: "empty file, no header", Err: ErrEmpty}
	}
	if err != nil {
		return nil, csvError(source, err)
	}
	names := make([]string, len(header))
	seen := make(map[string]bool, len(header))
	for j, h := range header {
		if j == 0 {
			h = strings.TrimPrefix(h, "\ufeff") // byte order mark
		}
		h = strings.TrimSpace(h)
		if h == "" {
			h = "_c" + strconv.Itoa(j)
		}
		if seen[h] {
			return nil, &Error{Source: source, Line: 1, Column: h, Msg: "column name appears twice in the header", Err: ErrFormat}
		}
		seen[h] = true
		names[j] = h
	}
	cells := make([][]string, len(names))
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvError(source, err)
		}
		if len(rec) != len(names) {
			line, _ := cr.FieldPos(0)
			e := &Error{Source: source, Line: line, Err: ErrRagged}
			if len(rec) < len(names) {
				e.Column = names[len(rec)]
				e.Msg = fmt.Sprintf("row has %d fields, header has %d (missing this column and any after it)", len(rec), len(names))
			} else {
				e.Column = names[len(names)-1]
				e.Msg = fmt.Sprintf("row has %d fields, header has %d (extra fields after this last column)", len(rec), len(names))
			}
			return nil, e
		}
		for j, s := range rec {
			cells[j] = append(cells[j], strings.TrimSpace(s))
		}
	}
	if len(cells) == 0 || len(cells[0]) == 0 {
		return nil, &Error{Source: source, Msg: "header but no rows", Err: ErrEmpty}
	}
	t := &Table{Columns: make([]*Column, len(names))}
	for j, name := range names {
		t.Columns[j] = inferColumn(name, cells[j])
	}
	return t, nil
}

func csvError(source string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &Error{Source: source, Line: pe.Line, Msg: pe.Err.Error(), Err: ErrFormat}
	}
	return &Error{Source: source, Msg: err.Error(), Err: ErrFormat}
}

// isNullCell reports whether a trimmed CSV cell stands for a missing value.
func isNullCell(s string) bool {
	switch len(s) {
	case 0:
		return true
	case 2:
		return strings.EqualFold(s, "NA")
	case 3:
		return strings.EqualFold(s, "NaN")
	case 4:
		return strings.EqualFold(s, "null")
	}
	return false
}

// inferColumn builds a column from trimmed cells by the rules of ReadCSVFrom.
func inferColumn(name string, cells []string) *Column {
	n := len(cells)
	var null []bool
	nonNull := 0
	allInt, bigInt, allFloat, allBool := true, false, true, true
	vals := make([]float64, n)
	for i, s := range cells {
		if isNullCell(s) {
			if null == nil {
				null = make([]bool, n)
			}
			null[i] = true
			vals[i] = math.NaN()
			continue
		}
		nonNull++
		if !allInt && !allFloat && !allBool {
			continue // String; only nulls still matter
		}
		if allInt {
			if x, err := strconv.ParseInt(s, 10, 64); err == nil {
				if x > maxExactInt || x < -maxExactInt {
					bigInt = true
				}
				vals[i] = float64(x)
				allBool = false
				continue
			}
			allInt = false
		}
		if allFloat {
			if x, err := strconv.ParseFloat(s, 64); err == nil {
				vals[i] = x
				allBool = false
				continue
			}
			allFloat = false
		}
		if allBool {
			switch {
			case strings.EqualFold(s, "true"):
				vals[i] = 1
				continue
			case strings.EqualFold(s, "false"):
				vals[i] = 0
				continue
			}
			allBool = false
		}
	}
	c := &Column{Name: name, Null: null}
	switch {
	case nonNull == 0:
		c.Kind, c.Float = Float, vals
	case allInt && !bigInt:
		c.Kind, c.Float = Int, vals
	case allInt: // integers a float64 cannot hold exactly
		c.Kind = String
	case allFloat:
		c.Kind, c.Float = Float, vals
	case allBool:
		c.Kind, c.Float = Bool, vals
	default:
		c.Kind = String
	}
	if c.Kind == String {
		c.String = make([]string, n)
		for i, s := range cells {
			if null == nil || !null[i] {
				c.String[i] = s
			}
		}
	}
	return c
}

// WriteCSV writes t to path as comma-separated values with a header row,
// atomically (a temporary file in the same directory, synced and renamed)
// like WriteParquet. Nulls are empty cells; numbers are written as
// Column.Format renders them. Reading the file back infers kinds afresh, so
// a String column of digits comes back Int.
func WriteCSV(path string, t *Table) error {
	if err := checkWritable(t, path); err != nil {
		return err
	}
	return writeAtomic(path, func(w io.Writer) error { return writeCSV(w, t) })
}

// WriteCSVTo writes t to w in the format WriteCSV uses.
func WriteCSVTo(w io.Writer, t *Table) error {
	if err := checkWritable(t, ""); err != nil {
		return err
	}
	if err := writeCSV(w, t); err != nil {
		return writeErr("", err)
	}
	return nil
}

func writeCSV(w io.Writer, t *Table) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(t.Names()); err != nil {
		return err
	}
	rec := make([]string, len(t.Columns))
	for i := range t.Rows() {
		for j, c := range t.Columns {
			rec[j] = c.Format(i)
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// ImportCSV reads a CSV file (see ReadCSVFrom) and writes it to parquetPath
// (see WriteParquet), returning the table.
func ImportCSV(csvPath, parquetPath string) (*Table, error) {
	t, err := ReadCSV(csvPath)
	if err != nil {
		return nil, err
	}
	if err := WriteParquet(parquetPath, t); err != nil {
		return nil, err
	}
	return t, nil
}

// ReadTable reads a .csv or .parquet file (by extension, in any case).
func ReadTable(path string) (*Table, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".csv":
		return ReadCSV(path)
	case ".parquet":
		return ReadParquet(path)
	default:
		return nil, &Error{Source: path, Msg: fmt.Sprintf("unknown extension %q; want .csv or .parquet", ext), Err: ErrFormat}
	}
}
