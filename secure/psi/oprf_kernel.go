package psi

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"

	"github.com/cloudflare/circl/group"
)

// The OPRF protocol's parameters (see doc.go, "Protocol OPRF").
const (
	// codeBits is the width w of the pseudorandom code and the number of
	// base OTs. Two distinct ids' codewords differ in Binomial(512, 1/2)
	// bits; fewer than 128 has probability about 2^-102, so over the 3n²
	// pairs of a run with n = 2^24 ids about 2^-53: the margin KKRT16 asks
	// of the code (its d ≥ κ = 128).
	codeBits  = 512
	codeBytes = codeBits / 8
	codeWords = codeBits / 64
	// cuckooHashes is the number of cuckoo hash functions: each bank id
	// sits in one of its three bins, and the partner evaluates all three.
	cuckooHashes = 3
	// binBlock aligns chunks of bins, so a chunk of a column starts on an
	// AES block of its keystream.
	binBlock = 128
	// MaxMatrixChunk caps the bins per matrix batch: 16384 × 64 bytes is
	// 1 MiB, well inside gRPC's default 4 MiB message limit.
	MaxMatrixChunk = 1 << 14
	// cuckooTries bounds the reseeding of a cuckoo table that will not
	// settle; at load 1/1.3 with three hashes a retry is itself rare.
	cuckooTries = 32
	// cuckooKicks bounds one insertion's random walk.
	cuckooKicks = 2000
)

// binsFor is the number of cuckoo bins for n bank ids: 1.3n rounded up to
// a multiple of binBlock, so the load is about 0.77, well below the 0.918
// threshold of three-hash cuckoo hashing.
func binsFor(n uint64) uint64 {
	m := n + (3*n+9)/10 + binBlock
	return (m + binBlock - 1) / binBlock * binBlock
}

// matrixChunk is the number of bins per matrix batch for a batch size.
func matrixChunk(batchSize int) uint64 {
	c := (uint64(batchSize) + binBlock - 1) / binBlock * binBlock
	return min(c, MaxMatrixChunk)
}

// binHasher maps an id hash to its three cuckoo bins. It keys AES with the
// table's seed, encrypts the first 16 bytes of the id hash, and reduces
// three 40-bit slices of the result onto [0, m) by multiply-shift.
type binHasher struct {
	block cipher.Block
	m     uint64
}

func newBinHasher(seed []byte, m uint64) (binHasher, error) {
	b, err := aes.NewCipher(seed)
	if err != nil {
		return binHasher{}, err
	}
	return binHasher{block: b, m: m}, nil
}

func (h binHasher) bins(id *[PointSize]byte) [cuckooHashes]uint32 {
	var out [16]byte
	h.block.Encrypt(out[:], id[:16])
	lo := binary.LittleEndian.Uint64(out[:8])
	hi := binary.LittleEndian.Uint64(out[8:])
	const mask = 1<<40 - 1
	slices := [cuckooHashes]uint64{lo & mask, (lo>>40 | hi<<24) & mask, hi >> 24 & mask}
	var b [cuckooHashes]uint32
	for i, s := range slices {
		top, _ := bits.Mul64(s<<24, h.m)
		b[i] = uint32(top)
	}
	return b
}

// firstHash is the smallest hash index that sends id to bin: the one both
// sides use for it, so a bank id whose hashes collide is matched once.
func firstHash(b [cuckooHashes]uint32, bin uint32) uint8 {
	for i, x := range b {
		if x == bin {
			return uint8(i)
		}
	}
	return cuckooHashes
}

// cuckooTable places each id in one of its three bins. slot[bin] is the row
// plus one (0: empty) and hashIdx[bin] the index of the hash used.
type cuckooTable struct {
	slot    []uint32
	hashIdx []uint8
}

// buildCuckoo inserts every id by random walk. It returns false if an
// insertion runs past cuckooKicks, so the caller reseeds.
func buildCuckoo(h binHasher, ids [][PointSize]byte, rnd func() uint64) (cuckooTable, bool) {
	t := cuckooTable{slot: make([]uint32, h.m), hashIdx: make([]uint8, h.m)}
	for row := range ids {
		cur := uint32(row)
		prev := uint32(1<<32 - 1)
		placed := false
		for range cuckooKicks {
			b := h.bins(&ids[cur])
			for _, bin := range b {
				if t.slot[bin] == 0 {
					t.slot[bin] = cur + 1
					placed = true
					break
				}
			}
			if placed {
				break
			}
			// Evict from a random bin other than the one we were just
			// evicted from, so the walk does not bounce between two bins.
			bin := b[rnd()%cuckooHashes]
			for try := 0; bin == prev && try < 8; try++ {
				bin = b[rnd()%cuckooHashes]
			}
			cur, t.slot[bin] = t.slot[bin]-1, cur+1
			prev = bin
		}
		if !placed {
			return cuckooTable{}, false
		}
	}
	for bin, s := range t.slot {
		if s != 0 {
			t.hashIdx[bin] = firstHash(h.bins(&ids[s-1]), uint32(bin))
		}
	}
	return t, true
}

// coder computes the pseudorandom code C(x): four AES-128 blocks under the
// code key, of the id hash's first 16 bytes with the block number in the
// last byte, so C is a PRF of the id with 512-bit output.
type coder struct{ block cipher.Block }

func newCoder(key []byte) (coder, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return coder{}, err
	}
	return coder{b}, nil
}

