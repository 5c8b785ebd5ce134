package secagg

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"sync"
)

// The PRG is AES-128-CTR with a zero IV, keyed by a KDF of the seed; each key
// masks one vector only. Its output is read as little-endian uint64 words
// and added to, or subtracted from, the accumulator one L1-sized chunk at a
// time: the keystream never occupies more than a few small buffers, and four
// streams are summed per pass over the accumulator.

const (
	prgChunkWords = 512 // words per keystream buffer (4 KiB)
	prgFuse       = 4   // streams summed per pass
)

// zeroChunk is the all-zero plaintext whose encryption is the keystream.
// It is never written.
var zeroChunk [prgChunkWords * 8]byte

type maskOp struct {
	key [16]byte
	neg bool // subtract instead of add
}

// prgScratch holds one worker's keystream buffers.
type prgScratch struct {
	bytes [prgFuse][prgChunkWords * 8]byte
	words [prgFuse][prgChunkWords]uint64 // used only on big-endian machines
}

// newStream returns AES-128-CTR under key, positioned at word offset off of
// the vector (off is even: one AES block holds two words).
func newStream(key *[16]byte, off int) cipher.Stream {
	block, err := aes.NewCipher(key[:])
	if err != nil { // unreachable: the key is 16 bytes
		panic("secagg: " + err.Error())
	}
	var iv [aes.BlockSize]byte
	binary.BigEndian.PutUint64(iv[8:], uint64(off/2))
	return cipher.NewCTR(block, iv[:])
}

// expandRange applies ops to acc, which starts at word offset off of the
// vector. Same-sign ops are fused four at a time.
func expandRange(acc []uint64, ops []maskOp, off int, s *prgScratch) {
	var pos, neg []*maskOp
	for i := range ops {
		if ops[i].neg {
			neg = append(neg, &ops[i])
		} else {
			pos = append(pos, &ops[i])
		}
	}
	for _, group := range [2][]*maskOp{pos, neg} {
		subtract := len(group) > 0 && group[0].neg
		for len(group) > 0 {
			g := group[:min(prgFuse, len(group))]
			group = group[len(g):]
			var streams [prgFuse]cipher.Stream
			for j, op := range g {
				streams[j] = newStream(&op.key, off)
			}
			for start := 0; start < len(acc); start += prgChunkWords {
				a := acc[start:min(start+prgChunkWords, len(acc))]
				var ks [prgFuse][]uint64
				for j := range g {
					b := s.bytes[j][:8*len(a)]
					streams[j].XORKeyStream(b, zeroChunk[:len(b)])
					ks[j] = leWords(b, s.words[j][:len(a)])
				}
				accumulate(a, ks[:len(g)], subtract)
			}
		}
	}
}

// accumulate adds (or subtracts) the sum of ks to a; every ks[j] has len(a)
// words.
func accumulate(a []uint64, ks [][]uint64, subtract bool) {
	switch len(ks) {
	case 4:
		k0, k1, k2, k3 := ks[0][:len(a)], ks[1][:len(a)], ks[2][:len(a)], ks[3][:len(a)]
		if subtract {
			for i := range a {
				a[i] -= k0[i] + k1[i] + k2[i] + k3[i]
			}
		} else {
			for i := range a {
				a[i] += k0[i] + k1[i] + k2[i] + k3[i]
			}
		}
	default:
		for _, k := range ks {
			k = k[:len(a)]
			if subtract {
				for i := range a {
					a[i] -= k[i]
				}
			} else {
				for i := range a {
					a[i] += k[i]
				}
			}
		}
	}
}

// applyMasks applies every op to acc. With workers > 1 the vector is cut into
// that many slices, each expanded on its own goroutine with its counters
// seeked to the slice start; addition mod 2^64 commutes, so the result is
// the same.
func applyMasks(acc []uint64, ops []maskOp, workers int) {
	if len(ops) == 0 || len(acc) == 0 {
		return
	}
	workers = min(workers, len(acc)/(8*prgChunkWords))
	if workers <= 1 {
		expandRange(acc, ops, 0, new(prgScratch))
		return
	}
	per := (len(acc)/workers + 1) &^ 1 // even, so slices start on block boundaries
	var wg sync.WaitGroup
	for start := 0; start < len(acc); start += per {
		part := acc[start:min(start+per, len(acc))]
		wg.Go(func() { expandRange(part, ops, start, new(prgScratch)) })
	}
	wg.Wait()
}
