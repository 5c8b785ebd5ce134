package vertical

import (
	"fmt"
	"math"
)

// Defaults.
const (
	DefaultFracBits     = 16  // fixed point at scale 2^16
	DefaultClip         = 8.0 // |u_B|, |u_P| ≤ U
	FeatureClip         = 8.0 // |x| ≤ 8 after standardising
	DefaultLearningRate = 0.5
	// DefaultLeakCorrelation is ε of the minimum batch rule (MinBatch):
	// the bank's least-squares reconstruction of the partner's partial
	// predictions from one gradient stays correlated less than ε with them.
	DefaultLeakCorrelation = 0.05
	// MinBinCount is the fewest rows a partner's bin may hold.
	MinBinCount = 50
)

// Params are the job's parameters; all three roles must hold the same. The
// helper learns them, and nothing else: they are the protocol metadata.
type Params struct {
	// Job is the job id; it separates every key and stream. Required.
	Job string
	// Rows is the number of aligned training rows.
	Rows int
	// BankFeatures and PartnerFeatures are the feature columns of each
	// side. The bank adds an intercept column of its own.
	BankFeatures, PartnerFeatures int
	// BatchSize is the least number of rows per mini-batch; 0 means
	// MinBatch. Rows are cut into ⌊Rows/BatchSize⌋ batches of nearly equal
	// size, the same ones every epoch.
	BatchSize int
	// Epochs is the number of passes over the rows; 0 means 1.
	Epochs int
	// LearningRate (0 means DefaultLearningRate), Momentum (heavy ball,
	// 0 ≤ μ < 1) and L2 (not on the intercept) drive each party's update of
	// its own weights.
	LearningRate, Momentum, L2 float64
	// FracBits is f, the fixed-point scale 2^f; 0 means 16. Range [8, 24].
	FracBits int
	// Clip is U, the bound on each side's partial prediction; 0 means 8.
	Clip float64
	// LeakCorrelation is ε of the minimum batch rule; 0 means 0.05.
	// Raising it lowers the minimum batch (and weakens the protection).
	LeakCorrelation float64
	// GradientNoise, if positive, is the standard deviation of Gaussian
	// noise that each data party adds to its contribution to the other
	// party's gradient (in units of the mean gradient). The receiver
	// cannot remove it. 0 disables it.
	GradientNoise float64
	// BankInitStd is the standard deviation of the bank's secret random
	// initial weights; 0 means 1/sqrt(BankFeatures+1), so that u_B starts
	// with unit scale and the partner never sees the zero-weight gradient.
	// A negative value means zero initial weights (tests only).
	BankInitStd float64
	// PartnerInitStd is the same for the partner; 0 means zero weights.
	PartnerInitStd float64

	// unsafeMinBatch, if positive, replaces MinBatch. Only this package's
	// tests set it, to show that the attacks succeed on small batches.
	unsafeMinBatch int
}

// MinBatch is the default minimum batch for a job with bankCols columns
// (features and intercept) at the bank and partnerCols at the partner:
//
//	max(8·max(bankCols, partnerCols), ⌈χ²_{d, 0.999}/ε²⌉) with d = bankCols
//
// The first term is vertical.md's bound against solving a gradient for the
// residuals (a batch no larger than the columns is inverted exactly). The
// second bounds what the bank's gradient reveals about the partner's
// partial predictions u_P: the bank learns X_B,Sᵀ·u_P, d numbers about n
// unknowns, and its best linear estimate of u_P (the projection onto its
// own columns) has squared correlation about χ²_d/n with u_P when the two
// sides' columns are independent. With n at least the 99.9% quantile of
// χ²_d (Wilson–Hilferty) over ε², the correlation stays under ε in all but
// about one batch in a thousand. The partner's estimate of the labels from
// its gradient, the same projection onto its columns, then has correlation
// about sqrt(partnerCols/n) with the residual, which on credit data
// (default rate ≤ 25%) gains less than 2 points over the majority rate.
// See the package documentation for what remains.
func MinBatch(bankCols, partnerCols int, eps float64) int {
	if eps <= 0 {
		eps = DefaultLeakCorrelation
	}
	return max(8*max(bankCols, partnerCols), int(math.Ceil(chiSquare999(bankCols)/(eps*eps))))
}

// chiSquare999 is the Wilson–Hilferty approximation of the 99.9% quantile
// of χ² with d degrees of freedom (within 3% for d ≥ 1 of the exact
// 10.83, 22.46, 26.12 and 61.10 at d = 1, 6, 8 and 31, and above them).
func chiSquare999(d int) float64 {
	const z = 3.0902 // the standard normal 99.9% quantile
	k := float64(d)
	c := 1 - 2/(9*k) + z*math.Sqrt(2/(9*k))
	return k * c * c * c
}

// MaxBatch is the largest batch whose gradient sums cannot wrap modulo
// 2^64: n·|x|·|4d|·2^(2f) ≤ 2^63 − 1 with |x| ≤ 8 and |4d| ≤ 2U + 2.
func MaxBatch(fracBits int, clip float64) int {
	d := 2*clip + 2
	return int(math.Floor(float64(math.MaxInt64) / (FeatureClip * d * math.Ldexp(1, 2*fracBits))))
}

