package secagg

import (
	"testing"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/secretsharing"
)

// TestSharesInteroperate: shares from splitSecret are circl secretsharing
// shares: secretsharing.Recover with degree t−1 returns the secret, and so
// does the Lagrange combination with coefficients computed once per holder
// set.
func TestSharesInteroperate(t *testing.T) {
	for _, tc := range []struct{ t, n int }{{2, 2}, {3, 5}, {5, 9}, {70, 100}} {
		r := seeded(uint64(tc.t))
		secret, err := randomScalar(r)
		if err != nil {
			t.Fatal(err)
		}
		holders := make([]uint32, tc.n)
		for i := range holders {
			holders[i] = uint32(3*i + 1) // any distinct indices
		}
		shares, err := splitSecret(r, secret, tc.t, holders)
		if err != nil {
			t.Fatal(err)
		}
		ss := make([]secretsharing.Share, tc.n)
		for i := range ss {
			ss[i] = secretsharing.Share{ID: shareID(holders[i]), Value: shares[i]}
		}
		// The last t shares, in circl's recovery.
		got, err := secretsharing.Recover(uint(tc.t-1), ss[tc.n-tc.t:])
		if err != nil || !got.IsEqual(secret) {
			t.Fatalf("t=%d n=%d: circl Recover disagrees (%v)", tc.t, tc.n, err)
		}
		// The first t, with precomputed coefficients.
		if !combine(lagrangeAtZero(holders[:tc.t]), shares[:tc.t]).IsEqual(secret) {
			t.Fatalf("t=%d n=%d: Lagrange combination disagrees", tc.t, tc.n)
		}
		// t−1 shares say nothing: the combination is not the secret.
		if tc.t > 2 && combine(lagrangeAtZero(holders[:tc.t-1]), shares[:tc.t-1]).IsEqual(secret) {
			t.Fatalf("t=%d: t−1 shares recovered the secret", tc.t)
		}
	}
}

// TestDeterministicScalars: the same reader gives the same secret and shares
// (deterministic twins), and circl's own RandomScalar would not.
func TestDeterministicScalars(t *testing.T) {
	draw := func() (group.Scalar, []group.Scalar) {
		r := seeded(42)
		s, _ := randomScalar(r)
		sh, _ := splitSecret(r, s, 4, []uint32{0, 1, 2, 3, 4})
		return s, sh
	}
	s1, sh1 := draw()
	s2, sh2 := draw()
	if !s1.IsEqual(s2) {
		t.Fatal("secret differs under the same seed")
	}
	for i := range sh1 {
		if !sh1[i].IsEqual(sh2[i]) {
			t.Fatal("shares differ under the same seed")
		}
	}
	if scalarGroup.RandomScalar(seeded(1)).IsEqual(scalarGroup.RandomScalar(seeded(1))) {
		t.Log("circl's Ristretto255.RandomScalar now honours its reader; splitSecret could use secretsharing.New")
	}
}

func BenchmarkLagrangeOncePerSet(b *testing.B) {
	holders := make([]uint32, 70)
	for i := range holders {
		holders[i] = uint32(i)
	}
	r := seeded(1)
	secret, _ := randomScalar(r)
	shares, _ := splitSecret(r, secret, 70, holders)
	b.Run("coefficients", func(b *testing.B) {
		for b.Loop() {
			lagrangeAtZero(holders)
		}
	})
	ls := lagrangeAtZero(holders)
	b.Run("combine", func(b *testing.B) {
		for b.Loop() {
			combine(ls, shares)
		}
	})
	ss := make([]secretsharing.Share, len(shares))
	for i := range ss {
		ss[i] = secretsharing.Share{ID: shareID(holders[i]), Value: shares[i]}
	}
	b.Run("circl-Recover", func(b *testing.B) {
		for b.Loop() {
			_, _ = secretsharing.Recover(69, ss)
		}
	})
}
