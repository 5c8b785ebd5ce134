package secagg

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cloudflare/circl/dh/x25519"
)

// TestUnmaskRefusals: a holder refuses, and aborts on, any unmasking request
// inconsistent with what it saw, so the coordinator can never obtain both
// secrets of one participant.
func TestUnmaskRefusals(t *testing.T) {
	// n = 6, t = 5: 0..5; participant 5 drops in phase 1, so U2 = U3 = 0..4.
	cases := []struct {
		name string
		edit func(r *UnmaskRequest)
		want error
	}{
		{"lists holder as dropped", func(r *UnmaskRequest) { r.Survivors = []uint32{1, 2, 3, 4} }, ErrSelfDropped},
		{"names a participant outside U", func(r *UnmaskRequest) { r.Survivors = append(r.Survivors, 99) }, ErrNotNeighbour},
		{"names the coordinator", func(r *UnmaskRequest) { r.Survivors = append(r.Survivors, Coordinator) }, ErrNotNeighbour},
		{"names a participant outside U2", func(r *UnmaskRequest) { r.Survivors = append(r.Survivors, 5) }, ErrInconsistent},
		{"repeats an id", func(r *UnmaskRequest) { r.Survivors = []uint32{0, 1, 1, 2, 3, 4} }, ErrBadMessage},
		{"unsorted ids", func(r *UnmaskRequest) { r.Survivors = []uint32{0, 2, 1, 3, 4} }, ErrBadMessage},
		{"below threshold", func(r *UnmaskRequest) { r.Survivors = []uint32{0, 1, 2, 3} }, ErrBelowThreshold},
		{"empty", func(r *UnmaskRequest) { r.Survivors = nil }, ErrSelfDropped},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := newManual(t, smallParams(6), 10)
			m.advertise()
			m.share(5)
			m.mask()
			req := *m.reqs[0]
			req.Survivors = slices.Clone(req.Survivors)
			tc.edit(&req)
			if _, err := m.cs[0].Unmask(&req); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			// The holder aborted: even the honest request is now refused.
			if _, err := m.cs[0].Unmask(m.reqs[0]); !errors.Is(err, ErrAborted) || !errors.Is(err, tc.want) {
				t.Fatalf("after refusal: got %v, want ErrAborted wrapping %v", err, tc.want)
			}
		})
	}
}

// TestUnmaskAnswersOnce: a holder answers one request per round; a second
// one, even one that would reveal the other secret of a participant, is
// refused.
func TestUnmaskAnswersOnce(t *testing.T) {
	m := newManual(t, smallParams(6), 11)
	m.advertise()
	m.share()
	m.mask(5) // 5 dropped after sharing: holders reveal its k_s
	resp, err := m.cs[0].Unmask(m.reqs[0])
	if err != nil {
		t.Fatal(err)
	}
	var kinds = map[uint32]ShareKind{}
	for _, s := range resp.Shares {
		kinds[s.Owner] = s.Kind
	}
	if kinds[5] != MaskKeyShare || kinds[1] != SelfMaskShare {
		t.Fatalf("kinds %v", kinds)
	}
	// Now claim 5 survived, to get its k_b as well.
	again := *m.reqs[0]
	again.Survivors = []uint32{0, 1, 2, 3, 4, 5}
	if _, err := m.cs[0].Unmask(&again); !errors.Is(err, ErrRepeatedRequest) {
		t.Fatalf("second request: got %v, want ErrRepeatedRequest", err)
	}
	if _, err := m.cs[0].Unmask(m.reqs[0]); !errors.Is(err, ErrRepeatedRequest) {
		t.Fatalf("repeated request: got %v, want ErrRepeatedRequest", err)
	}
}

// TestHolderNonNeighbour uses a Harary graph, where a holder has
// non-neighbours, and one that cannot reach its threshold.
func TestHolderNonNeighbour(t *testing.T) {
	p := smallParams(10)
	p.Graph, p.Degree, p.Threshold, p.MinSurvivors = GraphHarary, 4, 3, 5
	m := newManual(t, p, 12)
	pl := m.plan
	var stranger uint32
	for v := range uint32(10) {
		if v != 0 && !pl.Adjacent(0, v) {
			stranger = v
			break
		}
	}
	m.advertise()
	m.share()
	m.mask()
	req := *m.reqs[0]
	req.Survivors = append(slices.Clone(req.Survivors), stranger)
	slices.Sort(req.Survivors)
	if _, err := m.cs[0].Unmask(&req); !errors.Is(err, ErrNotNeighbour) {
		t.Fatalf("got %v, want ErrNotNeighbour", err)
	}
	// The other holders still answer and the round completes.
	for u, r := range m.reqs {
		if u == 0 {
			continue
		}
		resp, err := m.cs[u].Unmask(r)
		if err != nil {
			t.Fatal(err)
		}
		m.must(m.srv.Receive(u, resp))
	}
	m.checkSum()
}

