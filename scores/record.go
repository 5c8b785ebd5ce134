package scores

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on what the store accepts.
const (
	MaxIDBytes      = 256     // customer id, batch id and participant id
	MaxVersionBytes = 128     // model version and job id
	MaxBatchRows    = 100_000 // rows in one published batch
	MaxBatchGet     = 1_000   // ids in one batch lookup
	MaxTierBytes    = 32
	MaxReasons      = 16
	MaxReasonBytes  = 64
)

// Errors. Every error the package returns wraps one of them.
var (
	ErrInvalid       = errors.New("scores: invalid input")
	ErrNotFound      = errors.New("scores: not found")
	ErrUnknownModel  = errors.New("scores: unknown model version")
	ErrNoChampion    = errors.New("scores: no champion model version")
	ErrBatchConflict = errors.New("scores: batch id already stored with different rows")
	ErrModelConflict = errors.New("scores: model version already registered with a different lineage")
	ErrCorrupt       = errors.New("scores: corrupt store")
	ErrClosed        = errors.New("scores: store closed")
)

// Record is one customer's score under one model version, with its lineage.
type Record struct {
	CustomerID   string
	PD           float64 // probability of default, in [0, 1]
	Points       float64
	Tier         string
	Reasons      []string // top reason codes, most important first
	ModelVersion string
	JobID        string // training job that produced ModelVersion
	Round        int64  // training round that produced ModelVersion
	ScoredAt     time.Time
}

// Row is one customer's score as a participant publishes it; the model
// version is the batch's.
type Row struct {
	CustomerID string
	PD         float64
	Points     float64
	Tier       string
	Reasons    []string
	ScoredAt   time.Time // zero means the time the store receives the batch
}

// Batch is what a participant publishes: its rows, scored with one model
// version. ID identifies the batch across retries.
type Batch struct {
	ID           string
	ModelVersion string
	Participant  string
	Rows         []Row
}

// Model is a registered model version and its lineage.
type Model struct {
	Version      string
	JobID        string
	Round        int64
	Champion     bool
	RegisteredAt time.Time
}

// inputError is a refusal of bad input; it matches ErrInvalid.
type inputError struct{ msg string }

func (e *inputError) Error() string        { return "scores: " + e.msg }
func (e *inputError) Is(target error) bool { return target == ErrInvalid }

func invalid(format string, args ...any) error {
	return &inputError{fmt.Sprintf(format, args...)}
}

// ValidID checks a customer id: 1 to MaxIDBytes bytes of UTF-8.
func ValidID(id string) error {
	if p := nameProblem("customer id", id, MaxIDBytes); p != "" {
		return invalid("%s", p)
	}
	return nil
}

// nameProblem describes what is wrong with s, or returns "".
func nameProblem(what, s string, max int) string {
	switch {
	case s == "":
		return "empty " + what
	case len(s) > max:
		return fmt.Sprintf("%s of %d bytes, over the limit of %d", what, len(s), max)
	case !utf8.ValidString(s):
		return fmt.Sprintf("%s %q is not UTF-8", what, s)
	}
	return ""
}

func validName(what, s string, max int) error {
	if p := nameProblem(what, s, max); p != "" {
		return invalid("%s", p)
	}
	return nil
}

// labelProblem checks a tier or reason code: they are joined with commas in
// exports, so they may not contain one.
func labelProblem(what, s string, max int) string {
	if p := nameProblem(what, s, max); p != "" {
		return p
	}
	if strings.ContainsRune(s, ',') {
		return fmt.Sprintf("%s %q contains a comma", what, s)
	}
	return ""
}

// minScoredAt and maxScoredAt bound a timestamp that fits in int64
// nanoseconds since 1970.
var (
	minScoredAt = time.Unix(0, 0)
	maxScoredAt = time.Unix(0, math.MaxInt64)
)

// problem describes what is wrong with the row on its own, or returns "".
func (r *Row) problem() string {
	if p := nameProblem("customer id", r.CustomerID, MaxIDBytes); p != "" {
		return p
	}
	if math.IsNaN(r.PD) || r.PD < 0 || r.PD > 1 {
		return fmt.Sprintf("customer %q: pd %v outside [0, 1]", r.CustomerID, r.PD)
	}
	if math.IsNaN(r.Points) || math.IsInf(r.Points, 0) {
		return fmt.Sprintf("customer %q: points %v not finite", r.CustomerID, r.Points)
	}
	if p := labelProblem("tier", r.Tier, MaxTierBytes); p != "" {
		return fmt.Sprintf("customer %q: %s", r.CustomerID, p)
	}
	if len(r.Reasons) > MaxReasons {
		return fmt.Sprintf("customer %q: %d reason codes, over the limit of %d", r.CustomerID, len(r.Reasons), MaxReasons)
	}
	for _, c := range r.Reasons {
		if p := labelProblem("reason code", c, MaxReasonBytes); p != "" {
			return fmt.Sprintf("customer %q: %s", r.CustomerID, p)
		}
	}
	if !r.ScoredAt.IsZero() && (!r.ScoredAt.After(minScoredAt) || r.ScoredAt.After(maxScoredAt)) {
		return fmt.Sprintf("customer %q: scored-at %v outside 1970..2262", r.CustomerID, r.ScoredAt)
	}
	return ""
}

