package secagg

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// referenceMask is PRG(key) computed the obvious way: the whole AES-128-CTR
// keystream (zero IV) at once, read as little-endian words.
func referenceMask(key [16]byte, m int) []uint64 {
	block, _ := aes.NewCipher(key[:])
	ks := make([]byte, 8*m)
	cipher.NewCTR(block, make([]byte, 16)).XORKeyStream(ks, ks)
	out := make([]uint64, m)
	for i := range out {
		out[i] = binary.LittleEndian.Uint64(ks[8*i:])
	}
	return out
}

// TestApplyMasks: the fused, chunked, optionally parallel expansion equals
// the sum of reference masks with their signs, for lengths around the chunk
// and fusion boundaries.
func TestApplyMasks(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for _, m := range []int{1, 2, 3, 511, 512, 513, 1025, 4*prgChunkWords*8 + 7, 40_001} {
		for _, nops := range []int{1, 3, 4, 5, 9} {
			ops := make([]maskOp, nops)
			want := make([]uint64, m)
			acc := make([]uint64, m)
			for j := range acc {
				acc[j] = rng.Uint64()
				want[j] = acc[j]
			}
			for i := range ops {
				for k := range ops[i].key {
					ops[i].key[k] = byte(rng.Uint32())
				}
				ops[i].neg = rng.IntN(2) == 0
				ref := referenceMask(ops[i].key, m)
				for j := range want {
					if ops[i].neg {
						want[j] -= ref[j]
					} else {
						want[j] += ref[j]
					}
				}
			}
			for _, workers := range []int{1, 2, 3} {
				got := append([]uint64(nil), acc...)
				applyMasks(got, ops, workers)
				for j := range got {
					if got[j] != want[j] {
						t.Fatalf("m=%d ops=%d workers=%d: word %d differs", m, nops, workers, j)
					}
				}
			}
		}
	}
}

func TestLEWords(t *testing.T) {
	b := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	var scratch [2]uint64
	w := leWords(b, scratch[:])
	if len(w) != 2 || w[0] != 0x0807060504030201 || w[1] != 0x100f0e0d0c0b0a09 {
		t.Fatalf("leWords = %x", w)
	}
}

// BenchmarkPRG is one 100,000-word mask expanded into an accumulator.
func BenchmarkPRG(b *testing.B) {
	acc := make([]uint64, 100_000)
	ops := make([]maskOp, 100)
	for i := range ops {
		ops[i].key[0] = byte(i)
	}
	b.SetBytes(8 * 100_000 * 100)
	for b.Loop() {
		applyMasks(acc, ops, 1)
	}
}
