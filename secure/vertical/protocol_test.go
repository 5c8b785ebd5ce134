package vertical

import (
	"bytes"
	"errors"
	"math"
	"math/big"
	"slices"
	"strings"
	"testing"
)

func TestSmallBatchRefused(t *testing.T) {
	data := NewSynthetic(20000, 5, 12, 1)
	minimum := MinBatch(6, 12, 0)
	p := Params{Job: "small", Rows: 20000, BankFeatures: 5, PartnerFeatures: 12, BatchSize: minimum - 1}
	if _, err := NewBank(PartyConfig{Params: p, X: data.Bank, Labels: data.Labels}); !errors.Is(err, ErrBatchTooSmall) {
		t.Fatalf("bank: %v", err)
	}
	if _, err := NewPartner(PartyConfig{Params: p, X: data.Partner}); !errors.Is(err, ErrBatchTooSmall) {
		t.Fatalf("partner: %v", err)
	}
	_, err := NewHelper(HelperConfig{Params: p})
	if !errors.Is(err, ErrBatchTooSmall) || !strings.HasPrefix(err.Error(), "vertical: ") {
		t.Fatalf("helper: %v", err)
	}
	t.Log(err)
	p.BatchSize = minimum
	if _, err := NewHelper(HelperConfig{Params: p}); err != nil {
		t.Fatal(err)
	}
	// Raising ε lowers the minimum, but never below 8·max(d_B, d_P).
	p.LeakCorrelation, p.BatchSize = 0.99, 8*12-1
	if _, err := NewHelper(HelperConfig{Params: p}); !errors.Is(err, ErrBatchTooSmall) {
		t.Fatalf("below 8·d_P: %v", err)
	}
	// The documented figures.
	for _, c := range []struct{ b, p, want int }{{31, 300, 24480}, {8, 16, 10528}, {6, 12, 9071}} {
		if got := MinBatch(c.b, c.p, 0); got != c.want {
			t.Fatalf("MinBatch(%d, %d) = %d, want %d", c.b, c.p, got, c.want)
		}
	}
}

// TestOverflowEdges: batches of n_max rows are accepted and n_max + 1
// refused, the bound is exact, and a diverging run (a learning rate far
// too high) stays equal to the plaintext reference because the clipping
// keeps every sum inside the range.
func TestOverflowEdges(t *testing.T) {
	for _, f := range []int{16, 20} {
		nmax := MaxBatch(f, DefaultClip)
		// n·8·(2U+2)·2^(2f) ≤ 2^63 − 1 < (n+1)·8·(2U+2)·2^(2f)
		lim := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 63), big.NewInt(1))
		term := new(big.Int).Lsh(big.NewInt(8*18), uint(2*f))
		if new(big.Int).Mul(big.NewInt(int64(nmax)), term).Cmp(lim) > 0 ||
			new(big.Int).Mul(big.NewInt(int64(nmax+1)), term).Cmp(lim) <= 0 {
			t.Fatalf("f=%d: n_max %d is not the edge", f, nmax)
		}
		p := Params{Job: "edge", Rows: nmax, BankFeatures: 0, PartnerFeatures: 1, BatchSize: nmax, FracBits: f}
		if _, err := p.withDefaults(); err != nil {
			t.Fatalf("f=%d, n_max=%d: %v", f, nmax, err)
		}
		p.Rows = nmax + 1 // one batch of n_max + 1 rows
		if _, err := p.withDefaults(); !errors.Is(err, ErrBatchTooLarge) {
			t.Fatalf("f=%d, n_max+1: %v", f, err)
		}
		t.Logf("f=%d: n_max = %d", f, nmax)
	}
	if MaxBatch(16, 8) != 14913080 {
		t.Fatalf("n_max at f=16 is %d", MaxBatch(16, 8))
	}
	// Diverging run: at every iteration each party's gradient equals the
	// plaintext Taylor gradient at the same weights within fixed-point
	// error, although the weights grow into the thousands: nothing wraps.
	p := Params{Job: "diverge", Rows: 20000, BankFeatures: 3, PartnerFeatures: 9, Epochs: 4, LearningRate: 1e4, PartnerInitStd: 1}
	r := newRun(t, p, 5)
	var largest, worst float64
	for it := range r.gB {
		gb, gp := plainGradients(r, it)
		for j := range gb {
			worst = math.Max(worst, math.Abs(gb[j]-r.gB[it][j]))
		}
		for j := range gp {
			worst = math.Max(worst, math.Abs(gp[j]-r.gP[it][j]))
		}
		for _, w := range r.wP[it] {
			largest = math.Max(largest, math.Abs(w))
		}
	}
	t.Logf("diverging run: weights up to %.3g, gradients within %.2e of the plaintext ones", largest, worst)
	if largest < 1000 || worst > 1e-4 {
		t.Fatalf("diverging run: weights up to %v, gradient error %v", largest, worst)
	}
}

