package secagg

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// Phase numbers the protocol's phases as in design/secure-aggregation.md.
type Phase uint8

// Phases. PhaseConsistencyCheck is reserved: it needs identity keys, which
// participants do not have yet (see the package documentation).
const (
	PhaseAdvertiseKeys    Phase = 0
	PhaseShareKeys        Phase = 1
	PhaseMaskedInput      Phase = 2
	PhaseConsistencyCheck Phase = 3
	PhaseUnmasking        Phase = 4
	phaseDone             Phase = 5
)

func (p Phase) String() string {
	switch p {
	case PhaseAdvertiseKeys:
		return "advertise-keys"
	case PhaseShareKeys:
		return "share-keys"
	case PhaseMaskedInput:
		return "masked-input"
	case PhaseConsistencyCheck:
		return "consistency-check"
	case PhaseUnmasking:
		return "unmasking"
	case phaseDone:
		return "done"
	}
	return fmt.Sprintf("phase(%d)", uint8(p))
}

// GraphKind selects the neighbour graph.
type GraphKind uint8

const (
	// GraphAuto is the complete graph for n <= 200 and a random Harary
	// graph beyond.
	GraphAuto GraphKind = iota
	// GraphComplete makes every participant a neighbour of every other.
	GraphComplete
	// GraphHarary lays the participants on a shuffled ring and links each
	// to Degree/2 neighbours on either side (Bell et al., CCS 2020).
	GraphHarary
)

func (g GraphKind) String() string {
	switch g {
	case GraphAuto:
		return "auto"
	case GraphComplete:
		return "complete"
	case GraphHarary:
		return "harary"
	}
	return fmt.Sprintf("graph(%d)", uint8(g))
}

// Threat selects the row of the parameter table.
type Threat uint8

const (
	// SemiHonest: the coordinator follows the protocol but is curious and
	// may collude with a fraction Corruption of the participants.
	SemiHonest Threat = iota
	// SemiMalicious: the table row for an actively lying coordinator. Using
	// it also needs the consistency check, which is not built yet; the row
	// is here so that the graph parameters can be computed and compared.
	SemiMalicious
)

func (t Threat) String() string {
	if t == SemiMalicious {
		return "semi-malicious"
	}
	return "semi-honest"
}

// Defaults from design/secure-aggregation.md.
const (
	DefaultDropout    = 0.3  // δ
	DefaultCorruption = 0.05 // γ
	// CompleteGraphMax is the largest n that GraphAuto serves with the
	// complete graph.
	CompleteGraphMax = 200
	maxJobLen        = 1024
)

// Params fixes one secure aggregation round. The coordinator and every
// participant must construct it identically: it is hashed into every key
// derivation, so a disagreement makes decryption fail instead of corrupting
// the sum. Zero values mean the documented defaults.
type Params struct {
	Job   string
	Round uint64
	// Participants is U, fixed before phase 0; a participant's index in this
	// slice is its id in every message. IDs must be unique and non-empty.
	Participants []string
	// VectorLens gives the length of each vector masked in this round. The
	// position of a vector is its vector-id: every vector gets its own
	// masks, so that several can be masked in one round.
	VectorLens []int

	// Dropout is δ, the fraction of participants that may drop (default
	// 0.3). The round needs at least ⌈(1−δ)n⌉ survivors.
	Dropout float64
	// Corruption is γ, the fraction of participants that may collude with
	// the coordinator (default 0.05). Only 0.05 and 0.10 are tabulated.
	Corruption float64
	Threat     Threat
	Graph      GraphKind
	// Degree (k, neighbours excluding self) and Threshold (t, shares needed
	// among a participant's holders) override the table. MinSurvivors
	// overrides ⌈(1−δ)n⌉. Overrides are for tests and experiments: the
	// table is what the security argument covers.
	Degree, Threshold, MinSurvivors int

	// Workers lets the coordinator expand recovery masks on this many
	// goroutines (0 or 1: none). It does not change any result and is not
	// part of the round's identity.
	Workers int
}

// hararyRow is one row of the specification's table (δ = 0.3, security
// 2^-40, failure 2^-20), taken from fcp's graph-parameter finder as quoted
// in design/secure-aggregation.md.
type hararyRow struct {
	threat Threat
	gamma  float64
	k, t   [5]int
}

var hararyN = [5]int{100, 200, 500, 1000, 10000}

var hararyTable = []hararyRow{
	{SemiHonest, 0.05, [5]int{26, 38, 58, 66, 80}, [5]int{6, 11, 20, 23, 29}},
	{SemiHonest, 0.10, [5]int{34, 54, 76, 88, 108}, [5]int{11, 21, 31, 36, 44}},
	{SemiMalicious, 0.05, [5]int{66, 116, 212, 314, 522}, [5]int{36, 64, 119, 179, 299}},
}

