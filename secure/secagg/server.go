package secagg

import (
	"cmp"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"

	"github.com/cloudflare/circl/dh/x25519"
	"github.com/cloudflare/circl/group"
)

// Server is the coordinator's side of one round. It collects each phase's
// messages with Receive and closes the phase when the runtime decides to
// (everyone answered, or a timer fired):
//
//	Roster()          closes phase 0, returns the broadcast of U1's keys
//	Inboxes()         closes phase 1, returns one ShareInbox per member of U2
//	UnmaskRequests()  closes phase 2, returns one UnmaskRequest per member of U3
//	Sum()             closes phase 4, returns the sum over U3
//
// A message that arrives after its phase closed is refused (ErrLate) and
// never used: a late masked input is not summed and its sender counts as
// dropped. If a phase closes with fewer survivors than the round needs, or
// a secret cannot be recovered, the round fails with a *RoundError and no
// sum is computed; the failure is final.
//
// A Server does no I/O, reads no clock and, unless Params.Workers > 1,
// starts no goroutine.
type Server struct {
	plan   *Plan
	phase  Phase // the phase being collected
	closed int   // how many of the phases 0, 1, 2, 4 have closed
	fail   error

	encKeys, maskKeys [][KeySize]byte
	keys              map[[KeySize]byte]uint32 // advertised keys, for duplicates
	u1, u2, u3, u4    []bool                   // who sent in phases 0, 1, 2, 4
	commits           [][32]byte
	shareMsgs         [][]EncryptedShare
	acc               [][]uint64 // Σ y_u so far
	revealed          [][]heldShare
	result            [][]uint64
}

type heldShare struct {
	holder uint32
	value  group.Scalar
}

// NewServer prepares the coordinator's side of round p.
func NewServer(p Params) (*Server, error) {
	pl, err := p.Plan()
	if err != nil {
		return nil, err
	}
	return NewServerFromPlan(pl), nil
}

// NewServerFromPlan is NewServer with an already resolved plan.
func NewServerFromPlan(pl *Plan) *Server {
	n := pl.N
	s := &Server{
		plan:      pl,
		encKeys:   make([][KeySize]byte, n),
		maskKeys:  make([][KeySize]byte, n),
		keys:      make(map[[KeySize]byte]uint32, 2*n),
		u1:        make([]bool, n),
		u2:        make([]bool, n),
		u3:        make([]bool, n),
		u4:        make([]bool, n),
		commits:   make([][32]byte, n),
		shareMsgs: make([][]EncryptedShare, n),
		revealed:  make([][]heldShare, n),
	}
	return s
}

// Plan returns the resolved parameters.
func (s *Server) Plan() *Plan { return s.plan }

// Phase returns the phase being collected (PhaseUnmasking until Sum).
func (s *Server) Phase() Phase { return s.phase }

// ReceiveBytes decodes data and passes it to Receive.
func (s *Server) ReceiveBytes(from uint32, data []byte) error {
	m, err := Unmarshal(data)
	if err != nil {
		return err
	}
	return s.Receive(from, m)
}

// Receive takes a message from participant from, the sender that the
// transport authenticated. It refuses, with a distinct sentinel error and
// no change of state, messages for another job or round, claiming another
// sender, of the wrong phase (early: ErrOutOfPhase; late: ErrLate), repeated
// (ErrDuplicate), from a participant that dropped earlier
// (ErrUnknownParticipant), or inconsistent with the round (ErrBadMessage,
// ErrDuplicateKey).
func (s *Server) Receive(from uint32, m Message) error {
	pl := s.plan
	h := m.MessageHeader()
	switch {
	case int64(from) >= int64(pl.N):
		return fmt.Errorf("%w: %d not in U", ErrUnknownParticipant, from)
	case h.Job != pl.job:
		return fmt.Errorf("%w: %q, want %q", ErrWrongJob, h.Job, pl.job)
	case h.Round != pl.round:
		return fmt.Errorf("%w: %d, want %d", ErrWrongRound, h.Round, pl.round)
	case h.From != from:
		return fmt.Errorf("%w: header says %d, transport says %d", ErrWrongSender, h.From, from)
	case h.To != Coordinator:
		return fmt.Errorf("%w: to %d", ErrWrongRecipient, h.To)
	}
	if s.fail != nil || s.phase == phaseDone {
		return fmt.Errorf("%w: round over", ErrLate)
	}
	switch m := m.(type) {
	case *AdvertiseKeys:
		if err := s.inPhase(PhaseAdvertiseKeys, from, nil, s.u1); err != nil {
			return err
		}
		return s.receiveAdvertise(from, m)
	case *ShareKeys:
		if err := s.inPhase(PhaseShareKeys, from, s.u1, s.u2); err != nil {
			return err
		}
		return s.receiveShares(from, m)
	case *MaskedInput:
		if err := s.inPhase(PhaseMaskedInput, from, s.u2, s.u3); err != nil {
			return err
		}
		return s.receiveMasked(from, m)
	case *UnmaskResponse:
		if err := s.inPhase(PhaseUnmasking, from, s.u3, s.u4); err != nil {
			return err
		}
		return s.receiveUnmask(from, m)
	}
	return fmt.Errorf("%w: %T is not a participant's message", ErrWrongSender, m)
}

