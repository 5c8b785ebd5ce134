package secagg

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/cloudflare/circl/dh/x25519"
	"github.com/cloudflare/circl/group"
)

// Client is one participant's side of one round. Its steps must be called in
// order, each at most once: Advertise, ShareKeys, MaskInput, Unmask. A step
// that receives a message for another job or round, from someone other than
// the coordinator, for someone else, or in the wrong phase refuses it and
// leaves the client unchanged. A step that finds the coordinator's message
// inconsistent with what the client saw aborts the round: the client answers
// nothing more (ErrAborted). After Unmask, or an abort, the round's secrets
// are erased.
//
// A Client does no I/O and starts no goroutine.
type Client struct {
	plan  *Plan
	self  uint32
	rand  io.Reader
	state clientState
	err   error // why the client aborted

	holders []uint32 // N(self) ∪ {self}, sorted
	peers   map[uint32]*peer

	encSK, encPK   x25519.Key // c_u
	maskSK, maskPK x25519.Key // s_u, derived from k_s
	ks, kb         group.Scalar
	ownS, ownB     group.Scalar // own shares of k_s and k_b
	u2             []uint32     // holders of self in U2, as the inbox showed it (incl. self)
}

type peer struct {
	encPK, maskPK x25519.Key
	encDH         [32]byte // X25519(c_self, c_peer)
	inU2          bool
	sShare        group.Scalar // peer's k_s share held by self
	bShare        group.Scalar // peer's k_b share held by self
}

type clientState uint8

const (
	stNew clientState = iota
	stAdvertised
	stShared
	stMasked
	stDone
	stAborted
)

// NewClient prepares participant self (its index in p.Participants) for the
// round p. A nil rand means crypto/rand.Reader.
func NewClient(p Params, self uint32, rand io.Reader) (*Client, error) {
	pl, err := p.Plan()
	if err != nil {
		return nil, err
	}
	return newClient(pl, self, rand)
}

// NewClientFromPlan is NewClient with an already resolved plan, which saves
// recomputing the graph when many clients share one process.
func NewClientFromPlan(pl *Plan, self uint32, rnd io.Reader) (*Client, error) {
	return newClient(pl, self, rnd)
}