// HararyParams returns k and t from the table for n participants, using the
// smallest tabulated n' >= n. A Harary graph with the degree computed for n'
// is at least as well connected on fewer nodes, and the hypergeometric tails
// behind t only tighten as the population shrinks, so this is conservative.
func HararyParams(n int, dropout, corruption float64, threat Threat) (k, t int, err error) {
	if math.Abs(dropout-DefaultDropout) > 1e-9 {
		return 0, 0, fmt.Errorf("%w: the Harary table covers δ = 0.3 only (got %v); set Degree and Threshold", ErrParams, dropout)
	}
	for _, row := range hararyTable {
		if row.threat != threat || math.Abs(row.gamma-corruption) > 1e-9 {
			continue
		}
		for i, nn := range hararyN {
			if n <= nn {
				return row.k[i], row.t[i], nil
			}
		}
		return 0, 0, fmt.Errorf("%w: n = %d exceeds the Harary table (max %d); set Degree and Threshold", ErrParams, n, hararyN[len(hararyN)-1])
	}
	return 0, 0, fmt.Errorf("%w: no Harary table row for %s, γ = %v; set Degree and Threshold", ErrParams, threat, corruption)
}

// ceilFrac returns ⌈(1−δ)n⌉ without floating-point surprises at exact
// products such as 0.3·100.
func ceilFrac(n int, delta float64) int {
	return n - int(math.Floor(delta*float64(n)+1e-9))
}

// Plan is Params resolved: the graph, the threshold and the global minimum
// both sides use. Build it with Params.Plan.
type Plan struct {
	N            int
	Graph        GraphKind // GraphComplete or GraphHarary, never GraphAuto
	Degree       int       // k: neighbours of each participant, excluding itself
	Threshold    int       // t: shares needed among N(u) ∪ {u}
	MinSurvivors int       // global minimum |U3| (and |U1|, |U2|)

	job        string
	round      uint64
	vectorLens []int
	workers    int
	ctx        [32]byte // hash of everything above and of U
	ring       []uint32 // Harary: participant at each ring position
	pos        []uint32 // Harary: ring position of each participant
}

// Plan validates p and resolves the defaults and the graph.
func (p Params) Plan() (*Plan, error) {
	n := len(p.Participants)
	switch {
	case p.Job == "" || len(p.Job) > maxJobLen:
		return nil, fmt.Errorf("%w: job id must have 1..%d bytes", ErrParams, maxJobLen)
	case n < 2:
		return nil, fmt.Errorf("%w: need at least 2 participants, got %d", ErrParams, n)
	case uint64(n) >= uint64(Broadcast):
		return nil, fmt.Errorf("%w: too many participants", ErrParams)
	case len(p.VectorLens) == 0:
		return nil, fmt.Errorf("%w: no vectors to mask", ErrParams)
	case p.Degree < 0 || p.Threshold < 0 || p.MinSurvivors < 0 || p.Workers < 0:
		return nil, fmt.Errorf("%w: negative override", ErrParams)
	}
	seen := make(map[string]struct{}, n)
	for _, id := range p.Participants {
		if id == "" || len(id) > maxJobLen {
			return nil, fmt.Errorf("%w: participant ids must have 1..%d bytes", ErrParams, maxJobLen)
		}
		if _, dup := seen[id]; dup {
			return nil, fmt.Errorf("%w: participant %q listed twice", ErrParams, id)
		}
		seen[id] = struct{}{}
	}
	for i, m := range p.VectorLens {
		if m <= 0 || m > maxVectorLen {
			return nil, fmt.Errorf("%w: vector %d has length %d (want 1..%d)", ErrParams, i, m, maxVectorLen)
		}
	}
	delta, gamma := p.Dropout, p.Corruption
	if delta == 0 {
		delta = DefaultDropout
	}
	if gamma == 0 {
		gamma = DefaultCorruption
	}
	if !(delta > 0 && delta < 1) || !(gamma > 0 && gamma < 1) {
		return nil, fmt.Errorf("%w: dropout and corruption must lie in (0, 1)", ErrParams)
	}

	pl := &Plan{N: n, job: p.Job, round: p.Round, vectorLens: slices.Clone(p.VectorLens), workers: p.Workers}
	pl.Graph = p.Graph
	if pl.Graph == GraphAuto {
		pl.Graph = GraphComplete
		if n > CompleteGraphMax {
			pl.Graph = GraphHarary
		}
	}
	switch pl.Graph {
	case GraphComplete:
		if p.Degree != 0 && p.Degree != n-1 {
			return nil, fmt.Errorf("%w: complete graph has degree %d, not %d", ErrParams, n-1, p.Degree)
		}
		pl.Degree = n - 1
		pl.Threshold = ceilFrac(n, delta)
	case GraphHarary:
		k, t := p.Degree, p.Threshold
		if k == 0 || t == 0 {
			tk, tt, err := HararyParams(n, delta, gamma, p.Threat)
			if err != nil {
				return nil, err
			}
			if k == 0 {
				k = tk
			}
			if t == 0 {
				t = tt
			}
		}
		if k%2 != 0 || k < 2 || k > n-1 {
			return nil, fmt.Errorf("%w: Harary degree must be even and in [2, n-1]; got k = %d for n = %d", ErrParams, k, n)
		}
		pl.Degree, pl.Threshold = k, t
	default:
		return nil, fmt.Errorf("%w: unknown graph %v", ErrParams, p.Graph)
	}
	if p.Threshold != 0 {
		pl.Threshold = p.Threshold
	}
	if pl.Threshold < 2 || pl.Threshold > pl.Degree+1 {
		// t = 1 would make every share equal to the secret.
		return nil, fmt.Errorf("%w: threshold %d outside [2, k+1 = %d]", ErrParams, pl.Threshold, pl.Degree+1)
	}
	pl.MinSurvivors = ceilFrac(n, delta)
	if p.MinSurvivors != 0 {
		pl.MinSurvivors = p.MinSurvivors
	}
	if pl.MinSurvivors < 1 || pl.MinSurvivors > n {
		return nil, fmt.Errorf("%w: minimum survivors %d outside [1, n]", ErrParams, pl.MinSurvivors)
	}

	seed := graphSeed(p.Job, p.Round, p.Participants)
	if pl.Graph == GraphHarary {
		pl.ring, pl.pos = hararyRing(seed, p.Participants)
	}
	pl.ctx = roundContext(pl, p.Participants)
	return pl, nil
}

