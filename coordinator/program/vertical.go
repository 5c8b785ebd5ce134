package program

import (
	"crypto/sha256"
	"math/rand/v2"
	"slices"
)

const labelVerticalSplit = "fedscore/vertical/v1 validation"

// What a vertical job trains (VerticalSpec.model): the scorecard (each
// side's quantile bins and WOE, the partner's bad counts by the vertical
// bin-count product, then the secret-shared logistic regression on the
// WOE columns; the default) or the logistic regression on standardised
// columns.
const (
	VerticalScorecard = "scorecard"
	VerticalLogistic  = "logistic"
)

// VerticalModel is the model a vertical spec trains, with the default.
func VerticalModel(v interface{ GetModel() string }) string {
	if m := v.GetModel(); m != "" {
		return m
	}
	return VerticalScorecard
}

// VerticalSplitSizes returns how many of n aligned rows a vertical job
// keeps for validation and how many it trains on.
func VerticalSplitSizes(n int, fraction float64) (validation, train int) {
	validation = int(float64(n) * fraction)
	return validation, n - validation
}

// VerticalSplit splits a vertical job's n aligned rows into training and
// validation rows, each in ascending order. Both data parties compute it
// from the job id alone, so they hold the same customers on each side
// without exchanging anything; the coordinator only needs the sizes.
func VerticalSplit(job string, n int, fraction float64) (train, validation []int) {
	nv, _ := VerticalSplitSizes(n, fraction)
	seed := sha256.Sum256(append([]byte(labelVerticalSplit), job...))
	perm := rand.New(rand.NewChaCha8(seed)).Perm(n)
	validation = slices.Clone(perm[:nv])
	train = slices.Clone(perm[nv:])
	slices.Sort(validation)
	slices.Sort(train)
	return train, validation
}
