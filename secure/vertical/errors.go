package vertical

import "errors"

// Errors for parameters and inputs.
var (
	ErrParams        = errors.New("vertical: invalid parameters")
	ErrBatchTooSmall = errors.New("vertical: batch size below the minimum")
	ErrBatchTooLarge = errors.New("vertical: batch size would overflow the fixed-point range")
	ErrInput         = errors.New("vertical: invalid input data")
	ErrNotFinite     = errors.New("vertical: value is not finite")
	ErrSameIdentity  = errors.New("vertical: helper identity is also a data party")
	ErrBinTooSmall   = errors.New("vertical: bin holds fewer rows than the minimum")
)

// Errors for messages and the order of steps. A refused message leaves the
// receiver's state unchanged.
var (
	ErrMalformed   = errors.New("vertical: malformed message")
	ErrWrongJob    = errors.New("vertical: message for another job")
	ErrWrongRole   = errors.New("vertical: message from or to the wrong role")
	ErrOutOfOrder  = errors.New("vertical: message out of order")
	ErrDuplicate   = errors.New("vertical: message already received")
	ErrBadKey      = errors.New("vertical: low-order public key")
	ErrBadShape    = errors.New("vertical: message does not fit the job's shape")
	ErrDone        = errors.New("vertical: training already finished")
	ErrNotReady    = errors.New("vertical: step called before its inputs arrived")
	ErrPartyFailed = errors.New("vertical: a party failed; resume from the last checkpoints")
)