// roundContext hashes the round's identity: job, round, U in index order,
// the vectors and the resolved graph parameters. Every key derivation and
// therefore every ciphertext and mask is bound to it.
func roundContext(pl *Plan, ids []string) [32]byte {
	h := sha256.New()
	var b []byte
	b = append(b, labelRound...)
	b = appendString(b, pl.job)
	b = binary.LittleEndian.AppendUint64(b, pl.round)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(ids)))
	for _, id := range ids {
		b = appendString(b, id)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(pl.vectorLens)))
	for _, m := range pl.vectorLens {
		b = binary.LittleEndian.AppendUint64(b, uint64(m))
	}
	b = append(b, byte(pl.Graph))
	b = binary.LittleEndian.AppendUint32(b, uint32(pl.Degree))
	b = binary.LittleEndian.AppendUint32(b, uint32(pl.Threshold))
	b = binary.LittleEndian.AppendUint32(b, uint32(pl.MinSurvivors))
	if pl.ring != nil {
		for _, u := range pl.ring {
			b = binary.LittleEndian.AppendUint32(b, u)
		}
	}
	h.Write(b)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// VectorLens returns the lengths of the vectors masked in this round.
func (pl *Plan) VectorLens() []int { return slices.Clone(pl.vectorLens) }

// Adjacent reports whether u and v are neighbours (never u with itself).
func (pl *Plan) Adjacent(u, v uint32) bool {
	n := uint32(pl.N)
	if u == v || u >= n || v >= n {
		return false
	}
	if pl.Graph == GraphComplete {
		return true
	}
	d := pl.pos[u] - pl.pos[v]
	if pl.pos[u] < pl.pos[v] {
		d = pl.pos[v] - pl.pos[u]
	}
	d = min(d, n-d)
	return d <= uint32(pl.Degree/2)
}

// Neighbours returns N(u) in increasing order.
func (pl *Plan) Neighbours(u uint32) []uint32 {
	return pl.appendHolders(nil, u, false)
}

// Holders returns N(u) ∪ {u} in increasing order: the participants that
// hold shares of u's secrets.
func (pl *Plan) Holders(u uint32) []uint32 {
	return pl.appendHolders(nil, u, true)
}

func (pl *Plan) appendHolders(dst []uint32, u uint32, self bool) []uint32 {
	n := uint32(pl.N)
	if u >= n {
		return dst
	}
	start := len(dst)
	if pl.Graph == GraphComplete {
		for v := uint32(0); v < n; v++ {
			if v != u || self {
				dst = append(dst, v)
			}
		}
		return dst
	}
	if self {
		dst = append(dst, u)
	}
	p, h := pl.pos[u], uint32(pl.Degree/2)
	for d := uint32(1); d <= h; d++ {
		dst = append(dst, pl.ring[(p+d)%n], pl.ring[(p+n-d)%n])
	}
	slices.Sort(dst[start:])
	return dst
}