func newClient(pl *Plan, self uint32, rnd io.Reader) (*Client, error) {
	if int64(self) >= int64(pl.N) {
		return nil, fmt.Errorf("%w: participant %d not in U (n = %d)", ErrParams, self, pl.N)
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	return &Client{plan: pl, self: self, rand: rnd, holders: pl.Holders(self)}, nil
}

// Self returns the client's index in U.
func (c *Client) Self() uint32 { return c.self }

// Err returns why the client aborted, or nil.
func (c *Client) Err() error { return c.err }

// step checks that the client is at state want before a step named name.
func (c *Client) step(want clientState, name string) error {
	switch {
	case c.state == stAborted:
		return fmt.Errorf("%w: %w", ErrAborted, c.err)
	case c.state < want:
		return fmt.Errorf("%w: %s before its turn", ErrOutOfPhase, name)
	case c.state > want:
		return fmt.Errorf("%w: %s already done", ErrDuplicate, name)
	}
	return nil
}

// checkFromCoordinator checks a coordinator message's header.
func (c *Client) checkFromCoordinator(h *Header, to uint32) error {
	switch {
	case h.Job != c.plan.job:
		return fmt.Errorf("%w: %q, want %q", ErrWrongJob, h.Job, c.plan.job)
	case h.Round != c.plan.round:
		return fmt.Errorf("%w: %d, want %d", ErrWrongRound, h.Round, c.plan.round)
	case h.From != Coordinator:
		return fmt.Errorf("%w: from %d, want the coordinator", ErrWrongSender, h.From)
	case h.To != to:
		return fmt.Errorf("%w: to %d, want %d", ErrWrongRecipient, h.To, to)
	}
	return nil
}

func (c *Client) header() Header {
	return Header{Job: c.plan.job, Round: c.plan.round, From: c.self, To: Coordinator}
}

// abort records err, erases the secrets and returns err.
func (c *Client) abort(err error) error {
	c.state = stAborted
	c.err = err
	c.erase()
	return err
}

// Close ends the round for this participant: it erases the round's secrets
// and refuses every later step. Call it when the round ends without an
// unmasking request (the participant was counted as dropped, the round
// failed or was abandoned). It is safe to call more than once.
func (c *Client) Close() {
	if c.state != stAborted {
		c.state = stAborted
		c.err = ErrClosed
	}
	c.erase()
}

// erase drops the round's secrets (best effort: Go may hold copies).
func (c *Client) erase() {
	clear(c.encSK[:])
	clear(c.maskSK[:])
	for _, s := range []group.Scalar{c.ks, c.kb, c.ownS, c.ownB} {
		if s != nil {
			s.SetUint64(0)
		}
	}
	for _, p := range c.peers {
		clear(p.encDH[:])
		for _, s := range []group.Scalar{p.sShare, p.bShare} {
			if s != nil {
				s.SetUint64(0)
			}
		}
	}
	c.peers = nil
}

// Advertise draws the round's key pairs and returns phase 0's message: the
// share-encryption key c_u and the mask key s_u, derived from a fresh secret
// k_s.
func (c *Client) Advertise() (*AdvertiseKeys, error) {
	if err := c.step(stNew, "Advertise"); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(c.rand, c.encSK[:]); err != nil {
		return nil, fmt.Errorf("secagg: reading randomness: %w", err)
	}
	x25519.KeyGen(&c.encPK, &c.encSK)
	ks, err := randomScalar(c.rand)
	if err != nil {
		return nil, err
	}
	c.ks = ks
	if c.maskSK, c.maskPK, err = maskKeyPair(ks, &c.plan.ctx, c.self); err != nil {
		return nil, err
	}
	c.state = stAdvertised
	return &AdvertiseKeys{Header: c.header(), EncKey: c.encPK, MaskKey: c.maskPK}, nil
}

// ShareKeys checks the roster U1, draws the self-mask secret k_b, Shamir-
// shares k_s and k_b separately among the holders in U1 (threshold t) and
// returns phase 1's message: each neighbour's pair of shares, encrypted to
// it. It aborts if the roster omits or alters this participant's keys,
// repeats a key, or leaves fewer than t holders or fewer than the global
// minimum of participants.
func (c *Client) ShareKeys(r *Roster) (*ShareKeys, error) {
	if err := c.step(stAdvertised, "ShareKeys"); err != nil {
		return nil, err
	}
	if err := c.checkFromCoordinator(&r.Header, Broadcast); err != nil {
		return nil, err
	}
	if err := c.readRoster(r); err != nil {
		return nil, c.abort(err)
	}
	msg, err := c.share()
	if err != nil {
		return nil, c.abort(err)
	}
	c.state = stShared
	return msg, nil
}

func (c *Client) readRoster(r *Roster) error {
	pl := c.plan
	if len(r.Keys) < pl.MinSurvivors {
		return fmt.Errorf("%w: roster lists %d participants, need %d", ErrTooFewSurvivors, len(r.Keys), pl.MinSurvivors)
	}
	keys := make(map[x25519.Key]struct{}, 2*len(r.Keys))
	c.peers = make(map[uint32]*peer, len(c.holders))
	var sawSelf bool
	for i := range r.Keys {
		k := &r.Keys[i]
		if int64(k.ID) >= int64(pl.N) || (i > 0 && k.ID <= r.Keys[i-1].ID) {
			return fmt.Errorf("%w: roster ids not increasing or outside U at entry %d", ErrBadMessage, i)
		}
		for _, pk := range []x25519.Key{k.EncKey, k.MaskKey} {
			if _, dup := keys[pk]; dup {
				return fmt.Errorf("%w: repeated in roster at participant %d", ErrBadPublicKey, k.ID)
			}
			keys[pk] = struct{}{}
		}
		if k.ID == c.self {
			if k.EncKey != c.encPK || k.MaskKey != c.maskPK {
				return ErrRosterMismatch
			}
			sawSelf = true
			continue
		}
		if pl.Adjacent(c.self, k.ID) {
			c.peers[k.ID] = &peer{encPK: k.EncKey, maskPK: k.MaskKey}
		}
	}
	if !sawSelf {
		return fmt.Errorf("%w: not listed", ErrRosterMismatch)
	}
	if have := len(c.peers) + 1; have < pl.Threshold {
		return fmt.Errorf("%w: %d of this participant's holders advertised keys, need %d", ErrBelowThreshold, have, pl.Threshold)
	}
	return nil
}

func (c *Client) share() (*ShareKeys, error) {
	pl := c.plan
	kb, err := randomScalar(c.rand)
	if err != nil {
		return nil, err
	}
	c.kb = kb
	holders := make([]uint32, 0, len(c.peers)+1)
	for _, h := range c.holders {
		if _, ok := c.peers[h]; ok || h == c.self {
			holders = append(holders, h)
		}
	}
	sShares, err := splitSecret(c.rand, c.ks, pl.Threshold, holders)
	if err != nil {
		return nil, err
	}
	bShares, err := splitSecret(c.rand, c.kb, pl.Threshold, holders)
	if err != nil {
		return nil, err
	}
	msg := &ShareKeys{
		Header:         c.header(),
		SelfMaskCommit: selfMaskCommit(c.kb, &pl.ctx, c.self),
		Shares:         make([]EncryptedShare, 0, len(holders)-1),
	}
	pt := make([]byte, 0, sharePlaintextSize)
	defer clear(pt[:cap(pt)])
	for i, v := range holders {
		if v == c.self {
			c.ownS, c.ownB = sShares[i], bShares[i]
			continue
		}
		p := c.peers[v]
		ss, ok := dh(&c.encSK, &p.encPK)
		if !ok {
			return nil, fmt.Errorf("%w: encryption key of %d", ErrBadPublicKey, v)
		}
		p.encDH = ss
		aead, err := shareAEAD(&p.encDH, &pl.ctx, c.self, v, &c.encPK, &p.encPK)
		if err != nil {
			return nil, err
		}
		s, b := scalarBytes(sShares[i]), scalarBytes(bShares[i])
		pt = pt[:0]
		pt = append(pt, u32(c.self)...)
		pt = append(pt, u32(v)...)
		pt = append(pt, s[:]...)
		pt = append(pt, b[:]...)
		clear(s[:])
		clear(b[:])
		e := EncryptedShare{Peer: v}
		aead.Seal(e.Ciphertext[:0], zeroNonce[:], pt, shareAD(pl.job, pl.round, c.self, v))
		msg.Shares = append(msg.Shares, e)
		sShares[i].SetUint64(0)
		bShares[i].SetUint64(0)
	}
	return msg, nil
}

// MaskInput decrypts the shares routed to this participant (their senders
// are its neighbours in U2) and returns phase 2's message: for each vector
// x[i], y = x + PRG(b_u) + Σ_{v ∈ N(u)∩U2} σ_uv·PRG(s_uv), with σ_uv = +1 if
// u > v and −1 if u < v. The inputs are not modified. It aborts if a
// ciphertext fails to authenticate, a sender is not a neighbour that
// advertised keys, or fewer than t of its holders are in U2.
func (c *Client) MaskInput(in *ShareInbox, x ...[]uint64) (*MaskedInput, error) {
	if err := c.step(stShared, "MaskInput"); err != nil {
		return nil, err
	}
	if err := c.checkFromCoordinator(&in.Header, c.self); err != nil {
		return nil, err
	}
	if len(x) != len(c.plan.vectorLens) {
		return nil, fmt.Errorf("%w: %d vectors, want %d", ErrInput, len(x), len(c.plan.vectorLens))
	}
	for i, v := range x {
		if len(v) != c.plan.vectorLens[i] {
			return nil, fmt.Errorf("%w: vector %d has %d words, want %d", ErrInput, i, len(v), c.plan.vectorLens[i])
		}
	}
	if err := c.readInbox(in); err != nil {
		return nil, c.abort(err)
	}
	y, err := c.mask(x)
	if err != nil {
		return nil, c.abort(err)
	}
	c.state = stMasked
	return &MaskedInput{Header: c.header(), Vectors: y}, nil
}

func (c *Client) readInbox(in *ShareInbox) error {
	pl := c.plan
	pt := make([]byte, 0, sharePlaintextSize)
	defer clear(pt[:cap(pt)])
	for i := range in.Shares {
		e := &in.Shares[i]
		if i > 0 && e.Peer <= in.Shares[i-1].Peer {
			return fmt.Errorf("%w: inbox senders not increasing at entry %d", ErrBadMessage, i)
		}
		p, ok := c.peers[e.Peer]
		if !ok {
			return fmt.Errorf("%w: inbox carries a share from %d, not a neighbour in U1", ErrBadMessage, e.Peer)
		}
		aead, err := shareAEAD(&p.encDH, &pl.ctx, e.Peer, c.self, &p.encPK, &c.encPK)
		if err != nil {
			return err
		}
		pt, err = aead.Open(pt[:0], zeroNonce[:], e.Ciphertext[:], shareAD(pl.job, pl.round, e.Peer, c.self))
		if err != nil {
			return fmt.Errorf("%w: from %d", ErrDecrypt, e.Peer)
		}
		// The AEAD already binds (from, to); the plaintext repeats them as
		// the specification asks, and we check them all the same.
		if len(pt) != sharePlaintextSize || [4]byte(pt[0:4]) != [4]byte(u32(e.Peer)) || [4]byte(pt[4:8]) != [4]byte(u32(c.self)) {
			return fmt.Errorf("%w: share plaintext from %d misaddressed", ErrDecrypt, e.Peer)
		}
		s, ok1 := parseScalar(pt[8 : 8+ScalarSize])
		b, ok2 := parseScalar(pt[8+ScalarSize:])
		if !ok1 || !ok2 {
			return fmt.Errorf("%w: share from %d is not a scalar", ErrDecrypt, e.Peer)
		}
		p.sShare, p.bShare, p.inU2 = s, b, true
	}
	c.u2 = c.u2[:0]
	for _, h := range c.holders {
		if h == c.self {
			c.u2 = append(c.u2, h)
		} else if p := c.peers[h]; p != nil && p.inU2 {
			c.u2 = append(c.u2, h)
		}
	}
	if len(c.u2) < pl.Threshold {
		return fmt.Errorf("%w: %d of this participant's holders are in U2, need %d", ErrBelowThreshold, len(c.u2), pl.Threshold)
	}
	return nil
}

func (c *Client) mask(x [][]uint64) ([][]uint64, error) {
	pl := c.plan
	// One X25519 per neighbour in U2, then one HKDF per neighbour and vector.
	type pair struct {
		v  uint32
		ss [32]byte
	}
	pairs := make([]pair, 0, len(c.u2))
	defer func() {
		for i := range pairs {
			clear(pairs[i].ss[:])
		}
	}()
	for _, v := range c.u2 {
		if v == c.self {
			continue
		}
		ss, ok := dh(&c.maskSK, &c.peers[v].maskPK)
		if !ok {
			return nil, fmt.Errorf("%w: mask key of %d", ErrBadPublicKey, v)
		}
		pairs = append(pairs, pair{v, ss})
	}
	y := make([][]uint64, len(x))
	ops := make([]maskOp, 0, len(pairs)+1)
	defer func() {
		for i := range ops {
			clear(ops[i].key[:])
		}
	}()
	for vec, xv := range x {
		m := len(xv)
		ops = ops[:0]
		key, err := selfMaskKey(c.kb, &pl.ctx, c.self, vec, m)
		if err != nil {
			return nil, err
		}
		ops = append(ops, maskOp{key: key})
		for i := range pairs {
			key, err := pairMaskKey(&pairs[i].ss, &pl.ctx, c.self, pairs[i].v, vec, m)
			if err != nil {
				return nil, err
			}
			ops = append(ops, maskOp{key: key, neg: c.self < pairs[i].v})
		}
		y[vec] = slices.Clone(xv)
		applyMasks(y[vec], ops, 1)
	}
	return y, nil
}

// Unmask answers the coordinator's unmasking request: for each participant
// it saw in U2 among its holders set, the share of k_b if the request lists
// it as a survivor, else the share of k_s. It refuses, and aborts, if the
// request lists this participant as dropped, names a non-neighbour or a
// participant outside the U2 it saw, repeats an id, or lists fewer than t
// survivors. It answers at most once per round: a second request, even a
// consistent one, gets ErrRepeatedRequest. The round's secrets are erased
// once it has answered.
func (c *Client) Unmask(req *UnmaskRequest) (*UnmaskResponse, error) {
	if c.state == stAborted {
		return nil, fmt.Errorf("%w: %w", ErrAborted, c.err)
	}
	if err := c.checkFromCoordinator(&req.Header, c.self); err != nil {
		return nil, err
	}
	if c.state == stDone {
		return nil, ErrRepeatedRequest
	}
	if err := c.step(stMasked, "Unmask"); err != nil {
		return nil, err
	}
	resp, err := c.unmask(req)
	if err != nil {
		return nil, c.abort(err)
	}
	c.state = stDone
	c.erase()
	return resp, nil
}

func (c *Client) unmask(req *UnmaskRequest) (*UnmaskResponse, error) {
	pl := c.plan
	alive := make(map[uint32]bool, len(req.Survivors))
	for i, u := range req.Survivors {
		if i > 0 && u <= req.Survivors[i-1] {
			return nil, fmt.Errorf("%w: survivor ids repeated or unsorted at entry %d", ErrBadMessage, i)
		}
		if u != c.self && !pl.Adjacent(c.self, u) {
			return nil, fmt.Errorf("%w: %d", ErrNotNeighbour, u)
		}
		if _, ok := slices.BinarySearch(c.u2, u); !ok {
			return nil, fmt.Errorf("%w: %d", ErrInconsistent, u)
		}
		alive[u] = true
	}
	if !alive[c.self] {
		return nil, ErrSelfDropped
	}
	if len(alive) < pl.Threshold {
		return nil, fmt.Errorf("%w: request lists %d live holders, need %d", ErrBelowThreshold, len(alive), pl.Threshold)
	}
	resp := &UnmaskResponse{Header: c.header(), Shares: make([]RevealedShare, 0, len(c.u2))}
	for _, u := range c.u2 {
		var s group.Scalar
		kind := MaskKeyShare
		if alive[u] {
			kind = SelfMaskShare
		}
		switch {
		case u == c.self && kind == SelfMaskShare:
			s = c.ownB
		case u == c.self:
			s = c.ownS // unreachable: self is alive
		case kind == SelfMaskShare:
			s = c.peers[u].bShare
		default:
			s = c.peers[u].sShare
		}
		if s == nil {
			return nil, errors.New("secagg: internal error: missing share")
		}
		resp.Shares = append(resp.Shares, RevealedShare{Owner: u, Kind: kind, Value: scalarBytes(s)})
	}
	return resp, nil
}