// inPhase checks that a message of phase ph from `from` is expected now:
// the phase is open, from belongs to the previous phase's set (member) and
// has not sent yet (sent).
func (s *Server) inPhase(ph Phase, from uint32, member, sent []bool) error {
	switch {
	case ph < s.phase:
		return fmt.Errorf("%w: %s message during %s", ErrLate, ph, s.phase)
	case ph > s.phase:
		return fmt.Errorf("%w: %s message during %s", ErrOutOfPhase, ph, s.phase)
	case member != nil && !member[from]:
		return fmt.Errorf("%w: %d dropped before %s", ErrUnknownParticipant, from, ph)
	case sent[from]:
		return fmt.Errorf("%w: second %s message from %d", ErrDuplicate, ph, from)
	}
	return nil
}

func (s *Server) receiveAdvertise(from uint32, m *AdvertiseKeys) error {
	if m.EncKey == m.MaskKey {
		return fmt.Errorf("%w: %d advertised the same key twice", ErrDuplicateKey, from)
	}
	for _, k := range [][KeySize]byte{m.EncKey, m.MaskKey} {
		if owner, dup := s.keys[k]; dup {
			return fmt.Errorf("%w: %d repeats a key of %d", ErrDuplicateKey, from, owner)
		}
	}
	s.keys[m.EncKey], s.keys[m.MaskKey] = from, from
	s.encKeys[from], s.maskKeys[from] = m.EncKey, m.MaskKey
	s.u1[from] = true
	return nil
}

func (s *Server) receiveShares(from uint32, m *ShareKeys) error {
	// The recipients must be exactly the sender's neighbours in U1.
	i := 0
	for _, v := range s.plan.Neighbours(from) {
		if !s.u1[v] {
			continue
		}
		if i >= len(m.Shares) || m.Shares[i].Peer != v {
			return fmt.Errorf("%w: shares of %d are not addressed to exactly its neighbours in U1", ErrBadMessage, from)
		}
		i++
	}
	if i != len(m.Shares) {
		return fmt.Errorf("%w: shares of %d are not addressed to exactly its neighbours in U1", ErrBadMessage, from)
	}
	s.shareMsgs[from] = slices.Clone(m.Shares)
	s.commits[from] = m.SelfMaskCommit
	s.u2[from] = true
	return nil
}

func (s *Server) receiveMasked(from uint32, m *MaskedInput) error {
	lens := s.plan.vectorLens
	if len(m.Vectors) != len(lens) {
		return fmt.Errorf("%w: %d sent %d vectors, want %d", ErrBadMessage, from, len(m.Vectors), len(lens))
	}
	for i, v := range m.Vectors {
		if len(v) != lens[i] {
			return fmt.Errorf("%w: %d sent vector %d with %d words, want %d", ErrBadMessage, from, i, len(v), lens[i])
		}
	}
	if s.acc == nil {
		s.acc = make([][]uint64, len(lens))
		for i, m := range lens {
			s.acc[i] = make([]uint64, m)
		}
	}
	for i, v := range m.Vectors {
		a := s.acc[i]
		for j := range a {
			a[j] += v[j]
		}
	}
	s.u3[from] = true
	return nil
}