// plainGradients is the plaintext Taylor gradient of each side at the
// weights the run had at iteration it.
func plainGradients(r *run, it int) (gb, gp []float64) {
	b, pt := r.l.b, r.l.p
	lo, hi := b.p.batch(uint64(it))
	n := hi - lo
	xb, xp := batchMatrix(&b.dataParty, lo, hi), batchMatrix(&pt.dataParty, lo, hi)
	gb, gp = make([]float64, b.cols), make([]float64, pt.cols)
	for i := range n {
		var ub, up float64
		for j := range b.cols {
			ub += xb[i*b.cols+j] * r.wB[it][j]
		}
		for j := range pt.cols {
			up += xp[i*pt.cols+j] * r.wP[it][j]
		}
		res := 0.25*(clip(ub, 8)+clip(up, 8)) + 0.5 - float64(b.y[lo+i])
		for j := range b.cols {
			gb[j] += xb[i*b.cols+j] * res / float64(n)
		}
		for j := range pt.cols {
			gp[j] += xp[i*pt.cols+j] * res / float64(n)
		}
	}
	return gb, gp
}

// TestGradientNoise: with GradientNoise σ each party's gradient is the
// plaintext one plus noise of standard deviation σ, added by the other
// party, and training still converges.
func TestGradientNoise(t *testing.T) {
	const sigma = 0.01
	p := Params{Job: "noise", Rows: 20000, BankFeatures: 5, PartnerFeatures: 12, Epochs: 10, Momentum: 0.5, GradientNoise: sigma}
	r := newRun(t, p, 6)
	var ss, n float64
	for it := range r.gB {
		gb, gp := plainGradients(r, it)
		for j := range gb {
			d := r.gB[it][j] - gb[j]
			ss, n = ss+d*d, n+1
		}
		for j := range gp {
			d := r.gP[it][j] - gp[j]
			ss, n = ss+d*d, n+1
		}
	}
	sd := math.Sqrt(ss / n)
	t.Logf("noise: standard deviation %.4f over %v gradient values (σ = %v)", sd, n, sigma)
	if sd < 0.8*sigma || sd > 1.2*sigma {
		t.Fatalf("noise standard deviation %.4f, want about %v", sd, sigma)
	}
	// The model still learns.
	w := r.l.b.Weights()
	if math.Abs(w[0]) < 0.5 {
		t.Fatalf("intercept %v: the noisy run did not learn", w[0])
	}
}

// TestDropAndResume: the partner disconnects mid-epoch; the run fails
// cleanly with checkpoints, and resuming from them finishes with exactly
// the model of an uninterrupted run.
func TestDropAndResume(t *testing.T) {
	data := NewSynthetic(30000, 4, 10, 7)
	p := Params{Job: "resume", Rows: 30000, BankFeatures: 4, PartnerFeatures: 10, Epochs: 3, Momentum: 0.9}
	cfg := LocalConfig{Params: p, Bank: data.Bank, Labels: data.Labels, Partner: data.Partner, Rand: seeded(3)}
	whole, err := RunLocal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Rand = seeded(3)
	cfg.Drop = func(r Role, it uint64) bool { return r == RolePartner && it == 4 }
	_, err = RunLocal(cfg)
	var intr *Interrupted
	if !errors.As(err, &intr) || !errors.Is(err, ErrPartyFailed) {
		t.Fatalf("drop: %v", err)
	}
	if intr.Failed != RolePartner || intr.Iteration != 4 || intr.Bank.Iteration != 4 || intr.Partner.Iteration != 4 {
		t.Fatalf("interrupted: %+v", intr)
	}
	t.Log(err)
	// Checkpoints travel through their encoding, as a party would persist them.
	for _, cp := range []**Checkpoint{&intr.Bank, &intr.Partner} {
		b, err := (*cp).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		*cp = new(Checkpoint)
		if err := (*cp).UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
	}
	cfg.Drop = nil
	cfg.Resume = intr
	cfg.Rand = seeded(99) // new session keys
	resumed, err := RunLocal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(resumed.Bank.Weights, whole.Bank.Weights) || !slices.Equal(resumed.Partner.Weights, whole.Partner.Weights) {
		t.Fatalf("resumed model differs:\n%v\n%v", resumed.Bank.Weights, whole.Bank.Weights)
	}
	// A resume with checkpoints from different iterations is refused.
	intr.Bank.Iteration = 3
	if _, err := RunLocal(cfg); !errors.Is(err, ErrParams) {
		t.Fatalf("mismatched checkpoints: %v", err)
	}
}

