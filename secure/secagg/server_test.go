package secagg

import (
	"errors"
	"slices"
	"testing"
)

// TestServerRefusals: replayed, duplicated, out-of-phase, cross-round and
// misattributed messages are refused with distinct errors and change
// nothing: the round still completes with the exact sum.
func TestServerRefusals(t *testing.T) {
	m := newManual(t, smallParams(6), 20)
	other := newManual(t, Params{Job: "job-a", Round: 8, Participants: ids(6), VectorLens: []int{8}}, 20)
	otherJob := newManual(t, Params{Job: "job-b", Round: 7, Participants: ids(6), VectorLens: []int{8}}, 20)
	s := m.srv
	refuse := func(what string, from uint32, msg Message, want error) {
		t.Helper()
		if err := s.Receive(from, msg); !errors.Is(err, want) {
			t.Fatalf("%s: got %v, want %v", what, err, want)
		}
	}

	// Phase 0.
	adv := make([]*AdvertiseKeys, 6)
	for u := range adv {
		var err error
		adv[u], err = m.cs[u].Advertise()
		m.must(err)
	}
	oAdv, _ := other.cs[0].Advertise()
	jAdv, _ := otherJob.cs[0].Advertise()
	refuse("next round's message", 0, oAdv, ErrWrongRound)
	refuse("other job's message", 0, jAdv, ErrWrongJob)
	refuse("relayed from another participant", 1, adv[0], ErrWrongSender)
	refuse("sender outside U", 9, adv[0], ErrUnknownParticipant)
	bad := *adv[0]
	bad.To = 3
	refuse("addressed to a participant", 0, &bad, ErrWrongRecipient)
	m.must(s.Receive(0, adv[0]))
	refuse("duplicate", 0, adv[0], ErrDuplicate)
	dupKey := *adv[1]
	dupKey.MaskKey = adv[0].EncKey
	refuse("someone else's key", 1, &dupKey, ErrDuplicateKey)
	same := *adv[1]
	same.MaskKey = same.EncKey
	refuse("one key twice", 1, &same, ErrDuplicateKey)
	for u := 1; u < 6; u++ {
		m.must(s.Receive(uint32(u), adv[u]))
	}
	refuse("share keys too early", 0, &ShareKeys{Header: adv[0].Header}, ErrOutOfPhase)
	if _, err := s.Inboxes(); !errors.Is(err, ErrOutOfPhase) {
		t.Fatalf("Inboxes in phase 0: %v", err)
	}
	var err error
	m.roster, err = s.Roster()
	m.must(err)
	refuse("late advertisement", 0, adv[0], ErrLate)

	// Phase 1.
	sk := make([]*ShareKeys, 6)
	for u := range sk {
		sk[u], err = m.cs[u].ShareKeys(m.roster)
		m.must(err)
	}
	short := *sk[0]
	short.Shares = short.Shares[1:]
	refuse("shares missing a neighbour", 0, &short, ErrBadMessage)
	misaddr := *sk[0]
	misaddr.Shares = slices.Clone(misaddr.Shares)
	misaddr.Shares[0].Peer = 0
	refuse("share addressed to self", 0, &misaddr, ErrBadMessage)
	for u := range sk {
		m.must(s.Receive(uint32(u), sk[u]))
	}
	refuse("duplicate shares", 2, sk[2], ErrDuplicate)
	ins, err := s.Inboxes()
	m.must(err)
	for _, in := range ins {
		m.inboxes[in.To] = in
	}

	// Phase 2: participant 5 is late.
	for u := range uint32(6) {
		mi, err := m.cs[u].MaskInput(m.inboxes[u], m.in[u]...)
		m.must(err)
		m.masked[u] = mi
	}
	wrongLen := &MaskedInput{Header: m.masked[0].Header, Vectors: [][]uint64{make([]uint64, 7)}}
	refuse("wrong vector length", 0, wrongLen, ErrBadMessage)
	refuse("too many vectors", 0, &MaskedInput{Header: m.masked[0].Header, Vectors: [][]uint64{make([]uint64, 8), make([]uint64, 8)}}, ErrBadMessage)
	refuse("masked input relayed by another", 1, m.masked[0], ErrWrongSender)
	for u := range uint32(5) {
		m.must(s.Receive(u, m.masked[u]))
	}
	refuse("duplicate masked input", 3, m.masked[3], ErrDuplicate)
	reqs, err := s.UnmaskRequests()
	m.must(err)
	refuse("late masked input", 5, m.masked[5], ErrLate)
	if got := s.Survivors(); !slices.Equal(got, []uint32{0, 1, 2, 3, 4}) {
		t.Fatalf("survivors %v", got)
	}

	// Phase 4.
	for _, r := range reqs {
		m.reqs[r.To] = r
	}
	if _, err := m.cs[5].Unmask(&UnmaskRequest{Header: Header{Job: "job-a", Round: 7, From: Coordinator, To: 5}, Survivors: []uint32{0, 1, 2, 3, 4}}); !errors.Is(err, ErrSelfDropped) {
		t.Fatalf("late participant asked to unmask: %v", err)
	}
	resp, err := m.cs[0].Unmask(m.reqs[0])
	m.must(err)
	flipped := *resp
	flipped.Shares = slices.Clone(resp.Shares)
	flipped.Shares[5].Kind = SelfMaskShare // claim 5 survived: ask for its k_b
	refuse("share of the wrong kind", 0, &flipped, ErrBadMessage)
	notScalar := *resp
	notScalar.Shares = slices.Clone(resp.Shares)
	for i := range notScalar.Shares[1].Value {
		notScalar.Shares[1].Value[i] = 0xff
	}
	refuse("share that is not a scalar", 0, &notScalar, ErrBadMessage)
	m.must(s.Receive(0, resp))
	refuse("duplicate response", 0, resp, ErrDuplicate)
	refuse("response from a dropped participant", 5, &UnmaskResponse{Header: Header{Job: "job-a", Round: 7, From: 5, To: Coordinator}}, ErrUnknownParticipant)
	for u := uint32(1); u < 5; u++ {
		r, err := m.cs[u].Unmask(m.reqs[u])
		m.must(err)
		m.must(s.Receive(u, r))
	}
	if p := s.Pending(); len(p) != 0 {
		t.Fatalf("pending %v", p)
	}
	m.checkSum()
	refuse("after the sum", 0, resp, ErrLate)
	d := s.Dropouts()
	if !slices.Equal(d[PhaseMaskedInput], []uint32{5}) || d.Total() != 1 {
		t.Fatalf("dropouts %v", d)
	}
	// Sum is idempotent.
	m.checkSum()
}