func (s *Server) receiveUnmask(from uint32, m *UnmaskResponse) error {
	// Exactly one share per member of U2 among from's holders set: of k_b
	// for members of U3, of k_s for the others.
	pl := s.plan
	want := pl.Holders(from)
	i := 0
	vals := make([]group.Scalar, 0, len(want))
	for _, u := range want {
		if !s.u2[u] {
			continue
		}
		kind := MaskKeyShare
		if s.u3[u] {
			kind = SelfMaskShare
		}
		if i >= len(m.Shares) || m.Shares[i].Owner != u || m.Shares[i].Kind != kind {
			return fmt.Errorf("%w: unmasking response of %d does not match the request", ErrBadMessage, from)
		}
		v, ok := parseScalar(m.Shares[i].Value[:])
		if !ok {
			return fmt.Errorf("%w: share of %d's secret from %d is not a scalar", ErrBadMessage, u, from)
		}
		vals = append(vals, v)
		i++
	}
	if i != len(m.Shares) {
		return fmt.Errorf("%w: unmasking response of %d does not match the request", ErrBadMessage, from)
	}
	for j := range m.Shares {
		u := m.Shares[j].Owner
		s.revealed[u] = append(s.revealed[u], heldShare{holder: from, value: vals[j]})
	}
	s.u4[from] = true
	return nil
}

// Pending returns the participants whose message for the current phase has
// not arrived: the runtime may close the phase early when it is empty.
func (s *Server) Pending() []uint32 {
	var member, sent []bool
	switch s.phase {
	case PhaseAdvertiseKeys:
		sent = s.u1
	case PhaseShareKeys:
		member, sent = s.u1, s.u2
	case PhaseMaskedInput:
		member, sent = s.u2, s.u3
	case PhaseUnmasking:
		member, sent = s.u3, s.u4
	default:
		return nil
	}
	var out []uint32
	for u := range sent {
		if (member == nil || member[u]) && !sent[u] {
			out = append(out, uint32(u))
		}
	}
	return out
}

// Dropouts reports who dropped in each phase closed so far (including the
// phase whose closing failed the round).
func (s *Server) Dropouts() Dropouts {
	d := Dropouts{}
	sets := []struct {
		ph         Phase
		prev, this []bool
	}{
		{PhaseAdvertiseKeys, nil, s.u1},
		{PhaseShareKeys, s.u1, s.u2},
		{PhaseMaskedInput, s.u2, s.u3},
		{PhaseUnmasking, s.u3, s.u4},
	}
	for _, set := range sets[:s.closed] {
		for u := range set.this {
			if (set.prev == nil || set.prev[u]) && !set.this[u] {
				d[set.ph] = append(d[set.ph], uint32(u))
			}
		}
	}
	return d
}

// Survivors returns U3, the participants whose inputs are in the sum, once
// phase 2 has closed.
func (s *Server) Survivors() []uint32 {
	if s.phase < PhaseUnmasking {
		return nil
	}
	return members(s.u3)
}

func members(set []bool) []uint32 {
	var out []uint32
	for u, in := range set {
		if in {
			out = append(out, uint32(u))
		}
	}
	return out
}

func count(set []bool) int {
	n := 0
	for _, in := range set {
		if in {
			n++
		}
	}
	return n
}

func (s *Server) close(ph Phase) error {
	if s.fail != nil {
		return s.fail
	}
	if s.phase != ph {
		return fmt.Errorf("%w: closing %s during %s", ErrOutOfPhase, ph, s.phase)
	}
	return nil
}

// failRound closes phase ph with a RoundError; the failure is final.
func (s *Server) failRound(ph Phase, cause error, owners []uint32, have, need int) error {
	s.closed++
	s.fail = &RoundError{Phase: ph, Cause: cause, Dropped: s.Dropouts(), Owners: owners, Have: have, Need: need}
	s.phase = phaseDone
	s.acc = nil
	s.revealed = nil
	return s.fail
}

// Roster closes phase 0 and returns U1 with its keys, for every participant.
func (s *Server) Roster() (*Roster, error) {
	if err := s.close(PhaseAdvertiseKeys); err != nil {
		return nil, err
	}
	if n := count(s.u1); n < s.plan.MinSurvivors {
		return nil, s.failRound(PhaseAdvertiseKeys, ErrTooFewSurvivors, nil, n, s.plan.MinSurvivors)
	}
	r := &Roster{Header: s.header(Broadcast)}
	for _, u := range members(s.u1) {
		r.Keys = append(r.Keys, AdvertisedKeys{ID: u, EncKey: s.encKeys[u], MaskKey: s.maskKeys[u]})
	}
	s.keys = nil
	s.phase = PhaseShareKeys
	s.closed++
	return r, nil
}

func (s *Server) header(to uint32) Header {
	return Header{Job: s.plan.job, Round: s.plan.round, From: Coordinator, To: to}
}

