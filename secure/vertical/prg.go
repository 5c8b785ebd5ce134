package vertical

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
)

// Every per-iteration value is a PRG output keyed by (seed, purpose,
// iteration): AES-128-CTR with a zero IV under the key
// HKDF-SHA256(seed, info = label ‖ len(job) ‖ job ‖ len(purpose) ‖ purpose ‖ t),
// read as little-endian uint64 words. A stream is addressable by word, so a
// matrix stream can be produced in parallel slices.

const labelStream = "fedscore/vertical/v1 stream"

// Seed is a 32-byte secret shared by two roles.
type Seed [32]byte

type streamKey [16]byte

func (s *Seed) key(job, purpose string, t uint64) streamKey {
	info := make([]byte, 0, 64+len(job)+len(purpose))
	info = append(info, labelStream...)
	info = binary.LittleEndian.AppendUint16(info, uint16(len(job)))
	info = append(info, job...)
	info = binary.LittleEndian.AppendUint16(info, uint16(len(purpose)))
	info = append(info, purpose...)
	info = binary.LittleEndian.AppendUint64(info, t)
	k, err := hkdf.Key(sha256.New, s[:], nil, string(info), 16)
	if err != nil { // unreachable: 16 bytes is far below the HKDF limit
		panic("vertical: " + err.Error())
	}
	var out streamKey
	copy(out[:], k)
	return out
}

const prgChunk = 1024 // words per keystream buffer

var zeros [prgChunk * 8]byte

// stream returns AES-CTR under k positioned at word off (even).
func (k *streamKey) stream(off uint64) cipher.Stream {
	block, err := aes.NewCipher(k[:])
	if err != nil { // unreachable: the key is 16 bytes
		panic("vertical: " + err.Error())
	}
	var iv [aes.BlockSize]byte
	binary.BigEndian.PutUint64(iv[8:], off/2)
	return cipher.NewCTR(block, iv[:])
}

// prgOp says how the stream is combined with the destination.
type prgOp int

const (
	opSet prgOp = iota // dst = stream
	opAdd              // dst += stream
	opSub              // dst -= stream
)

// apply combines words off, off+1, ... of the stream into dst.
func (k *streamKey) apply(dst []uint64, off uint64, op prgOp) {
	s := k.stream(off &^ 1)
	var buf [prgChunk * 8]byte
	skip := int(off & 1)
	for len(dst) > 0 {
		n := min(prgChunk-skip, len(dst))
		b := buf[:8*(n+skip)]
		s.XORKeyStream(b, zeros[:len(b)])
		b = b[8*skip:]
		skip = 0
		switch op {
		case opSet:
			for i := range n {
				dst[i] = binary.LittleEndian.Uint64(b[8*i:])
			}
		case opAdd:
			for i := range n {
				dst[i] += binary.LittleEndian.Uint64(b[8*i:])
			}
		case opSub:
			for i := range n {
				dst[i] -= binary.LittleEndian.Uint64(b[8*i:])
			}
		}
		dst = dst[n:]
	}
}

// applyParallel is apply over workers slices of dst.
func (k *streamKey) applyParallel(dst []uint64, off uint64, op prgOp, workers int) {
	split(len(dst), 1, workers, func(_, lo, hi int) { k.apply(dst[lo:hi], off+uint64(lo), op) })
}

// words returns n fresh words of the stream (seed, purpose, t).
func (s *Seed) words(job, purpose string, t uint64, n int) []uint64 {
	out := make([]uint64, n)
	k := s.key(job, purpose, t)
	k.apply(out, 0, opSet)
	return out
}

// addWords adds (op opAdd) or subtracts the stream (seed, purpose, t) to dst.
func (s *Seed) addWords(dst []uint64, job, purpose string, t uint64, op prgOp) {
	k := s.key(job, purpose, t)
	k.apply(dst, 0, op)
}
