// Package datasets loads, validates, splits and synthesizes the tabular data
// that fedscore participants train and score on.
//
// A Table is a list of typed columns held in memory column by column: Float,
// Int and Bool columns keep their values as float64 (Int exactly up to 2^53,
// Bool as 0/1), String columns as strings, and a column with missing values
// marks them in Null. Tables come from Parquet (ReadParquet, read page by
// page with parquet-go) or CSV (ReadCSV, with per-column type inference),
// and are written as Snappy-compressed Parquet (WriteParquet, atomically).
//
// A Schema names the id, label and feature columns of a table; Schema.Frame
// checks them (columns present, features numeric and complete, label 0/1)
// and returns the design matrix that models train on. Every check failure
// is an *Error that wraps one of the Err sentinels and names the file and
// column, so that a participant can report exactly what is wrong with its
// data without showing the data.
//
// Splits (StratifiedHoldout, SplitIID, SplitByColumn, SplitVertical) cut one
// table into the parts that simulated participants hold, and Synthesize
// generates seeded wallet customers whose bank and partner columns both
// carry signal about default, for demos and tests.
//
// Nothing here panics on bad input from a file: a malformed file is an
// error wrapping ErrFormat.
package datasets