// The stored value of a score, format 1, little endian:
//
//	[0]      format (1)
//	[1:9]    PD, float64 bits
//	[9:17]   points, float64 bits
//	[17:25]  scored-at, int64 Unix nanoseconds (0: unset)
//	[25]     tier length t, then t bytes
//	         reason count n, then n times: length l, then l bytes
//
// The customer id is the key and the model version the bucket; the job and
// round come from the model table. Values are canonical: the decoder rejects
// trailing bytes, so decode(encode(x)) == x and encode(decode(b)) == b.
const (
	valueFormat   = 1
	valueFixedLen = 26 // through the tier length byte
	offScoredAt   = 17
)

// valueLen returns the encoded length of r's value.
func valueLen(r *Row) int {
	n := valueFixedLen + len(r.Tier) + 1
	for _, c := range r.Reasons {
		n += 1 + len(c)
	}
	return n
}

// appendValue appends the encoding of r, with scored-at as the given Unix
// nanoseconds, to dst. r must be valid.
func appendValue(dst []byte, r *Row, scoredAt int64) []byte {
	dst = append(dst, valueFormat)
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(r.PD))
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(r.Points))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(scoredAt))
	dst = append(dst, byte(len(r.Tier)))
	dst = append(dst, r.Tier...)
	dst = append(dst, byte(len(r.Reasons)))
	for _, c := range r.Reasons {
		dst = append(dst, byte(len(c)))
		dst = append(dst, c...)
	}
	return dst
}

// view is a decoded value whose byte slices alias the stored bytes: valid
// only as long as they are (in bbolt, the read transaction).
type view struct {
	pd, points float64
	scoredAt   int64
	tier       []byte
	nreasons   int
	reasons    [MaxReasons][]byte
}

var errValue = fmt.Errorf("%w: malformed score value", ErrCorrupt)

// decodeValue decodes a stored value into v without allocating. It never
// panics, whatever b holds.
func decodeValue(b []byte, v *view) error {
	if len(b) < valueFixedLen || b[0] != valueFormat {
		return errValue
	}
	v.pd = math.Float64frombits(binary.LittleEndian.Uint64(b[1:]))
	v.points = math.Float64frombits(binary.LittleEndian.Uint64(b[9:]))
	v.scoredAt = int64(binary.LittleEndian.Uint64(b[offScoredAt:]))
	if math.IsNaN(v.pd) || v.pd < 0 || v.pd > 1 || math.IsNaN(v.points) || math.IsInf(v.points, 0) || v.scoredAt < 0 {
		return errValue
	}
	rest := b[valueFixedLen-1:]
	var ok bool
	if v.tier, rest, ok = lenPrefixed(rest, MaxTierBytes); !ok || len(v.tier) == 0 || !utf8.Valid(v.tier) || len(rest) < 1 {
		return errValue
	}
	v.nreasons = int(rest[0])
	rest = rest[1:]
	if v.nreasons > MaxReasons {
		return errValue
	}
	for i := 0; i < v.nreasons; i++ {
		if v.reasons[i], rest, ok = lenPrefixed(rest, MaxReasonBytes); !ok || len(v.reasons[i]) == 0 || !utf8.Valid(v.reasons[i]) {
			return errValue
		}
	}
	if len(rest) != 0 {
		return errValue
	}
	return nil
}

func lenPrefixed(b []byte, max int) (s, rest []byte, ok bool) {
	if len(b) < 1 {
		return nil, nil, false
	}
	n := int(b[0])
	if n > max || len(b) < 1+n {
		return nil, nil, false
	}
	return b[1 : 1+n], b[1+n:], true
}

func unixNano(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// wrapped adds context to an error, keeping one "scores: " prefix.
type wrapped struct {
	msg string
	err error
}

func (e *wrapped) Error() string { return e.msg }
func (e *wrapped) Unwrap() error { return e.err }

// wrapf returns err with the context in front: "scores: CONTEXT: MESSAGE".
func wrapf(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return &wrapped{
		msg: "scores: " + fmt.Sprintf(format, args...) + ": " + strings.TrimPrefix(err.Error(), "scores: "),
		err: err,
	}
}
