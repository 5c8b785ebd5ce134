package secagg

import (
	"io"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/math/polynomial"
)

// Shamir sharing over the ristretto255 scalar field, with circl's
// math/polynomial doing the arithmetic. A holder's share id is its index in
// U plus one, never zero.
//
// The polynomial of degree t−1 is what circl's secretsharing.New(rand, t−1,
// secret) builds; we draw its coefficients ourselves because
// Ristretto255.RandomScalar ignores the reader it is given, and the house
// rule is that a deterministic reader yields a deterministic transcript.
// secretsharing.Recover accepts these shares (see shamir_test.go).

func shareID(holder uint32) group.Scalar {
	return scalarGroup.NewScalar().SetUint64(uint64(holder) + 1)
}

// splitSecret evaluates a random polynomial of degree t−1 with constant term
// secret at the ids of holders.
func splitSecret(r io.Reader, secret group.Scalar, t int, holders []uint32) ([]group.Scalar, error) {
	coeffs := make([]group.Scalar, t)
	coeffs[0] = secret
	for i := 1; i < t; i++ {
		c, err := randomScalar(r)
		if err != nil {
			return nil, err
		}
		coeffs[i] = c
	}
	poly := polynomial.New(coeffs)
	for i := 1; i < t; i++ {
		coeffs[i].SetUint64(0)
	}
	shares := make([]group.Scalar, len(holders))
	for i, h := range holders {
		shares[i] = poly.Evaluate(shareID(h))
	}
	return shares, nil
}

// lagrangeAtZero returns λ_j = L_j(0) for the holders' ids; then the secret
// is Σ λ_j·share_j. Computed once per set of holders and reused for every
// secret that set recovers.
func lagrangeAtZero(holders []uint32) []group.Scalar {
	xs := make([]group.Scalar, len(holders))
	for i, h := range holders {
		xs[i] = shareID(h)
	}
	zero := scalarGroup.NewScalar()
	ls := make([]group.Scalar, len(holders))
	for j := range xs {
		ls[j] = polynomial.LagrangeBase(uint(j), xs, zero)
	}
	return ls
}

// combine returns Σ λ_j·shares[j].
func combine(lambdas, shares []group.Scalar) group.Scalar {
	acc := scalarGroup.NewScalar()
	tmp := scalarGroup.NewScalar()
	for j := range lambdas {
		tmp.Mul(lambdas[j], shares[j])
		acc.Add(acc, tmp)
	}
	return acc
}
