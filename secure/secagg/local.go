package secagg

import (
	"fmt"
	"io"
	"time"
)

// LocalConfig describes one round run in memory by RunLocal.
type LocalConfig struct {
	Params Params
	// Inputs[u] holds participant u's vectors, one per Params.VectorLens
	// entry. Entries of participants that drop before phase 2 may be nil.
	Inputs [][][]uint64
	// Drop lists, per phase, the participants that go silent at the start
	// of that phase: they send nothing in it or after it. Drop[PhaseUnmasking]
	// models dropouts during unmasking.
	Drop Dropouts
	// Rand is drawn on by the participants in turn (index order, phase by
	// phase), so a deterministic reader gives a deterministic transcript.
	// nil means crypto/rand.
	Rand io.Reader
	// Clock, if set, times every participant's and the coordinator's
	// protocol work for LocalResult.Stats. The protocol never reads it.
	Clock func() time.Time
	// Trace, if set, sees every message as encoded on the wire, in order.
	Trace func(from, to uint32, msg []byte)
}

// LocalResult is what RunLocal observed.
type LocalResult struct {
	Sum       [][]uint64 // nil unless the round succeeded
	Survivors []uint32   // U3
	Dropped   Dropouts   // as the coordinator counted them
	// Refused holds the participants whose step failed or whose message the
	// coordinator refused; they count as dropped from that phase.
	Refused map[uint32]error
	Stats   LocalStats
}

// LocalStats are RunLocal's measurements. Times are zero without a Clock.
type LocalStats struct {
	ClientTime   []time.Duration // per participant: its steps, including encoding and decoding
	ServerTime   map[Phase]time.Duration
	ServerUnmask time.Duration // the coordinator's Sum (recovery and unmasking)
	BytesUp      []int         // per participant: bytes sent to the coordinator
	BytesDown    []int         // per participant: bytes received from the coordinator
}

// RunLocal runs one round with every participant and the coordinator in
// this process, passing each message through its binary encoding, and
// returns the sum (or the *RoundError) with what it saw. It is a test and
// benchmark harness; the protocol logic is all in Client and Server.
func RunLocal(cfg LocalConfig) (*LocalResult, error) {
	pl, err := cfg.Params.Plan()
	if err != nil {
		return nil, err
	}
	n := pl.N
	if len(cfg.Inputs) != n {
		return nil, fmt.Errorf("%w: %d input sets for %d participants", ErrInput, len(cfg.Inputs), n)
	}
	r := &localRun{
		cfg: cfg, srv: NewServerFromPlan(pl), clients: make([]*Client, n), alive: make([]bool, n),
		res: &LocalResult{Refused: map[uint32]error{}, Stats: LocalStats{
			ClientTime: make([]time.Duration, n), ServerTime: map[Phase]time.Duration{},
			BytesUp: make([]int, n), BytesDown: make([]int, n),
		}},
	}
	dropAt := make(map[uint32]Phase)
	for ph, ids := range cfg.Drop {
		for _, u := range ids {
			if int64(u) >= int64(n) {
				return nil, fmt.Errorf("%w: dropout %d not in U", ErrParams, u)
			}
			if old, ok := dropAt[u]; !ok || ph < old {
				dropAt[u] = ph
			}
		}
	}
	r.drops = func(u uint32, ph Phase) bool {
		at, ok := dropAt[u]
		return ok && at <= ph
	}
	for u := range r.clients {
		if r.clients[u], err = NewClientFromPlan(pl, uint32(u), cfg.Rand); err != nil {
			return nil, err
		}
		r.alive[u] = true
	}
	sum, err := r.run()
	res := r.res
	res.Dropped = r.srv.Dropouts()
	res.Survivors = r.srv.Survivors()
	res.Sum = sum
	return res, err
}

type localRun struct {
	cfg     LocalConfig
	srv     *Server
	clients []*Client
	alive   []bool
	drops   func(uint32, Phase) bool
	res     *LocalResult
}

func (r *localRun) now() time.Time {
	if r.cfg.Clock == nil {
		return time.Time{}
	}
	return r.cfg.Clock()
}

