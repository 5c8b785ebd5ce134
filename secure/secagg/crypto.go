package secagg

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/cloudflare/circl/dh/x25519"
	"github.com/cloudflare/circl/group"
)

// Domain-separation labels. Every derivation starts with its own label, and
// variable-length fields are length-prefixed, so no two derivations can
// collide.
const (
	labelRound    = "fedscore/secagg/v1 round"
	labelGraph    = "fedscore/secagg/v1 graph"
	labelScalar   = "fedscore/secagg/v1 scalar"
	labelMaskKey  = "fedscore/secagg/v1 mask-key"
	labelShareKey = "fedscore/secagg/v1 share"
	labelShareAD  = "fedscore/secagg/v1 share-ad"
	labelPair     = "fedscore/secagg/v1 pair"
	labelSelfMask = "fedscore/secagg/v1 self-mask"
	labelCommit   = "fedscore/secagg/v1 self-mask-commit"
)

// Sizes of the fixed-length fields.
const (
	KeySize    = x25519.Size // X25519 public keys
	ScalarSize = 32          // ristretto255 scalars
	// sharePlaintextSize is (from, to, share of k_s, share of k_b).
	sharePlaintextSize = 4 + 4 + 2*ScalarSize
	// ShareCiphertextSize is the AES-256-GCM sealing of one share pair.
	ShareCiphertextSize = sharePlaintextSize + 16
)

var scalarGroup = group.Ristretto255

func appendString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// kdf is HKDF-SHA256 with an empty salt and info = label ‖ ctx ‖ fields.
func kdf(ikm []byte, label string, ctx *[32]byte, out []byte, fields ...[]byte) error {
	info := make([]byte, 0, 128)
	info = append(info, label...)
	info = append(info, ctx[:]...)
	for _, f := range fields {
		info = append(info, f...)
	}
	k, err := hkdf.Key(sha256.New, ikm, nil, string(info), len(out))
	if err != nil {
		return fmt.Errorf("%w: %v", errInternalKeyDeriv, err)
	}
	copy(out, k)
	clear(k)
	return nil
}

func u32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func u64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

// randomScalar draws a uniform ristretto255 scalar from r: 64 bytes hashed
// to the scalar field (wide reduction). circl's Ristretto255.RandomScalar
// ignores its reader, which would break deterministic twins.
func randomScalar(r io.Reader) (group.Scalar, error) {
	var buf [64]byte
	if _, err := io.ReadFull(r, buf[:]); err != nil {
		return nil, fmt.Errorf("secagg: reading randomness: %w", err)
	}
	s := scalarGroup.HashToScalar(buf[:], []byte(labelScalar))
	clear(buf[:])
	return s, nil
}

func scalarBytes(s group.Scalar) [ScalarSize]byte {
	var out [ScalarSize]byte
	b, err := s.MarshalBinary()
	if err == nil && len(b) == ScalarSize {
		copy(out[:], b)
		clear(b)
	}
	return out
}

func parseScalar(b []byte) (group.Scalar, bool) {
	s := scalarGroup.NewScalar()
	if err := s.UnmarshalBinary(b); err != nil {
		return nil, false
	}
	return s, true
}

// maskKeyPair derives the mask key pair s_u from k_s:
// s_u^SK = HKDF(k_s, "mask-key" ‖ ctx ‖ u).
func maskKeyPair(ks group.Scalar, ctx *[32]byte, u uint32) (sk, pk x25519.Key, err error) {
	kb := scalarBytes(ks)
	defer clear(kb[:])
	if err = kdf(kb[:], labelMaskKey, ctx, sk[:], u32(u)); err != nil {
		return sk, pk, err
	}
	x25519.KeyGen(&pk, &sk)
	return sk, pk, nil
}

// selfMaskCommit commits to k_b so that the coordinator can check the k_b it
// reconstructs. k_b is a uniform 252-bit secret, so the hash hides it.
func selfMaskCommit(kb group.Scalar, ctx *[32]byte, u uint32) [32]byte {
	b := scalarBytes(kb)
	defer clear(b[:])
	var in []byte
	in = append(in, labelCommit...)
	in = append(in, ctx[:]...)
	in = append(in, u32(u)...)
	in = append(in, b[:]...)
	defer clear(in)
	return sha256.Sum256(in)
}

// selfMaskKey is the PRG key of u's self mask on vector vec:
// HKDF(k_b, "self-mask" ‖ ctx ‖ u ‖ vec ‖ m).
func selfMaskKey(kb group.Scalar, ctx *[32]byte, u uint32, vec int, m int) (key [16]byte, err error) {
	b := scalarBytes(kb)
	defer clear(b[:])
	err = kdf(b[:], labelSelfMask, ctx, key[:], u32(u), u32(uint32(vec)), u64(uint64(m)))
	return key, err
}

// pairMaskKey is the PRG key of the pair mask s_uv on vector vec:
// HKDF(X25519(s_u, s_v), "pair" ‖ ctx ‖ min ‖ max ‖ vec ‖ m).
func pairMaskKey(shared *[32]byte, ctx *[32]byte, u, v uint32, vec int, m int) (key [16]byte, err error) {
	lo, hi := min(u, v), max(u, v)
	err = kdf(shared[:], labelPair, ctx, key[:], u32(lo), u32(hi), u32(uint32(vec)), u64(uint64(m)))
	return key, err
}

// dh computes X25519(sk, pk), refusing low-order public keys.
func dh(sk, pk *x25519.Key) (ss [32]byte, ok bool) {
	var out x25519.Key
	ok = x25519.Shared(&out, sk, pk)
	return out, ok
}

// shareAEAD returns the AEAD for shares sent from → to: the key is
// HKDF(X25519(c_from, c_to), "share" ‖ ctx ‖ from ‖ to ‖ c_from^PK ‖ c_to^PK),
// one key per direction and round, so the all-zero nonce is used once.
func shareAEAD(shared *[32]byte, ctx *[32]byte, from, to uint32, pkFrom, pkTo *x25519.Key) (cipher.AEAD, error) {
	var key [32]byte
	defer clear(key[:])
	if err := kdf(shared[:], labelShareKey, ctx, key[:], u32(from), u32(to), pkFrom[:], pkTo[:]); err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// shareAD is the associated data of a share ciphertext: job, round, from, to.
func shareAD(job string, round uint64, from, to uint32) []byte {
	var b []byte
	b = append(b, labelShareAD...)
	b = appendString(b, job)
	b = binary.LittleEndian.AppendUint64(b, round)
	b = binary.LittleEndian.AppendUint32(b, from)
	b = binary.LittleEndian.AppendUint32(b, to)
	return b
}

var zeroNonce [12]byte