// Inboxes closes phase 1 and returns, for each member of U2, the
// ciphertexts its neighbours in U2 addressed to it.
func (s *Server) Inboxes() ([]*ShareInbox, error) {
	if err := s.close(PhaseShareKeys); err != nil {
		return nil, err
	}
	if n := count(s.u2); n < s.plan.MinSurvivors {
		return nil, s.failRound(PhaseShareKeys, ErrTooFewSurvivors, nil, n, s.plan.MinSurvivors)
	}
	byRecipient := make([]*ShareInbox, s.plan.N)
	var out []*ShareInbox
	for _, v := range members(s.u2) {
		byRecipient[v] = &ShareInbox{Header: s.header(v)}
		out = append(out, byRecipient[v])
	}
	for _, u := range members(s.u2) { // increasing sender order
		for _, e := range s.shareMsgs[u] {
			if in := byRecipient[e.Peer]; in != nil {
				in.Shares = append(in.Shares, EncryptedShare{Peer: u, Ciphertext: e.Ciphertext})
			}
		}
		s.shareMsgs[u] = nil
	}
	s.phase = PhaseMaskedInput
	s.closed++
	return out, nil
}

// UnmaskRequests closes phase 2 and returns, for each member v of U3, the
// members of U3 among N(v) ∪ {v}. It fails the round, sending nothing, if
// U3 is below the global minimum or any secret that will be needed has fewer
// than t holders left in U3.
func (s *Server) UnmaskRequests() ([]*UnmaskRequest, error) {
	if err := s.close(PhaseMaskedInput); err != nil {
		return nil, err
	}
	pl := s.plan
	if n := count(s.u3); n < pl.MinSurvivors {
		return nil, s.failRound(PhaseMaskedInput, ErrTooFewSurvivors, nil, n, pl.MinSurvivors)
	}
	var short []uint32
	least := pl.N
	var buf []uint32
	for _, u := range members(s.u2) {
		buf = pl.appendHolders(buf[:0], u, true)
		n := 0
		for _, h := range buf {
			if s.u3[h] {
				n++
			}
		}
		if n < pl.Threshold {
			short = append(short, u)
			least = min(least, n)
		}
	}
	if len(short) > 0 {
		return nil, s.failRound(PhaseMaskedInput, ErrBelowThreshold, short, least, pl.Threshold)
	}
	var out []*UnmaskRequest
	for _, v := range members(s.u3) {
		req := &UnmaskRequest{Header: s.header(v)}
		buf = pl.appendHolders(buf[:0], v, true)
		for _, h := range buf {
			if s.u3[h] {
				req.Survivors = append(req.Survivors, h)
			}
		}
		out = append(out, req)
	}
	s.phase = PhaseUnmasking
	s.closed++
	return out, nil
}