// TestServerNeverRevealsBothSecrets: with honest holders, for every
// participant the coordinator receives shares of one secret only: k_b for
// survivors, k_s for those that dropped after sharing, nothing for those
// that dropped before.
func TestServerNeverRevealsBothSecrets(t *testing.T) {
	m := newManual(t, smallParams(14), 21) // t = 10: four may drop
	m.advertise(13)
	m.share(12)
	m.mask(11)
	m.unmask(10)
	kinds := map[uint32]map[ShareKind]int{}
	for _, r := range m.resps {
		for _, s := range r.Shares {
			if kinds[s.Owner] == nil {
				kinds[s.Owner] = map[ShareKind]int{}
			}
			kinds[s.Owner][s.Kind]++
		}
	}
	for u := range uint32(14) {
		k := kinds[u]
		switch {
		case u >= 12:
			if len(k) != 0 {
				t.Errorf("%d dropped before sharing, yet shares were revealed: %v", u, k)
			}
		case u == 11:
			if len(k) != 1 || k[MaskKeyShare] == 0 {
				t.Errorf("%d dropped after sharing: revealed %v, want k_s only", u, k)
			}
		default:
			if len(k) != 1 || k[SelfMaskShare] == 0 {
				t.Errorf("%d survived: revealed %v, want k_b only", u, k)
			}
		}
	}
	m.checkSum()
}

// TestServerFailsBeforeRevealing: below the global minimum the coordinator
// fails when closing phase 2 and asks nobody for shares.
func TestServerFailsBeforeRevealing(t *testing.T) {
	m := newManual(t, smallParams(10), 22) // t = 7
	m.advertise()
	m.share(9)
	for u := range uint32(6) {
		mi, err := m.cs[u].MaskInput(m.inboxes[u], m.in[u]...)
		m.must(err)
		m.must(m.srv.Receive(u, mi))
	}
	reqs, err := m.srv.UnmaskRequests()
	var re *RoundError
	if reqs != nil || !errors.As(err, &re) || re.Phase != PhaseMaskedInput || !errors.Is(err, ErrTooFewSurvivors) {
		t.Fatalf("got %d requests, %v", len(reqs), err)
	}
	if !slices.Equal(re.Dropped[PhaseShareKeys], []uint32{9}) || !slices.Equal(re.Dropped[PhaseMaskedInput], []uint32{6, 7, 8}) {
		t.Fatalf("dropouts %v", re.Dropped)
	}
	if _, err := m.srv.Sum(); !errors.Is(err, ErrRoundFailed) {
		t.Fatalf("Sum after failure: %v", err)
	}
	if err := m.srv.Receive(6, &MaskedInput{Header: Header{Job: "job-a", Round: 7, From: 6, To: Coordinator}}); !errors.Is(err, ErrLate) {
		t.Fatalf("message after failure: %v", err)
	}
}

// TestServerDetectsBadReconstruction: a holder that sends a wrong share (an
// attack outside the semi-honest model, or a bug) makes the round fail
// instead of releasing a wrong sum.
func TestServerDetectsBadReconstruction(t *testing.T) {
	for _, dropAfterShare := range []bool{false, true} {
		m := newManual(t, smallParams(5), 23) // t = 4
		m.advertise()
		m.share()
		if dropAfterShare {
			m.mask(4)
		} else {
			m.mask()
		}
		for u, r := range m.reqs {
			resp, err := m.cs[u].Unmask(r)
			m.must(err)
			if u == 0 {
				// Replace a share by another valid scalar.
				resp.Shares[len(resp.Shares)-1].Value = resp.Shares[0].Value
			}
			m.must(m.srv.Receive(u, resp))
		}
		_, err := m.srv.Sum()
		if !errors.Is(err, ErrReconstruction) {
			t.Fatalf("dropAfterShare=%v: got %v, want ErrReconstruction", dropAfterShare, err)
		}
	}
}
