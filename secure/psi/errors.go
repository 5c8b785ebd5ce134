package psi

import (
	"errors"
	"fmt"
)

// Errors for bad input ids. An *IDError wraps one of them.
var (
	ErrInvalidUTF8 = errors.New("psi: id is not valid UTF-8")
	ErrEmptyID     = errors.New("psi: id is empty after trimming white space")
	ErrDuplicateID = errors.New("psi: duplicate id after normalisation")
	ErrNormalize   = errors.New("psi: normaliser refused an id")
	ErrNoIDs       = errors.New("psi: no ids")
	ErrTooManyIDs  = errors.New("psi: too many ids")
)

// Errors for configuration and messages.
var (
	ErrConfig           = errors.New("psi: invalid configuration")
	ErrMalformed        = errors.New("psi: malformed message")
	ErrWrongJob         = errors.New("psi: message for another job")
	ErrWrongRole        = errors.New("psi: message from the wrong role")
	ErrModeMismatch     = errors.New("psi: parties disagree on who learns the intersection")
	ErrOutOfOrder       = errors.New("psi: message out of order")
	ErrProtocolMismatch = errors.New("psi: parties run different protocols")
	ErrBaseOT           = errors.New("psi: base oblivious transfer failed")
	ErrBadBatch         = errors.New("psi: batch does not fit the announced framing")
	ErrDuplicate        = errors.New("psi: batch already received")
	ErrBadPoint         = errors.New("psi: low-order point")
	ErrIncomplete       = errors.New("psi: protocol not finished")
)

// IDError reports bad ids: how many, and one example.
type IDError struct {
	Err     error  // ErrInvalidUTF8, ErrEmptyID, ErrDuplicateID or ErrNormalize
	Count   int    // ids with this fault
	Row     int    // row of the example
	FirstAt int    // for duplicates, the row where the id first appeared; else -1
	Example string // quoted prefix of the offending id
	Cause   error  // the normaliser's error, for ErrNormalize
}

func (e *IDError) Error() string {
	s := fmt.Sprintf("%v: %d id(s), e.g. row %d %s", e.Err, e.Count, e.Row, e.Example)
	if e.FirstAt >= 0 {
		s += fmt.Sprintf(" (first at row %d)", e.FirstAt)
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap lets errors.Is match the kind of fault.
func (e *IDError) Unwrap() error { return e.Err }

// example quotes at most 32 bytes of id.
func example(id string) string {
	if len(id) > 32 {
		return fmt.Sprintf("%q…", id[:32])
	}
	return fmt.Sprintf("%q", id)
}
