package secagg

import (
	"math/rand/v2"
	"testing"
)

// manual drives a round step by step so that tests can tamper with any
// message. Participants draw randomness from seeded(seed+u).
type manual struct {
	t       testing.TB
	p       Params
	plan    *Plan
	srv     *Server
	cs      []*Client
	in      [][][]uint64
	roster  *Roster
	inboxes map[uint32]*ShareInbox
	reqs    map[uint32]*UnmaskRequest
	resps   map[uint32]*UnmaskResponse
	masked  map[uint32]*MaskedInput
}

func newManual(t testing.TB, p Params, seed uint64) *manual {
	t.Helper()
	pl := mustPlan(t, p)
	m := &manual{t: t, p: p, plan: pl, srv: NewServerFromPlan(pl), cs: make([]*Client, pl.N),
		inboxes: map[uint32]*ShareInbox{}, reqs: map[uint32]*UnmaskRequest{}, resps: map[uint32]*UnmaskResponse{}, masked: map[uint32]*MaskedInput{}}
	for u := range m.cs {
		c, err := NewClientFromPlan(pl, uint32(u), seeded(seed+uint64(u)))
		if err != nil {
			t.Fatal(err)
		}
		m.cs[u] = c
	}
	m.in = randomInputs(rand.New(rand.NewPCG(seed, 3)), pl.N, p.VectorLens)
	return m
}

func (m *manual) must(err error) {
	m.t.Helper()
	if err != nil {
		m.t.Fatal(err)
	}
}

func skip(u uint32, drop []uint32) bool {
	for _, d := range drop {
		if d == u {
			return true
		}
	}
	return false
}

// advertise runs phase 0 for everyone not in drop and closes it.
func (m *manual) advertise(drop ...uint32) {
	m.t.Helper()
	for u, c := range m.cs {
		if skip(uint32(u), drop) {
			continue
		}
		msg, err := c.Advertise()
		m.must(err)
		m.must(m.srv.Receive(uint32(u), msg))
	}
	var err error
	m.roster, err = m.srv.Roster()
	m.must(err)
}

// share runs phase 1 for the members of U1 not in drop and closes it.
func (m *manual) share(drop ...uint32) {
	m.t.Helper()
	for _, k := range m.roster.Keys {
		if skip(k.ID, drop) {
			continue
		}
		msg, err := m.cs[k.ID].ShareKeys(m.roster)
		m.must(err)
		m.must(m.srv.Receive(k.ID, msg))
	}
	ins, err := m.srv.Inboxes()
	m.must(err)
	for _, in := range ins {
		m.inboxes[in.To] = in
	}
}

// mask runs phase 2 for the members of U2 not in drop and closes it.
func (m *manual) mask(drop ...uint32) {
	m.t.Helper()
	for u, in := range m.inboxes {
		if skip(u, drop) {
			continue
		}
		msg, err := m.cs[u].MaskInput(in, m.in[u]...)
		m.must(err)
		m.masked[u] = msg
		m.must(m.srv.Receive(u, msg))
	}
	reqs, err := m.srv.UnmaskRequests()
	m.must(err)
	for _, r := range reqs {
		m.reqs[r.To] = r
	}
}

// unmask runs phase 4 for the members of U3 not in drop.
func (m *manual) unmask(drop ...uint32) {
	m.t.Helper()
	for u, r := range m.reqs {
		if skip(u, drop) {
			continue
		}
		msg, err := m.cs[u].Unmask(r)
		m.must(err)
		m.resps[u] = msg
		m.must(m.srv.Receive(u, msg))
	}
}

func (m *manual) checkSum() {
	m.t.Helper()
	sum, err := m.srv.Sum()
	m.must(err)
	if !equalVectors(sum, plainSum(m.in, m.srv.Survivors(), m.p.VectorLens)) {
		m.t.Fatal("sum differs from the plain sum")
	}
}

func smallParams(n int) Params {
	return Params{Job: "job-a", Round: 7, Participants: ids(n), VectorLens: []int{8}}
}
