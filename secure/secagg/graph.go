package secagg

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"slices"
)

// graphSeed hashes job, round and the sorted participant ids, as the
// specification suggests: the seed is fixed before phase 0, so the
// coordinator cannot re-draw the graph after seeing who advertised keys.
func graphSeed(job string, round uint64, ids []string) [32]byte {
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	var b []byte
	b = append(b, labelGraph...)
	b = appendString(b, job)
	b = binary.LittleEndian.AppendUint64(b, round)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(sorted)))
	for _, id := range sorted {
		b = appendString(b, id)
	}
	return sha256.Sum256(b)
}

// hararyRing shuffles the participants (taken in id order, so the graph is a
// function of the set U and not of its listing) with a Fisher–Yates shuffle
// driven by AES-256-CTR keyed with the seed, and returns the ring and each
// participant's position on it. Everything here is specified bit for bit so
// that every party, whatever its Go version, computes the same graph.
func hararyRing(seed [32]byte, ids []string) (ring, pos []uint32) {
	n := len(ids)
	ring = make([]uint32, n)
	for i := range ring {
		ring[i] = uint32(i)
	}
	slices.SortFunc(ring, func(a, b uint32) int {
		switch {
		case ids[a] < ids[b]:
			return -1
		case ids[a] > ids[b]:
			return 1
		}
		return 0
	})
	block, err := aes.NewCipher(seed[:])
	if err != nil { // unreachable: the key is 32 bytes
		panic("secagg: " + err.Error())
	}
	var iv [aes.BlockSize]byte
	ks := cipher.NewCTR(block, iv[:])
	var buf [8]byte
	next := func() uint64 {
		clear(buf[:])
		ks.XORKeyStream(buf[:], buf[:])
		return binary.LittleEndian.Uint64(buf[:])
	}
	for i := n - 1; i > 0; i-- {
		// Uniform j in [0, i] by rejection: accept r below the largest
		// multiple of i+1 that fits in 2^64.
		bound := uint64(i + 1)
		limit := -bound % bound // 2^64 mod bound
		var r uint64
		for {
			r = next()
			if r >= limit {
				break
			}
		}
		j := int(r % bound)
		ring[i], ring[j] = ring[j], ring[i]
	}
	pos = make([]uint32, n)
	for p, u := range ring {
		pos[u] = uint32(p)
	}
	return ring, pos
}
