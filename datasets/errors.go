package datasets

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors. Functions return them wrapped in an *Error that names the
// file, column and problem; test for them with errors.Is.
var (
	// ErrMissingColumn: a column named by a schema or split is not in the table.
	ErrMissingColumn = errors.New("datasets: missing column")
	// ErrColumnType: a column has a kind that cannot be used where it is
	// asked for (a String feature or label), or a Parquet column has a type
	// this package does not read.
	ErrColumnType = errors.New("datasets: wrong column type")
	// ErrNullLabel: the label column has missing values.
	ErrNullLabel = errors.New("datasets: null label")
	// ErrNullFeature: a feature column has missing (or non-finite) values.
	ErrNullFeature = errors.New("datasets: null feature")
	// ErrLabelValue: the label column has a value other than 0 or 1.
	ErrLabelValue = errors.New("datasets: label not 0/1")
	// ErrEmpty: the file holds no rows.
	ErrEmpty = errors.New("datasets: no rows")
	// ErrRagged: a CSV row has more or fewer fields than the header.
	ErrRagged = errors.New("datasets: ragged row")
	// ErrFormat: the file is not valid CSV or Parquet.
	ErrFormat = errors.New("datasets: malformed file")
	// ErrID: the id column has nulls or duplicate values.
	ErrID = errors.New("datasets: bad id column")
)

// Error is a problem with one file, and where known one column or line of
// it. It wraps one of the sentinel errors above.
type Error struct {
	Source string // the file, as the caller named it
	Column string // "" when the problem is not about one column
	Line   int    // 1-based CSV line; 0 when unknown or not CSV
	Msg    string // what is wrong, e.g. "label has 3 nulls"
	Err    error  // the sentinel
}

// Error renders e as, for example,
// `datasets: file bank.parquet: column "default": label has 3 nulls`.
func (e *Error) Error() string {
	b := []byte("datasets: ")
	if e.Source != "" {
		b = append(b, "file "...)
		b = append(b, e.Source...)
		b = append(b, ": "...)
	}
	if e.Line > 0 {
		b = append(b, "line "...)
		b = strconv.AppendInt(b, int64(e.Line), 10)
		b = append(b, ": "...)
	}
	if e.Column != "" {
		b = append(b, "column "...)
		b = strconv.AppendQuote(b, e.Column)
		b = append(b, ": "...)
	}
	b = append(b, e.Msg...)
	return string(b)
}

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Err }

func colErr(source, column string, sentinel error, format string, args ...any) *Error {
	return &Error{Source: source, Column: column, Msg: fmt.Sprintf(format, args...), Err: sentinel}
}