func (c coder) code(out *[codeBytes]byte, id *[PointSize]byte) {
	var in [16]byte
	copy(in[:], id[:16])
	last := in[15]
	for i := range codeBytes / 16 {
		in[15] = last ^ byte(i)
		c.block.Encrypt(out[16*i:16*(i+1)], in[:])
	}
}

// columnStream expands one base-OT seed into its column of the OT
// extension matrix: AES-128-CTR keyed by the seed. Bits are numbered
// little-endian within bytes; bin j of the column is bit j%8 of byte j/8.
type columnStream struct{ block cipher.Block }

func newColumnStream(seed []byte) (columnStream, error) {
	b, err := aes.NewCipher(seed)
	if err != nil {
		return columnStream{}, fmt.Errorf("psi: column seed: %w", err)
	}
	return columnStream{b}, nil
}

// fill writes the column's bits for bins [lo, lo+8·len(out)), lo a
// multiple of binBlock, into out.
func (s columnStream) fill(out []byte, lo uint64) {
	var iv [16]byte
	binary.BigEndian.PutUint64(iv[8:], lo/binBlock)
	clear(out)
	cipher.NewCTR(s.block, iv[:]).XORKeyStream(out, out)
}

// transpose64 transposes a 64×64 bit matrix in place: bit c of a[r]
// becomes bit r of a[c]. It swaps the off-diagonal halves, then quarters,
// and so on (six passes of 32 word pairs).
func transpose64(a *[64]uint64) {
	j := 32
	m := uint64(0x00000000FFFFFFFF)
	for j != 0 {
		for k := 0; k < 64; k = (k + j + 1) &^ j {
			t := (a[k]>>uint(j) ^ a[k+j]) & m
			a[k] ^= t << uint(j)
			a[k+j] ^= t
		}
		j >>= 1
		m ^= m << uint(j)
	}
}

// columnsToRows turns codeBits columns of nb bins each (cols[i] holds
// column i's nb/8 bytes) into nb rows of codeBytes bytes (rows[j] holds
// bin j's bits, column i at bit i%8 of byte i/8). nb is a multiple of 64.
// Blocks of 64 bins are independent; lo and hi bound the blocks done, so
// callers can split the work.
func columnsToRows(cols [][]byte, rows []byte, loBlock, hiBlock int) {
	var a [64]uint64
	for bb := loBlock; bb < hiBlock; bb++ {
		for cb := range codeWords {
			for k := range 64 {
				a[k] = binary.LittleEndian.Uint64(cols[cb*64+k][bb*8:])
			}
			transpose64(&a)
			for r := range 64 {
				binary.LittleEndian.PutUint64(rows[(bb*64+r)*codeBytes+cb*8:], a[r])
			}
		}
	}
}

// tagOf is the OPRF output compared by the bank: the first TagSize bytes
// of SHA-256(label ‖ bin ‖ row). Hashing the bin in makes each bin's
// instance of the OPRF independent (KKRT16's H(j, ·)).
func tagOf(dst []byte, bin uint32, row []byte) {
	var buf [len(labelTag) + 4 + codeBytes]byte
	n := copy(buf[:], labelTag)
	binary.LittleEndian.PutUint32(buf[n:], bin)
	copy(buf[n+4:], row)
	sum := sha256.Sum256(buf[:])
	copy(dst, sum[:TagSize])
}

const labelTag = "fedscore/psi/v1 oprf"

// xorAnd sets dst = q ⊕ (c ∧ s), 64 bytes each.
func xorAnd(dst, q, c, s []byte) {
	for w := range codeWords {
		o := w * 8
		v := binary.LittleEndian.Uint64(q[o:]) ^ binary.LittleEndian.Uint64(c[o:])&binary.LittleEndian.Uint64(s[o:])
		binary.LittleEndian.PutUint64(dst[o:], v)
	}
}

var zeroCode [codeBytes]byte

// xor3 sets dst = a ⊕ b ⊕ c, 64 bytes each.
func xor3(dst, a, b, c []byte) {
	for w := range codeWords {
		o := w * 8
		v := binary.LittleEndian.Uint64(a[o:]) ^ binary.LittleEndian.Uint64(b[o:]) ^ binary.LittleEndian.Uint64(c[o:])
		binary.LittleEndian.PutUint64(dst[o:], v)
	}
}

// encodeElements runs one base-OT step per column on the worker pool and
// encodes the codeBits ristretto255 elements it yields, 32 bytes each.
func encodeElements(workers int, step func(i int) group.Element) ([]byte, error) {
	data := make([]byte, codeBits*32)
	failed := make([]bool, codeBits)
	parallel(codeBits, workers, 16, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			enc, err := step(i).MarshalBinary()
			if err != nil || len(enc) != 32 {
				failed[i] = true
				continue
			}
			copy(data[i*32:], enc)
		}
	})
	if slices.Contains(failed, true) {
		return nil, fmt.Errorf("%w: encoding an element", ErrBaseOT)
	}
	return data, nil
}

// decodeElements reads the codeBits ristretto255 elements of a setup step.
func decodeElements(data []byte, whose string) ([]group.Element, error) {
	g := group.Ristretto255
	elems := make([]group.Element, codeBits)
	for i := range elems {
		elems[i] = g.NewElement()
		if err := elems[i].UnmarshalBinary(data[i*32 : (i+1)*32]); err != nil {
			return nil, fmt.Errorf("%w: %s element %d: %v", ErrBaseOT, whose, i, err)
		}
	}
	return elems, nil
}
