package vertical

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"runtime"
)

// Matrix is a row-major table of Rows × Cols values.
type Matrix struct {
	Rows, Cols int
	Data       []float64
}

// Row returns row i.
func (m Matrix) Row(i int) []float64 { return m.Data[i*m.Cols : (i+1)*m.Cols] }

func (m Matrix) check(what string, rows, cols int) error {
	if m.Rows != rows || m.Cols != cols || len(m.Data) != rows*cols {
		return fmt.Errorf("%w: %s is %d×%d with %d values, want %d×%d", ErrInput, what, m.Rows, m.Cols, len(m.Data), rows, cols)
	}
	for i, v := range m.Data {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: %s row %d column %d is %v", ErrNotFinite, what, i/cols, i%cols, v)
		}
	}
	return nil
}

// Scaler standardises one party's columns with statistics of its own
// training rows: (x − Mean)/Std, then clipped to ±8. It travels with the
// party's model and never leaves the party.
type Scaler struct {
	Mean, Std []float64
}

func fitScaler(m Matrix) Scaler {
	s := Scaler{Mean: make([]float64, m.Cols), Std: make([]float64, m.Cols)}
	for i := range m.Rows {
		for j, v := range m.Row(i) {
			s.Mean[j] += v
		}
	}
	for j := range s.Mean {
		s.Mean[j] /= float64(m.Rows)
	}
	for i := range m.Rows {
		for j, v := range m.Row(i) {
			d := v - s.Mean[j]
			s.Std[j] += d * d
		}
	}
	for j := range s.Std {
		s.Std[j] = math.Sqrt(s.Std[j] / float64(m.Rows))
		if !(s.Std[j] > 1e-12) {
			s.Std[j] = 1
		}
	}
	return s
}

// quantizeRows standardises the rows of m in the order perm (nil: as they
// are), clips to ±8 and encodes at scale, with a leading intercept column of
// ones if intercept is set.
func (s Scaler) quantizeRows(m Matrix, perm []int32, scale float64, intercept bool) []int32 {
	cols := m.Cols
	if intercept {
		cols++
	}
	out := make([]int32, m.Rows*cols)
	for pos := range m.Rows {
		src := pos
		if perm != nil {
			src = int(perm[pos])
		}
		dst := out[pos*cols : (pos+1)*cols]
		if intercept {
			dst[0] = int32(scale)
			dst = dst[1:]
		}
		for j, v := range m.Row(src) {
			dst[j] = quantize((v-s.Mean[j])/s.Std[j], scale)
		}
	}
	return out
}

const labelSchedule = "fedscore/vertical/v1 schedule"

