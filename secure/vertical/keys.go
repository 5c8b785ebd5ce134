package vertical

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/cloudflare/circl/dh/x25519"
)

// Role names a party.
type Role uint8

// The three roles.
const (
	RoleBank    Role = 1
	RolePartner Role = 2
	RoleHelper  Role = 3
)

func (r Role) String() string {
	switch r {
	case RoleBank:
		return "bank"
	case RolePartner:
		return "partner"
	case RoleHelper:
		return "helper"
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

func (r Role) valid() bool { return r >= RoleBank && r <= RoleHelper }

const labelSeed = "fedscore/vertical/v1 seed"

// session holds one party's X25519 key for a session and the Hellos it
// received. Each (re)start of a job is a new session with new keys, so no
// PRG stream is ever used twice.
type session struct {
	job   string
	role  Role
	start uint64 // first iteration of the session
	priv  x25519.Key
	pub   x25519.Key
	peers map[Role]*Hello
}

func newSession(job string, role Role, start uint64, r io.Reader) (session, error) {
	s := session{job: job, role: role, start: start, peers: map[Role]*Hello{}}
	if _, err := io.ReadFull(r, s.priv[:]); err != nil {
		return s, fmt.Errorf("vertical: reading randomness: %w", err)
	}
	x25519.KeyGen(&s.pub, &s.priv)
	return s, nil
}

func (s *session) hello(kind Protocol) *Hello {
	return &Hello{Job: s.job, From: s.role, Protocol: kind, Iteration: s.start, Key: s.pub}
}

// receive records a peer's Hello after checking it.
func (s *session) receive(h *Hello, kind Protocol) error {
	switch {
	case h.Job != s.job:
		return fmt.Errorf("%w: %q", ErrWrongJob, h.Job)
	case h.Protocol != kind:
		return fmt.Errorf("%w: hello for protocol %v, want %v", ErrWrongRole, h.Protocol, kind)
	case !h.From.valid() || h.From == s.role:
		return fmt.Errorf("%w: hello from %v", ErrWrongRole, h.From)
	case s.peers[h.From] != nil:
		return fmt.Errorf("%w: second hello from %v", ErrDuplicate, h.From)
	case h.Iteration != s.start:
		return fmt.Errorf("%w: %v starts at iteration %d, this %v at %d; resume every party from the same checkpoint",
			ErrOutOfOrder, h.From, h.Iteration, s.role, s.start)
	}
	c := *h
	s.peers[h.From] = &c
	return nil
}

// seed derives the seed shared with peer:
// HKDF(X25519(own, peer), info = label ‖ job ‖ low role ‖ high role ‖ low key ‖ high key).
func (s *session) seed(peer Role) (Seed, error) {
	h := s.peers[peer]
	if h == nil {
		return Seed{}, fmt.Errorf("%w: no hello from %v", ErrNotReady, peer)
	}
	var shared x25519.Key
	if !x25519.Shared(&shared, &s.priv, (*x25519.Key)(&h.Key)) {
		return Seed{}, fmt.Errorf("%w: from %v", ErrBadKey, peer)
	}
	lo, hi := s.role, peer
	klo, khi := s.pub, h.Key
	if lo > hi {
		lo, hi, klo, khi = hi, lo, khi, klo
	}
	info := []byte(labelSeed)
	info = binary.LittleEndian.AppendUint16(info, uint16(len(s.job)))
	info = append(info, s.job...)
	info = append(info, byte(lo), byte(hi))
	info = append(info, klo[:]...)
	info = append(info, khi[:]...)
	k, err := hkdf.Key(sha256.New, shared[:], nil, string(info), 32)
	clear(shared[:])
	if err != nil {
		return Seed{}, fmt.Errorf("vertical: key derivation: %w", err)
	}
	var out Seed
	copy(out[:], k)
	clear(k)
	return out, nil
}