// withDefaults fills the defaults and checks the parameters.
func (p Params) withDefaults() (Params, error) {
	if p.FracBits == 0 {
		p.FracBits = DefaultFracBits
	}
	if p.Clip == 0 {
		p.Clip = DefaultClip
	}
	if p.LearningRate == 0 {
		p.LearningRate = DefaultLearningRate
	}
	if p.Epochs == 0 {
		p.Epochs = 1
	}
	if p.LeakCorrelation == 0 {
		p.LeakCorrelation = DefaultLeakCorrelation
	}
	if p.BankInitStd == 0 {
		p.BankInitStd = 1 / math.Sqrt(float64(p.BankFeatures+1))
	}
	bad := func(format string, a ...any) (Params, error) {
		return p, fmt.Errorf("%w: "+format, append([]any{ErrParams}, a...)...)
	}
	switch {
	case p.Job == "" || len(p.Job) > maxJobLen:
		return bad("job id must have 1 to %d bytes", maxJobLen)
	case p.Rows < 1 || p.Rows > maxRows:
		return bad("rows %d outside [1, %d]", p.Rows, maxRows)
	case p.BankFeatures < 0 || p.BankFeatures > maxCols-1 || p.PartnerFeatures < 1 || p.PartnerFeatures > maxCols:
		return bad("features %d (bank) and %d (partner)", p.BankFeatures, p.PartnerFeatures)
	case p.FracBits < 8 || p.FracBits > 24:
		return bad("fractional bits %d outside [8, 24]", p.FracBits)
	case !(p.Clip >= 1 && p.Clip <= 64):
		return bad("clip %v outside [1, 64]", p.Clip)
	case p.Epochs < 1 || p.Epochs > 1<<20:
		return bad("epochs %d", p.Epochs)
	case !(p.LearningRate > 0) || math.IsInf(p.LearningRate, 0) || !(p.Momentum >= 0 && p.Momentum < 1) || !(p.L2 >= 0) || math.IsInf(p.L2, 0):
		return bad("learning rate %v, momentum %v, L2 %v", p.LearningRate, p.Momentum, p.L2)
	case !(p.LeakCorrelation > 0 && p.LeakCorrelation < 1):
		return bad("leak correlation %v outside (0, 1)", p.LeakCorrelation)
	case !(p.GradientNoise >= 0) || math.IsInf(p.GradientNoise, 0) || math.IsNaN(p.BankInitStd) || math.IsNaN(p.PartnerInitStd) || math.IsInf(p.BankInitStd, 0) || math.IsInf(p.PartnerInitStd, 0):
		return bad("noise %v, initial std %v and %v", p.GradientNoise, p.BankInitStd, p.PartnerInitStd)
	}
	minBatch := MinBatch(p.BankFeatures+1, p.PartnerFeatures, p.LeakCorrelation)
	if p.unsafeMinBatch > 0 {
		minBatch = p.unsafeMinBatch
	}
	if p.BatchSize == 0 {
		p.BatchSize = minBatch
	}
	if p.BatchSize < minBatch {
		return p, fmt.Errorf("%w: %d rows, the minimum for %d bank and %d partner columns is %d",
			ErrBatchTooSmall, p.BatchSize, p.BankFeatures+1, p.PartnerFeatures, minBatch)
	}
	if p.Rows < p.BatchSize {
		return p, fmt.Errorf("%w: %d rows, fewer than one batch of %d", ErrBatchTooSmall, p.Rows, p.BatchSize)
	}
	if largest := p.largestBatch(); largest > MaxBatch(p.FracBits, p.Clip) {
		return p, fmt.Errorf("%w: batches of up to %d rows, the limit at f=%d and U=%v is %d",
			ErrBatchTooLarge, largest, p.FracBits, p.Clip, MaxBatch(p.FracBits, p.Clip))
	}
	return p, nil
}

const (
	maxJobLen = 1024
	maxRows   = 1 << 31
	maxCols   = 1 << 16
)

// Batches is the number of mini-batches per epoch, hence the number of
// round trips (one exchange each way) per epoch; 0 if p is invalid.
func (p Params) Batches() int {
	q, err := p.withDefaults()
	if err != nil {
		return 0
	}
	return q.batches()
}

// Iterations is the number of mini-batch steps of the whole job; 0 if p is
// invalid.
func (p Params) Iterations() uint64 {
	q, err := p.withDefaults()
	if err != nil {
		return 0
	}
	return q.iterations()
}

// batches and iterations are Batches and Iterations of filled parameters.
func (p *Params) batches() int       { return max(1, p.Rows/p.BatchSize) }
func (p *Params) iterations() uint64 { return uint64(p.Epochs) * uint64(p.batches()) }

// batch returns the rows [lo, hi) of iteration t, in the schedule order.
func (p *Params) batch(t uint64) (lo, hi int) {
	nb := p.batches()
	k := int(t % uint64(nb))
	return int(int64(k) * int64(p.Rows) / int64(nb)), int(int64(k+1) * int64(p.Rows) / int64(nb))
}

func (p *Params) largestBatch() int {
	nb := p.batches()
	return (p.Rows + nb - 1) / nb
}

// CheckIdentities refuses a job whose helper is operated by one of the data
// parties: a helper that colludes with the bank reveals X_P through E, and
// with the partner reveals X_B through E'.
func CheckIdentities(bank, partner, helper string) error {
	switch {
	case bank == "" || partner == "" || helper == "":
		return fmt.Errorf("%w: empty identity", ErrParams)
	case bank == partner:
		return fmt.Errorf("%w: bank and partner are both %q", ErrParams, bank)
	case helper == bank || helper == partner:
		return fmt.Errorf("%w: %q", ErrSameIdentity, helper)
	}
	return nil
}