// TestClientRefusesBelowThresholdEarly: a participant whose holders mostly
// failed to advertise refuses to share; it then counts as dropped in phase 1.
func TestClientRefusesBelowThresholdEarly(t *testing.T) {
	p := smallParams(10)
	p.Graph, p.Degree, p.Threshold, p.MinSurvivors = GraphHarary, 4, 4, 5
	pl := mustPlan(t, p)
	nb := pl.Neighbours(0)
	res, err := RunLocal(LocalConfig{Params: p, Inputs: randomInputs(rand.New(rand.NewPCG(1, 1)), 10, p.VectorLens), Rand: seeded(1),
		Drop: Dropouts{PhaseAdvertiseKeys: nb[:2]}})
	if !errors.Is(res.Refused[0], ErrBelowThreshold) {
		t.Fatalf("participant 0: %v, want ErrBelowThreshold", res.Refused[0])
	}
	if !slices.Contains(res.Dropped[PhaseShareKeys], 0) {
		t.Fatalf("participant 0 not counted as dropped in share-keys: %v (%v)", res.Dropped, err)
	}
}

func TestClientHeaderChecks(t *testing.T) {
	m := newManual(t, smallParams(5), 13)
	m.advertise()
	c := m.cs[0]
	cases := []struct {
		name string
		edit func(h *Header)
		want error
	}{
		{"other job", func(h *Header) { h.Job = "job-b" }, ErrWrongJob},
		{"other round", func(h *Header) { h.Round++ }, ErrWrongRound},
		{"previous round", func(h *Header) { h.Round-- }, ErrWrongRound},
		{"from a participant", func(h *Header) { h.From = 3 }, ErrWrongSender},
		{"to one participant", func(h *Header) { h.To = 3 }, ErrWrongRecipient},
	}
	for _, tc := range cases {
		r := *m.roster
		tc.edit(&r.Header)
		if _, err := c.ShareKeys(&r); !errors.Is(err, tc.want) {
			t.Fatalf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	// Refused headers do not abort: the real roster is accepted.
	if _, err := c.ShareKeys(m.roster); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ShareKeys(m.roster); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("second ShareKeys: %v", err)
	}
	if _, err := m.cs[1].MaskInput(&ShareInbox{Header: Header{Job: "job-a", Round: 7, From: Coordinator, To: 1}}, make([]uint64, 8)); !errors.Is(err, ErrOutOfPhase) {
		t.Fatalf("MaskInput before ShareKeys: %v", err)
	}
	if _, err := m.cs[1].Unmask(&UnmaskRequest{Header: Header{Job: "job-a", Round: 7, From: Coordinator, To: 1}}); !errors.Is(err, ErrOutOfPhase) {
		t.Fatalf("Unmask before MaskInput: %v", err)
	}
	if _, err := m.cs[0].Advertise(); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("second Advertise: %v", err)
	}
}

func TestRosterChecks(t *testing.T) {
	var lowOrder [32]byte // the all-zero point, of order 1
	cases := []struct {
		name string
		edit func(r *Roster)
		want error
	}{
		{"omits self", func(r *Roster) { r.Keys = r.Keys[1:] }, ErrRosterMismatch},
		{"alters own mask key", func(r *Roster) { r.Keys[0].MaskKey[0] ^= 1 }, ErrRosterMismatch},
		{"alters own encryption key", func(r *Roster) { r.Keys[0].EncKey[0] ^= 1 }, ErrRosterMismatch},
		{"repeats a key", func(r *Roster) { r.Keys[2].MaskKey = r.Keys[1].MaskKey }, ErrBadPublicKey},
		{"low-order key", func(r *Roster) { r.Keys[3].EncKey = lowOrder }, ErrBadPublicKey},
		{"unsorted", func(r *Roster) { r.Keys[1], r.Keys[2] = r.Keys[2], r.Keys[1] }, ErrBadMessage},
		{"outside U", func(r *Roster) { r.Keys[4].ID = 9 }, ErrBadMessage},
		{"too few", func(r *Roster) { r.Keys = r.Keys[:3] }, ErrTooFewSurvivors},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := newManual(t, smallParams(5), 14)
			m.advertise()
			r := *m.roster
			r.Keys = slices.Clone(r.Keys)
			tc.edit(&r)
			if _, err := m.cs[0].ShareKeys(&r); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if _, err := m.cs[0].ShareKeys(m.roster); !errors.Is(err, ErrAborted) {
				t.Fatalf("after refusal: %v", err)
			}
		})
	}
}

