package secagg

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Errors for a refused message. A refused message leaves the receiver's state
// unchanged: the runtime logs the error and carries on.
var (
	ErrMalformed          = errors.New("secagg: malformed message")
	ErrWrongJob           = errors.New("secagg: message for another job")
	ErrWrongRound         = errors.New("secagg: message for another round")
	ErrWrongSender        = errors.New("secagg: message claims another sender")
	ErrWrongRecipient     = errors.New("secagg: message addressed to someone else")
	ErrOutOfPhase         = errors.New("secagg: message out of phase")
	ErrLate               = errors.New("secagg: message arrived after its phase closed")
	ErrDuplicate          = errors.New("secagg: duplicate message")
	ErrUnknownParticipant = errors.New("secagg: sender is not a member of the current set")
	ErrDuplicateKey       = errors.New("secagg: public key already advertised")
	ErrBadMessage         = errors.New("secagg: message content inconsistent with the round")
)

// Errors with which a participant refuses a step and aborts the round. An
// aborted participant answers nothing more in that round (ErrAborted).
var (
	ErrAborted         = errors.New("secagg: participant aborted this round")
	ErrClosed          = errors.New("secagg: round closed for this participant")
	ErrRosterMismatch  = errors.New("secagg: roster does not carry this participant's keys")
	ErrBadPublicKey    = errors.New("secagg: low-order or duplicate public key")
	ErrDecrypt         = errors.New("secagg: share ciphertext failed to authenticate")
	ErrSelfDropped     = errors.New("secagg: unmasking request lists this participant as dropped")
	ErrNotNeighbour    = errors.New("secagg: unmasking request names a non-neighbour")
	ErrInconsistent    = errors.New("secagg: unmasking request names a participant outside U2")
	ErrRepeatedRequest = errors.New("secagg: unmasking request already answered")
)

// Errors that end a round without a sum. The coordinator returns them inside
// a *RoundError, which says who dropped in which phase.
var (
	ErrRoundFailed      = errors.New("secagg: round failed, no sum released")
	ErrTooFewSurvivors  = errors.New("secagg: fewer survivors than the global minimum")
	ErrBelowThreshold   = errors.New("secagg: fewer live share holders than the threshold")
	ErrReconstruction   = errors.New("secagg: reconstructed secret does not match its commitment")
	ErrParams           = errors.New("secagg: invalid parameters")
	ErrInput            = errors.New("secagg: invalid input vector")
	ErrNotFinite        = errors.New("secagg: NaN or infinite value")
	ErrTooManyToDecode  = errors.New("secagg: too many participants for the fixed-point range")
	errInternalKeyDeriv = errors.New("secagg: key derivation failed")
)

// Dropouts lists, per phase, the participants (indices in U) that the
// coordinator counted as dropped in that phase: they did not send that
// phase's message before it closed, or their message was refused.
// Participants that drop out do not appear again in later phases.
type Dropouts map[Phase][]uint32

// String renders the dropouts phase by phase, in phase order.
func (d Dropouts) String() string {
	var b strings.Builder
	for _, ph := range []Phase{PhaseAdvertiseKeys, PhaseShareKeys, PhaseMaskedInput, PhaseUnmasking} {
		ids := d[ph]
		if len(ids) == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s %v", ph, ids)
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

// Total is the number of dropped participants over all phases.
func (d Dropouts) Total() int {
	n := 0
	for _, ids := range d {
		n += len(ids)
	}
	return n
}

func (d Dropouts) clone() Dropouts {
	c := make(Dropouts, len(d))
	for ph, ids := range d {
		c[ph] = slices.Clone(ids)
	}
	return c
}

// RoundError reports a failed round: in which phase the coordinator gave up,
// why, and who had dropped by then. No sum is released with it.
//
// errors.Is(err, ErrRoundFailed) holds for every RoundError, and so does
// errors.Is(err, e.Cause).
type RoundError struct {
	Phase   Phase    // phase the coordinator was closing
	Cause   error    // ErrTooFewSurvivors, ErrBelowThreshold or ErrReconstruction
	Dropped Dropouts // who dropped in which phase
	// Owners lists the participants whose secret could not be recovered
	// (ErrBelowThreshold, ErrReconstruction); empty for ErrTooFewSurvivors.
	Owners []uint32
	// Have and Need give the count that fell short (survivors or holders).
	Have, Need int
}

func (e *RoundError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "secagg: round failed closing %s: %v", e.Phase, strings.TrimPrefix(e.Cause.Error(), "secagg: "))
	if e.Need > 0 {
		fmt.Fprintf(&b, " (have %d, need %d)", e.Have, e.Need)
	}
	if len(e.Owners) > 0 {
		fmt.Fprintf(&b, "; secrets of %v unrecoverable", e.Owners)
	}
	fmt.Fprintf(&b, "; dropped: %s", e.Dropped)
	return b.String()
}

// Unwrap lets errors.Is match both ErrRoundFailed and the cause.
func (e *RoundError) Unwrap() []error { return []error{ErrRoundFailed, e.Cause} }
