package secagg

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cloudflare/circl/dh/x25519"
	"github.com/cloudflare/circl/group"
)

// chiSquareBytes returns the chi-square statistic of byte b (0 = lowest) of
// the words against the uniform distribution on 256 values.
func chiSquareBytes(words []uint64, b int) float64 {
	var counts [256]float64
	for _, w := range words {
		counts[byte(w>>(8*b))]++
	}
	exp := float64(len(words)) / 256
	var x2 float64
	for _, c := range counts {
		x2 += (c - exp) * (c - exp) / exp
	}
	return x2
}

// chiSquareCritical is the upper quantile of χ²(k) at z standard deviations,
// by the Wilson–Hilferty approximation.
func chiSquareCritical(k, z float64) float64 {
	a := 2 / (9 * k)
	return k * math.Pow(1-a+z*math.Sqrt(a), 3)
}

// smallUpdate is what a participant typically masks: a fixed-point encoding
// of small reals, far from uniform in its high bytes.
func smallUpdate(rng *rand.Rand, m int) []uint64 {
	x := make([]float64, m)
	for i := range x {
		x[i] = rng.NormFloat64() * 0.01
	}
	enc, _ := FixedPoint{}.Encode(nil, x)
	return enc
}

// uniformOK tests bytes 0, 3 and 7 of every word at p ≈ 10^-6 each (z = 4.75).
func uniformOK(t *testing.T, what string, words []uint64) bool {
	t.Helper()
	crit := chiSquareCritical(255, 4.75) // ≈ 377
	ok := true
	for _, b := range []int{0, 3, 7} {
		if x2 := chiSquareBytes(words, b); x2 > crit {
			t.Logf("%s: byte %d χ² = %.1f > %.1f", what, b, x2, crit)
			ok = false
		}
	}
	return ok
}

// TestMaskedInputUniform: what the coordinator sees of one participant's
// masked vector passes a chi-square test of uniformity, while the input it
// hides fails the same test (so the test can tell).
func TestMaskedInputUniform(t *testing.T) {
	const n, m = 3, 1 << 16
	p := Params{Job: "chi", Round: 1, Participants: ids(n), VectorLens: []int{m}}
	mr := newManual(t, p, 30)
	rng := rand.New(rand.NewPCG(30, 30))
	for u := range mr.in {
		mr.in[u][0] = smallUpdate(rng, m)
	}
	if uniformOK(t, "plain input", mr.in[0][0]) {
		t.Fatal("the unmasked input passes the uniformity test: the test has no power")
	}
	mr.advertise()
	mr.share()
	mr.mask()
	if !uniformOK(t, "masked input", mr.masked[0].Vectors[0]) {
		t.Fatal("masked input is not uniform")
	}
	mr.unmask()
	mr.checkSum()
}

// TestLateInputStaysMasked: a participant whose masked input arrives late is
// counted as dropped, so the coordinator learns its mask key k_s. Stripping
// every pair mask from the late y_u with it still leaves x_u + PRG(b_u):
// uniform, because k_b was never revealed.
func TestLateInputStaysMasked(t *testing.T) {
	const n, m = 4, 1 << 16
	p := Params{Job: "late", Round: 1, Participants: ids(n), VectorLens: []int{m}}
	mr := newManual(t, p, 31)
	rng := rand.New(rand.NewPCG(31, 31))
	for u := range mr.in {
		mr.in[u][0] = smallUpdate(rng, m)
	}
	mr.advertise()
	mr.share()
	const late = 3
	lateMsg, err := mr.cs[late].MaskInput(mr.inboxes[late], mr.in[late]...)
	mr.must(err)
	mr.mask(late)
	if err := mr.srv.Receive(late, lateMsg); err == nil {
		t.Fatal("late input accepted")
	}
	mr.unmask()
	mr.checkSum()

	// The coordinator's best effort on the late vector.
	pl := mr.plan
	var holders []uint32
	var shares []group.Scalar
	for _, v := range []uint32{0, 1, 2} {
		for _, s := range mr.resps[v].Shares {
			if s.Owner == late {
				if s.Kind != MaskKeyShare {
					t.Fatalf("holder %d revealed %v of the late participant", v, s.Kind)
				}
				sc, _ := parseScalar(s.Value[:])
				holders, shares = append(holders, v), append(shares, sc)
			}
		}
	}
	ks := combine(lagrangeAtZero(holders[:pl.Threshold]), shares[:pl.Threshold])
	sk, pk, err := maskKeyPair(ks, &pl.ctx, late)
	mr.must(err)
	if pk != x25519.Key(mr.srv.maskKeys[late]) {
		t.Fatal("reconstructed the wrong mask key")
	}
	y := append([]uint64(nil), lateMsg.Vectors[0]...)
	var ops []maskOp
	for _, v := range pl.Neighbours(late) {
		vpk := x25519.Key(mr.srv.maskKeys[v])
		ss, _ := dh(&sk, &vpk)
		key, _ := pairMaskKey(&ss, &pl.ctx, late, v, 0, m)
		ops = append(ops, maskOp{key: key, neg: late > v}) // undo what late added
	}
	applyMasks(y, ops, 1)
	if !uniformOK(t, "late input without pair masks", y) {
		t.Fatal("the self mask does not hide a late input")
	}
	// Check the stripping itself: removing the self mask as well (which the
	// coordinator cannot do: only the participant knows k_b) gives x_u back.
	key, err := selfMaskKey(mr.cs[late].kb, &pl.ctx, late, 0, m)
	mr.must(err)
	applyMasks(y, []maskOp{{key: key, neg: true}}, 1)
	for j := range y {
		if y[j] != mr.in[late][0][j] {
			t.Fatal("pair masks were not stripped correctly")
		}
	}
	mr.cs[late].Close()
	if !mr.cs[late].kb.IsZero() {
		t.Fatal("Close kept k_b")
	}
}