// TestInboxReplays: share ciphertexts are bound to job, round, sender and
// recipient; replaying one anywhere else fails authentication.
func TestInboxReplays(t *testing.T) {
	// The same participants and keys in another round of the same job.
	run := func(p Params) *manual {
		m := newManual(t, p, 15)
		m.advertise()
		m.share()
		return m
	}
	p := smallParams(5)
	m := run(p)
	p2 := p
	p2.Round++
	other := run(p2)
	p3 := p
	p3.Job = "job-b"
	otherJob := run(p3)

	cases := []struct {
		name string
		edit func(in *ShareInbox)
		want error
	}{
		{"ciphertext from another round", func(in *ShareInbox) { in.Shares[1].Ciphertext = other.inboxes[0].Shares[1].Ciphertext }, ErrDecrypt},
		{"ciphertext from another job", func(in *ShareInbox) { in.Shares[1].Ciphertext = otherJob.inboxes[0].Shares[1].Ciphertext }, ErrDecrypt},
		{"relabelled sender", func(in *ShareInbox) {
			in.Shares[1].Ciphertext, in.Shares[2].Ciphertext = in.Shares[2].Ciphertext, in.Shares[1].Ciphertext
		}, ErrDecrypt},
		{"addressed to someone else", func(in *ShareInbox) { in.Shares[0].Ciphertext = m.inboxes[1].Shares[1].Ciphertext }, ErrDecrypt},
		{"bit flip", func(in *ShareInbox) { in.Shares[3].Ciphertext[10] ^= 0x80 }, ErrDecrypt},
		{"duplicate sender", func(in *ShareInbox) { in.Shares[2] = in.Shares[1] }, ErrBadMessage},
		{"sender outside U1", func(in *ShareInbox) { in.Shares[3].Peer = 77 }, ErrBadMessage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := run(p)
			in := *m.inboxes[0]
			in.Shares = slices.Clone(in.Shares)
			tc.edit(&in)
			if _, err := m.cs[0].MaskInput(&in, m.in[0]...); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	// Wrong inputs are the caller's mistake, not the coordinator's: no abort.
	m = run(p)
	if _, err := m.cs[0].MaskInput(m.inboxes[0], make([]uint64, 3)); !errors.Is(err, ErrInput) {
		t.Fatalf("short vector: %v", err)
	}
	if _, err := m.cs[0].MaskInput(m.inboxes[0]); !errors.Is(err, ErrInput) {
		t.Fatalf("no vector: %v", err)
	}
	if _, err := m.cs[0].MaskInput(m.inboxes[0], m.in[0]...); err != nil {
		t.Fatal(err)
	}
}

// TestLowOrderMaskKey: a low-order mask key is refused when the pair masks
// are derived.
func TestLowOrderMaskKey(t *testing.T) {
	m := newManual(t, smallParams(5), 16)
	m.advertise()
	r := *m.roster
	r.Keys = slices.Clone(r.Keys)
	// A point of order 8 from the list circl's x25519 checks against.
	r.Keys[1].MaskKey = x25519.Key{0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a,
		0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00}
	for u := range uint32(5) {
		roster := m.roster
		if u == 0 {
			roster = &r // only participant 0 sees the bad key
		}
		msg, err := m.cs[u].ShareKeys(roster)
		m.must(err)
		m.must(m.srv.Receive(u, msg))
	}
	ins, err := m.srv.Inboxes()
	m.must(err)
	if _, err := m.cs[0].MaskInput(ins[0], m.in[0]...); !errors.Is(err, ErrBadPublicKey) {
		t.Fatalf("got %v, want ErrBadPublicKey", err)
	}
}