// send encodes m, hands it to the coordinator and accounts for it.
func (r *localRun) send(u uint32, m Message) {
	t0 := r.now()
	b, err := m.MarshalBinary()
	r.res.Stats.ClientTime[u] += r.now().Sub(t0)
	if err == nil {
		if r.cfg.Trace != nil {
			r.cfg.Trace(u, Coordinator, b)
		}
		r.res.Stats.BytesUp[u] += len(b)
		t0 = r.now()
		err = r.srv.ReceiveBytes(u, b)
		r.res.Stats.ServerTime[m.Phase()] += r.now().Sub(t0)
	}
	if err != nil {
		r.refuse(u, err)
	}
}

func (r *localRun) refuse(u uint32, err error) {
	r.res.Refused[u] = err
	r.alive[u] = false
}

// deliver encodes a coordinator message, accounts for it and decodes it as
// participant u would.
func (r *localRun) deliver(u uint32, m Message) (Message, bool) {
	t0 := r.now()
	b, err := m.MarshalBinary()
	r.res.Stats.ServerTime[m.Phase()] += r.now().Sub(t0)
	if err != nil {
		r.refuse(u, err)
		return nil, false
	}
	if r.cfg.Trace != nil {
		r.cfg.Trace(Coordinator, u, b)
	}
	r.res.Stats.BytesDown[u] += len(b)
	t0 = r.now()
	out, err := Unmarshal(b)
	r.res.Stats.ClientTime[u] += r.now().Sub(t0)
	if err != nil {
		r.refuse(u, err)
		return nil, false
	}
	return out, true
}

// timed runs a participant's step and charges its time to u.
func (r *localRun) timed(u uint32, f func() (Message, error)) {
	t0 := r.now()
	m, err := f()
	r.res.Stats.ClientTime[u] += r.now().Sub(t0)
	if err != nil {
		r.refuse(u, err)
		return
	}
	r.send(u, m)
}

func (r *localRun) closePhase(ph Phase, f func() error) error {
	t0 := r.now()
	err := f()
	d := r.now().Sub(t0)
	r.res.Stats.ServerTime[ph] += d
	if ph == PhaseUnmasking {
		r.res.Stats.ServerUnmask = d
	}
	return err
}

func (r *localRun) run() ([][]uint64, error) {
	n := uint32(len(r.clients))
	// Phase 0.
	for u := range n {
		if r.drops(u, PhaseAdvertiseKeys) {
			r.alive[u] = false
			continue
		}
		r.timed(u, func() (Message, error) { return r.clients[u].Advertise() })
	}
	var roster *Roster
	if err := r.closePhase(PhaseAdvertiseKeys, func() (err error) { roster, err = r.srv.Roster(); return }); err != nil {
		return nil, err
	}
	// Phase 1.
	for u := range n {
		if !r.alive[u] {
			continue
		}
		if r.drops(u, PhaseShareKeys) {
			r.alive[u] = false
			continue
		}
		m, ok := r.deliver(u, roster)
		if !ok {
			continue
		}
		r.timed(u, func() (Message, error) { return r.clients[u].ShareKeys(m.(*Roster)) })
	}
	var inboxes []*ShareInbox
	if err := r.closePhase(PhaseShareKeys, func() (err error) { inboxes, err = r.srv.Inboxes(); return }); err != nil {
		return nil, err
	}
	// Phase 2.
	for _, in := range inboxes {
		u := in.To
		if !r.alive[u] {
			continue
		}
		if r.drops(u, PhaseMaskedInput) {
			r.alive[u] = false
			continue
		}
		m, ok := r.deliver(u, in)
		if !ok {
			continue
		}
		r.timed(u, func() (Message, error) { return r.clients[u].MaskInput(m.(*ShareInbox), r.cfg.Inputs[u]...) })
	}
	var reqs []*UnmaskRequest
	if err := r.closePhase(PhaseMaskedInput, func() (err error) { reqs, err = r.srv.UnmaskRequests(); return }); err != nil {
		return nil, err
	}
	// Phase 4.
	for _, req := range reqs {
		u := req.To
		if !r.alive[u] || r.drops(u, PhaseUnmasking) {
			continue
		}
		m, ok := r.deliver(u, req)
		if !ok {
			continue
		}
		r.timed(u, func() (Message, error) { return r.clients[u].Unmask(m.(*UnmaskRequest)) })
	}
	var sum [][]uint64
	err := r.closePhase(PhaseUnmasking, func() (err error) { sum, err = r.srv.Sum(); return })
	return sum, err
}