// TestDeterministicTwin: the same randomness gives the same transcript.
func TestDeterministicTwin(t *testing.T) {
	data := NewSynthetic(10000, 2, 4, 7)
	p := Params{Job: "twin", Rows: 10000, BankFeatures: 2, PartnerFeatures: 4, Epochs: 2}
	tr := func() [][]byte {
		var out [][]byte
		_, err := RunLocal(LocalConfig{Params: p, Bank: data.Bank, Labels: data.Labels, Partner: data.Partner, Rand: seeded(8),
			Trace: func(_, _ Role, m []byte) { out = append(out, slices.Clone(m)) }})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	a, b := tr(), tr()
	if len(a) != len(b) {
		t.Fatal("lengths differ")
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("message %d differs", i)
		}
	}
}

// TestRefusals: messages out of order, for another job or iteration, or of
// the wrong shape are refused without changing state.
func TestRefusals(t *testing.T) {
	data := NewSynthetic(10000, 2, 4, 7)
	p := Params{Job: "refuse", Rows: 10000, BankFeatures: 2, PartnerFeatures: 4, Epochs: 2}
	l, err := newLocal(&LocalConfig{Params: p, Bank: data.Bank, Labels: data.Labels, Partner: data.Partner, Rand: seeded(1)})
	if err != nil {
		t.Fatal(err)
	}
	b, pt, h := l.b, l.p, l.h
	if _, err := b.Send(); !errors.Is(err, ErrNotReady) {
		t.Fatalf("send before hellos: %v", err)
	}
	hb := b.Hello()
	if err := b.ReceiveHello(hb); !errors.Is(err, ErrWrongRole) {
		t.Fatalf("own hello: %v", err)
	}
	other := *pt.Hello()
	other.Job = "x"
	if err := b.ReceiveHello(&other); !errors.Is(err, ErrWrongJob) {
		t.Fatalf("other job: %v", err)
	}
	other = *pt.Hello()
	other.Iteration = 3
	if err := b.ReceiveHello(&other); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("other start: %v", err)
	}
	other = *pt.Hello()
	other.Protocol = ProtocolBins
	if err := b.ReceiveHello(&other); !errors.Is(err, ErrWrongRole) {
		t.Fatalf("other protocol: %v", err)
	}
	low := *h.Hello()
	low.Key = [32]byte{} // low order
	if err := b.ReceiveHello(&low); err != nil {
		t.Fatal(err) // accepted as a hello ...
	}
	if err := b.ReceiveHello(pt.Hello()); !errors.Is(err, ErrBadKey) {
		t.Fatalf("low-order key: %v", err) // ... refused when the seed is derived
	}
	if err := l.setup(); err == nil {
		t.Fatal("setup after a refused hello") // the bank already holds two hellos
	}
	l, _ = newLocal(&LocalConfig{Params: p, Bank: data.Bank, Labels: data.Labels, Partner: data.Partner, Rand: seeded(1)})
	if err := l.setup(); err != nil {
		t.Fatal(err)
	}
	b, pt, h = l.b, l.p, l.h
	db, dp, _ := h.NextDeal()
	if err := pt.ReceiveDeal(db); !errors.Is(err, ErrWrongRole) {
		t.Fatalf("deal for the bank at the partner: %v", err)
	}
	if err := b.ReceiveDeal(db); err != nil {
		t.Fatal(err)
	}
	if err := b.ReceiveDeal(db); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("repeated deal: %v", err)
	}
	if err := pt.ReceiveDeal(dp); err != nil {
		t.Fatal(err)
	}
	s, err := b.Send()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Send(); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("second send: %v", err)
	}
	bad := *s
	bad.Iteration = 1
	if _, err := pt.Step(&bad); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("share for the next iteration: %v", err)
	}
	bad = *s
	bad.F = bad.F[1:]
	if _, err := pt.Step(&bad); !errors.Is(err, ErrBadShape) {
		t.Fatalf("short share: %v", err)
	}
	if pt.Iteration() != 0 {
		t.Fatal("a refused share moved the partner on")
	}
	sp, err := pt.Step(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Receive(s); !errors.Is(err, ErrWrongRole) {
		t.Fatalf("own share back: %v", err)
	}
	if err := b.Receive(sp); err != nil {
		t.Fatal(err)
	}
	if err := b.Receive(sp); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("repeated share: %v", err)
	}
	if err := CheckIdentities("bank", "partner", "bank"); !errors.Is(err, ErrSameIdentity) {
		t.Fatalf("helper run by the bank: %v", err)
	}
	if err := CheckIdentities("bank", "partner", "helper-co"); err != nil {
		t.Fatal(err)
	}
	if _, err := NewBank(PartyConfig{Params: p, X: data.Bank, Labels: make([]float64, 10000-1)}); !errors.Is(err, ErrInput) {
		t.Fatalf("short labels: %v", err)
	}
	nan := slices.Clone(data.Bank.Data)
	nan[5] = math.NaN()
	if _, err := NewBank(PartyConfig{Params: p, X: Matrix{Rows: 10000, Cols: 2, Data: nan}, Labels: data.Labels}); !errors.Is(err, ErrNotFinite) {
		t.Fatalf("NaN feature: %v", err)
	}
}

