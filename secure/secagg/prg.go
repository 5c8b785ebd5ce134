package secagg

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"sync"
)

// The PRG is AES-128-CTR with a zero IV, keyed by a KDF of the seed (each key
// is used for one vector only). Its output is read as little-endian uint64
// words and added to, or subtracted from, the accumulator a chunk at a time:
// the keystream never occupies more than one L1-sized buffer.

const prgChunkWords = 1024

// zeroChunk is the all-zero plaintext whose encryption is the keystream.
// It is never written.
var zeroChunk [prgChunkWords * 8]byte

type maskOp struct {
	key [16]byte
	neg bool // subtract instead of add
}

// expand adds (or subtracts) PRG(key) to acc[0:len(acc)], starting the
// keystream at word offset off of the vector (off must be even: one AES
// block holds two words).
func expand(acc []uint64, op *maskOp, off int, buf *[prgChunkWords * 8]byte) {
	block, err := aes.NewCipher(op.key[:])
	if err != nil { // unreachable: the key is 16 bytes
		panic("secagg: " + err.Error())
	}
	var iv [aes.BlockSize]byte
	binary.BigEndian.PutUint64(iv[8:], uint64(off/2))
	ks := cipher.NewCTR(block, iv[:])
	for len(acc) > 0 {
		n := min(len(acc), prgChunkWords)
		b := buf[:8*n]
		ks.XORKeyStream(b, zeroChunk[:8*n])
		if op.neg {
			subWords(acc[:n], b)
		} else {
			addWords(acc[:n], b)
		}
		acc = acc[n:]
	}
}

// addWords adds the little-endian words of b to a. Four words per iteration
// lets the compiler drop the bounds checks.
func addWords(a []uint64, b []byte) {
	for len(a) >= 4 && len(b) >= 32 {
		a[0] += binary.LittleEndian.Uint64(b[0:8])
		a[1] += binary.LittleEndian.Uint64(b[8:16])
		a[2] += binary.LittleEndian.Uint64(b[16:24])
		a[3] += binary.LittleEndian.Uint64(b[24:32])
		a, b = a[4:], b[32:]
	}
	for i := range a {
		a[i] += binary.LittleEndian.Uint64(b[8*i:])
	}
}

func subWords(a []uint64, b []byte) {
	for len(a) >= 4 && len(b) >= 32 {
		a[0] -= binary.LittleEndian.Uint64(b[0:8])
		a[1] -= binary.LittleEndian.Uint64(b[8:16])
		a[2] -= binary.LittleEndian.Uint64(b[16:24])
		a[3] -= binary.LittleEndian.Uint64(b[24:32])
		a, b = a[4:], b[32:]
	}
	for i := range a {
		a[i] -= binary.LittleEndian.Uint64(b[8*i:])
	}
}

// applyMasks applies every op to acc. With workers > 1 the vector is cut into
// that many slices, each expanded on its own goroutine with counters seeked
// to the slice start; addition mod 2^64 commutes, so the result is the same.
func applyMasks(acc []uint64, ops []maskOp, workers int) {
	if len(ops) == 0 {
		return
	}
	workers = min(workers, len(acc)/(4*prgChunkWords))
	if workers <= 1 {
		var buf [prgChunkWords * 8]byte
		for i := range ops {
			expand(acc, &ops[i], 0, &buf)
		}
		return
	}
	per := (len(acc)/workers + 1) &^ 1 // even, so slices start on block boundaries
	var wg sync.WaitGroup
	for start := 0; start < len(acc); start += per {
		part := acc[start:min(start+per, len(acc))]
		wg.Add(1)
		go func(part []uint64, off int) {
			defer wg.Done()
			var buf [prgChunkWords * 8]byte
			for i := range ops {
				expand(part, &ops[i], off, &buf)
			}
		}(part, start)
	}
	wg.Wait()
}