// Sum closes phase 4: it recovers k_b of every survivor and k_s of every
// participant that dropped after sharing, checks each against its
// commitment (the hash sent with ShareKeys; the advertised mask key), and
// returns z = Σ_{U3} y_u − Σ_{U3} PRG(b_u) + Σ_{u ∈ U2\U3} Σ_{v ∈ N(u)∩U3}
// σ_uv·PRG(s_uv), one vector per vector-id, in Z_{2^64}. Calling it again
// returns the same sum.
func (s *Server) Sum() ([][]uint64, error) {
	if s.phase == phaseDone && s.fail == nil {
		return cloneVectors(s.result), nil
	}
	if err := s.close(PhaseUnmasking); err != nil {
		return nil, err
	}
	pl := s.plan

	// Which holders to use: the t lowest that answered, per owner.
	var short []uint32
	least := pl.N
	type job struct {
		owner   uint32
		holders string // key of the holder set
		shares  []group.Scalar
	}
	var jobs []job
	sets := map[string][]group.Scalar{}
	for _, u := range members(s.u2) {
		rs := s.revealed[u]
		slices.SortFunc(rs, func(a, b heldShare) int { return cmp.Compare(a.holder, b.holder) })
		if len(rs) < pl.Threshold {
			short = append(short, u)
			least = min(least, len(rs))
			continue
		}
		rs = rs[:pl.Threshold]
		key := make([]byte, 0, 4*len(rs))
		ids := make([]uint32, len(rs))
		shares := make([]group.Scalar, len(rs))
		for i, r := range rs {
			key = binary.LittleEndian.AppendUint32(key, r.holder)
			ids[i], shares[i] = r.holder, r.value
		}
		if _, ok := sets[string(key)]; !ok {
			sets[string(key)] = lagrangeAtZero(ids)
		}
		jobs = append(jobs, job{owner: u, holders: string(key), shares: shares})
	}
	if len(short) > 0 {
		return nil, s.failRound(PhaseUnmasking, ErrBelowThreshold, short, least, pl.Threshold)
	}

	// Recover the secrets and derive the masks to remove: the self mask of
	// every survivor, and what every dropped owner would have added for
	// each of its neighbours in U3.
	workers := max(pl.workers, 1)
	nv := len(pl.vectorLens)
	ops := make([][]maskOp, nv)
	type pairJob struct {
		owner, v uint32
		sk       *x25519.Key
	}
	var pairs []pairJob
	var bad []uint32
	for _, j := range jobs {
		secret := combine(sets[j.holders], j.shares)
		if s.u3[j.owner] {
			commit := selfMaskCommit(secret, &pl.ctx, j.owner)
			if subtle.ConstantTimeCompare(commit[:], s.commits[j.owner][:]) != 1 {
				bad = append(bad, j.owner)
				continue
			}
			for vec, m := range pl.vectorLens {
				key, err := selfMaskKey(secret, &pl.ctx, j.owner, vec, m)
				if err != nil {
					return nil, err
				}
				ops[vec] = append(ops[vec], maskOp{key: key, neg: true})
			}
			secret.SetUint64(0)
			continue
		}
		sk, pk, err := maskKeyPair(secret, &pl.ctx, j.owner)
		secret.SetUint64(0)
		if err != nil {
			return nil, err
		}
		if subtle.ConstantTimeCompare(pk[:], s.maskKeys[j.owner][:]) != 1 {
			bad = append(bad, j.owner)
			continue
		}
		for _, v := range pl.Neighbours(j.owner) {
			if s.u3[v] {
				pairs = append(pairs, pairJob{owner: j.owner, v: v, sk: &sk})
			}
		}
	}
	if len(bad) > 0 {
		return nil, s.failRound(PhaseUnmasking, ErrReconstruction, bad, 0, 0)
	}
	// One X25519 and one HKDF per vector for each (dropped, survivor) pair.
	pairOps := make([]maskOp, len(pairs)*nv)
	errs := make([]error, len(pairs))
	parallelFor(len(pairs), workers, func(i int) {
		pj := pairs[i]
		vpk := x25519.Key(s.maskKeys[pj.v])
		ss, ok := dh(pj.sk, &vpk)
		defer clear(ss[:])
		if !ok { // the survivor's key worked for its neighbours, so this cannot happen
			errs[i] = fmt.Errorf("%w: mask key of %d", ErrBadPublicKey, pj.v)
			return
		}
		for vec, m := range pl.vectorLens {
			key, err := pairMaskKey(&ss, &pl.ctx, pj.owner, pj.v, vec, m)
			if err != nil {
				errs[i] = err
				return
			}
			// Add back what the dropped owner would have added.
			pairOps[i*nv+vec] = maskOp{key: key, neg: pj.owner < pj.v}
		}
	})
	for i, err := range errs {
		if err != nil {
			return nil, s.failRound(PhaseUnmasking, ErrReconstruction, []uint32{pairs[i].owner}, 0, 0)
		}
	}
	for i := range pairs {
		clear(pairs[i].sk[:])
		for vec := range nv {
			ops[vec] = append(ops[vec], pairOps[i*nv+vec])
		}
	}
	clear(pairOps)
	for vec := range s.acc {
		applyMasks(s.acc[vec], ops[vec], workers)
	}
	s.result = s.acc
	s.acc = nil
	s.revealed = nil
	s.phase = phaseDone
	s.closed++
	return cloneVectors(s.result), nil
}

func cloneVectors(v [][]uint64) [][]uint64 {
	out := make([][]uint64, len(v))
	for i := range v {
		out[i] = slices.Clone(v[i])
	}
	return out
}

// parallelFor runs f(0..n-1) on up to workers goroutines.
func parallelFor(n, workers int, f func(i int)) {
	if workers <= 1 || n < 2 {
		for i := range n {
			f(i)
		}
		return
	}
	var wg sync.WaitGroup
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	for range min(workers, n) {
		wg.Go(func() {
			for i := range next {
				f(i)
			}
		})
	}
	wg.Wait()
}