// Schedule is the job's fixed row order: position p of every epoch's pass
// is aligned row Schedule(job, rows)[p], and batch k is a contiguous range
// of positions. It depends on the job id only, so that every party, and
// every resumed session, derives the same batches: the same rows share a
// batch in every epoch, which keeps what the gradients reveal to one set of
// d linear combinations per batch.
func Schedule(job string, rows int) []int32 {
	seed := sha256.Sum256(append([]byte(labelSchedule), job...))
	rng := mrand.New(mrand.NewChaCha8(seed))
	perm := make([]int32, rows)
	for i := range perm {
		perm[i] = int32(i)
	}
	rng.Shuffle(rows, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
	return perm
}

// PartyConfig configures a data party.
type PartyConfig struct {
	Params Params
	// X holds the party's features for the aligned training rows, in the
	// agreed (PSI) order: Params.Rows × Params.BankFeatures at the bank,
	// × Params.PartnerFeatures at the partner.
	X Matrix
	// Labels (bank only) holds y ∈ {0, 1} for each row.
	Labels []float64
	// Rand supplies the session key, the initial weights and the noise; nil
	// means crypto/rand. A deterministic reader gives a deterministic twin.
	Rand io.Reader
	// Workers is the number of goroutines per kernel; 0 means GOMAXPROCS.
	Workers int
	// Resume, if set, restarts from the party's own checkpoint, in a new
	// session with new keys.
	Resume *Checkpoint
}

// dataParty is what the bank and the partner share.
type dataParty struct {
	p       Params
	role    Role
	workers int
	sess    session
	noise   *mrand.Rand
	scale   float64
	x       []int32 // rows × cols in schedule order, at scale 2^f
	cols    int
	scaler  Scaler
	w, vel  []float64
	grad    []float64 // last gradient, the party's own output
	t       uint64
	started bool
	sent    bool     // the bank's Send done for iteration t
	d4      []uint64 // the bank's share of 4d for iteration t
}

func newDataParty(c *PartyConfig, role Role, features int, intercept bool) (dataParty, error) {
	p, err := c.Params.withDefaults()
	if err != nil {
		return dataParty{}, err
	}
	if err := c.X.check(role.String()+" features", p.Rows, features); err != nil {
		return dataParty{}, err
	}
	r := c.Rand
	if r == nil {
		r = rand.Reader
	}
	workers := c.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	d := dataParty{p: p, role: role, workers: workers, scale: math.Ldexp(1, p.FracBits)}
	d.scaler = fitScaler(c.X)
	d.x = d.scaler.quantizeRows(c.X, Schedule(p.Job, p.Rows), d.scale, intercept)
	d.cols = features
	if intercept {
		d.cols++
	}
	var seed [32]byte
	if _, err := io.ReadFull(r, seed[:]); err != nil {
		return dataParty{}, fmt.Errorf("vertical: reading randomness: %w", err)
	}
	d.noise = mrand.New(mrand.NewChaCha8(seed))
	d.w = make([]float64, d.cols)
	d.vel = make([]float64, d.cols)
	initStd := p.PartnerInitStd
	if role == RoleBank {
		initStd = p.BankInitStd
	}
	if initStd > 0 {
		for j := range d.w {
			d.w[j] = initStd * d.noise.NormFloat64()
		}
	}
	if cp := c.Resume; cp != nil {
		switch {
		case cp.Job != p.Job || cp.Role != role:
			return dataParty{}, fmt.Errorf("%w: checkpoint of %v for job %q", ErrWrongJob, cp.Role, cp.Job)
		case len(cp.Weights) != d.cols || len(cp.Velocity) != d.cols:
			return dataParty{}, fmt.Errorf("%w: checkpoint has %d weights, want %d", ErrBadShape, len(cp.Weights), d.cols)
		case cp.Iteration > p.iterations():
			return dataParty{}, fmt.Errorf("%w: checkpoint at iteration %d of %d", ErrBadShape, cp.Iteration, p.iterations())
		}
		copy(d.w, cp.Weights)
		copy(d.vel, cp.Velocity)
		d.t = cp.Iteration
	}
	d.sess, err = newSession(p.Job, role, d.t, r)
	if err != nil {
		return dataParty{}, err
	}
	return d, nil
}

// Hello is the party's opening message for this session, for both others.
func (d *dataParty) Hello() *Hello { return d.sess.hello(ProtocolTraining) }

// Iteration is the next iteration to run.
func (d *dataParty) Iteration() uint64 { return d.t }

// Done reports whether every iteration has run.
func (d *dataParty) Done() bool { return d.t >= d.p.iterations() }

// Params returns the job's parameters with defaults filled in.
func (d *dataParty) Params() Params { return d.p }

// Weights returns a copy of the party's own weights (the bank's first is
// the intercept).
func (d *dataParty) Weights() []float64 { return append([]float64(nil), d.w...) }

// Gradient returns a copy of the party's own last gradient, which it
// learns in plaintext every iteration.
func (d *dataParty) Gradient() []float64 { return append([]float64(nil), d.grad...) }

// Checkpoint returns the state to resume from after the last whole
// iteration. Call it between iterations (not between Send and Receive).
func (d *dataParty) Checkpoint() *Checkpoint {
	return &Checkpoint{Job: d.p.Job, Role: d.role, Iteration: d.t, Weights: d.Weights(), Velocity: append([]float64(nil), d.vel...)}
}

// partial returns the party's encoded partial predictions for rows
// [lo, hi): u = X_S·w in floating point, clipped to ±U, at scale 2^f.
func (d *dataParty) partial(lo, hi int) ([]uint64, error) {
	ws := make([]float64, d.cols)
	for j, w := range d.w {
		ws[j] = w / d.scale
	}
	u := make([]float64, hi-lo)
	mulVecI32(d.x[lo*d.cols:hi*d.cols], d.cols, ws, u, d.workers)
	enc := make([]uint64, len(u))
	for i, v := range u {
		if math.IsNaN(v) {
			return nil, fmt.Errorf("%w: %v partial prediction at iteration %d (weights diverged)", ErrNotFinite, d.role, d.t)
		}
		enc[i] = encode(v, d.p.Clip, d.scale)
	}
	return enc, nil
}

// noiseFor draws the noise this party adds to the other's gradient on a
// batch of n rows, at the gradient sum's scale 2^(2f)·4n.
func (d *dataParty) noiseFor(cols, n int) []int64 {
	if d.p.GradientNoise <= 0 {
		return nil
	}
	sd := d.p.GradientNoise * 4 * float64(n) * d.scale * d.scale
	return gaussianNoise(d.noise.Uint64, cols, sd)
}

// update decodes the gradient sum g (scale 2^(2f), over n rows, of 4d) and
// takes one step. The bank's column 0 is the intercept, free of L2.
func (d *dataParty) update(g []uint64, n int) {
	d.grad = make([]float64, d.cols)
	den := d.scale * d.scale * 4 * float64(n)
	for j := range d.grad {
		d.grad[j] = decode(g[j], den)
	}
	for j := range d.w {
		gj := d.grad[j]
		if !(d.role == RoleBank && j == 0) {
			gj += d.p.L2 * d.w[j]
		}
		d.vel[j] = d.p.Momentum*d.vel[j] + gj
		d.w[j] -= d.p.LearningRate * d.vel[j]
	}
	d.t++
	d.sent = false
	d.d4 = nil
}

// checkShare checks the header of a Share for iteration t.
func (d *dataParty) checkShare(s *Share, from Role, prod Product) error {
	switch {
	case s.Job != d.p.Job:
		return fmt.Errorf("%w: %q", ErrWrongJob, s.Job)
	case s.From != from || s.Product != prod:
		return fmt.Errorf("%w: %v share from %v", ErrWrongRole, s.Product, s.From)
	case d.Done():
		return ErrDone
	case s.Iteration != d.t:
		return fmt.Errorf("%w: share for iteration %d, at %d", ErrOutOfOrder, s.Iteration, d.t)
	case !d.sent:
		return fmt.Errorf("%w: share for iteration %d before the bank sent its own", ErrOutOfOrder, d.t)
	}
	return nil
}

// checkDeal checks the header of a Deal.
func (d *dataParty) checkDeal(m *Deal, prod Product) (lo, hi int, err error) {
	switch {
	case m.Job != d.p.Job:
		return 0, 0, fmt.Errorf("%w: %q", ErrWrongJob, m.Job)
	case m.To != d.role || m.Product != prod:
		return 0, 0, fmt.Errorf("%w: %v deal for %v", ErrWrongRole, m.Product, m.To)
	case m.Iteration < d.t || m.Iteration >= d.p.iterations():
		return 0, 0, fmt.Errorf("%w: deal for iteration %d, at %d of %d", ErrOutOfOrder, m.Iteration, d.t, d.p.iterations())
	case !d.started:
		return 0, 0, fmt.Errorf("%w: deal before the hellos", ErrNotReady)
	}
	lo, hi = d.p.batch(m.Iteration)
	return lo, hi, nil
}

// checkChunk checks the header of a MatrixChunk.
func (d *dataParty) checkChunk(c *MatrixChunk, from Role, prod Product) error {
	switch {
	case c.Job != d.p.Job:
		return fmt.Errorf("%w: %q", ErrWrongJob, c.Job)
	case c.From != from || c.Product != prod:
		return fmt.Errorf("%w: %v matrix from %v", ErrWrongRole, c.Product, c.From)
	case !d.started:
		return fmt.Errorf("%w: matrix before the hellos", ErrNotReady)
	}
	return nil
}
