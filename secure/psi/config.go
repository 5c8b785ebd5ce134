package psi

import (
	"crypto/rand"
	"fmt"
	"io"
	"runtime"
)

// Defaults and limits.
const (
	DefaultBatchSize = 1 << 16 // ids per batch message
	MaxBatchSize     = 1 << 20
	MaxIDs           = 1<<32 - 1 // positions travel as u32
	MaxJobLen        = 1024
	PointSize        = 32 // an X25519 u-coordinate
	TagSize          = 16 // the compared prefix of H(id)^ab
)

// Protocol selects the intersection protocol; both parties must use the
// same one.
type Protocol uint8

// The protocols. The zero value means ProtocolOPRF.
const (
	// ProtocolOPRF is KKRT16's batched OPRF by OT extension: symmetric
	// cryptography apart from 512 base OTs, about twenty times faster than
	// ECDH on this hardware. The default.
	ProtocolOPRF Protocol = 1
	// ProtocolECDH is the Diffie-Hellman protocol on X25519: four
	// variable-base multiplications per pair of ids, no oblivious transfer.
	ProtocolECDH Protocol = 2
)

func (p Protocol) String() string {
	switch p {
	case ProtocolOPRF:
		return "oprf"
	case ProtocolECDH:
		return "ecdh"
	}
	return fmt.Sprintf("protocol(%d)", uint8(p))
}

// ParseProtocol reads a protocol's name as String writes it.
func ParseProtocol(s string) (Protocol, error) {
	switch s {
	case "oprf", "":
		return ProtocolOPRF, nil
	case "ecdh":
		return ProtocolECDH, nil
	}
	return 0, fmt.Errorf("%w: unknown protocol %q (want oprf or ecdh)", ErrConfig, s)
}

// Config is what both parties agree on for one alignment job.
type Config struct {
	// Protocol is the intersection protocol; 0 means ProtocolOPRF.
	Protocol Protocol
	// Job is the job id; it domain-separates the hashes. Required.
	Job string
	// BankOnly makes only the bank learn the intersection; the partner
	// learns its size. Both parties must set the same value.
	BankOnly bool
	// BatchSize is the number of ids per Batch message; 0 means
	// DefaultBatchSize.
	BatchSize int
	// Workers is the number of goroutines that multiply; 0 means
	// runtime.GOMAXPROCS(0).
	Workers int
	// Rand supplies the secrets, seeds and shuffles; nil means crypto/rand.
	// Under ECDH a deterministic reader gives a deterministic twin (the
	// same transcript). Under OPRF it fixes the outputs but not the
	// transcript: circl's simot draws the base OTs' scalars and nonces
	// from crypto/rand itself.
	Rand io.Reader
	// Normalize, if set, runs on every id after trimming, for example
	// Unicode NFC. Both parties must use the same one.
	Normalize func(string) (string, error)
}

func (c *Config) withDefaults() (Config, error) {
	d := *c
	if d.Job == "" {
		return d, fmt.Errorf("%w: empty job id", ErrConfig)
	}
	if len(d.Job) > MaxJobLen {
		return d, fmt.Errorf("%w: job id longer than %d bytes", ErrConfig, MaxJobLen)
	}
	if d.Protocol == 0 {
		d.Protocol = ProtocolOPRF
	}
	if d.Protocol != ProtocolOPRF && d.Protocol != ProtocolECDH {
		return d, fmt.Errorf("%w: unknown protocol %d", ErrConfig, d.Protocol)
	}
	if d.BatchSize == 0 {
		d.BatchSize = DefaultBatchSize
	}
	if d.BatchSize < 1 || d.BatchSize > MaxBatchSize {
		return d, fmt.Errorf("%w: batch size %d outside [1, %d]", ErrConfig, d.BatchSize, MaxBatchSize)
	}
	if d.Workers == 0 {
		d.Workers = runtime.GOMAXPROCS(0)
	}
	if d.Workers < 1 {
		return d, fmt.Errorf("%w: %d workers", ErrConfig, d.Workers)
	}
	if d.Rand == nil {
		d.Rand = rand.Reader
	}
	return d, nil
}