// TestScoring: the partner's partial scores and the bank's combination give
// the model's logits, in the agreed order.
func TestScoring(t *testing.T) {
	data := NewSynthetic(12000, 3, 5, 4)
	tr, te := data.split(10000)
	p := Params{Job: "score", Rows: 10000, BankFeatures: 3, PartnerFeatures: 5, Epochs: 4}
	res, err := RunLocal(LocalConfig{Params: p, Bank: tr.Bank, Labels: tr.Labels, Partner: tr.Partner, Rand: seeded(1)})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := res.Partner.PartialScores(te.Partner)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := ps.MarshalBinary()
	var got PartialScores
	if err := got.UnmarshalBinary(raw); err != nil {
		t.Fatal(err)
	}
	pd, err := res.Bank.PD(te.Bank, &got)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		var z float64
		xb, xp := te.Bank.Row(i), te.Partner.Row(i)
		sc := math.Ldexp(1, DefaultFracBits)
		ub := res.Bank.Weights[0]
		for j, v := range xb {
			ub += math.Round(clip((v-res.Bank.Scaler.Mean[j])/res.Bank.Scaler.Std[j], 8)*sc) / sc * res.Bank.Weights[j+1]
		}
		var up float64
		for j, v := range xp {
			up += math.Round(clip((v-res.Partner.Scaler.Mean[j])/res.Partner.Scaler.Std[j], 8)*sc) / sc * res.Partner.Weights[j]
		}
		z = clip(ub, 8) + clip(up, 8)
		if want := 1 / (1 + math.Exp(-z)); math.Abs(pd[i]-want) > 1e-12 {
			t.Fatalf("row %d: PD %v, want %v", i, pd[i], want)
		}
	}
	if _, err := res.Bank.PD(te.Bank, &PartialScores{Job: "score", Scores: got.Scores[1:]}); !errors.Is(err, ErrBadShape) {
		t.Fatalf("short partner scores: %v", err)
	}
	if _, err := res.Bank.PD(te.Bank, &PartialScores{Job: "other", Scores: got.Scores}); !errors.Is(err, ErrWrongJob) {
		t.Fatalf("scores of another job: %v", err)
	}
	if a := auc(pd, te.Labels); a < 0.75 {
		t.Fatalf("test AUC %.3f", a)
	}
}

func TestBenchSmall(t *testing.T) {
	r, err := Bench(30000, 4, 40)
	if err != nil {
		t.Fatal(err)
	}
	if r.EpochS <= 0 || r.PlainEpochS <= 0 || r.Ratio <= 0 || r.RoundTrips < 1 || r.EpochBytes <= 0 {
		t.Fatalf("%+v", r)
	}
	t.Logf("%+v", r)
}
