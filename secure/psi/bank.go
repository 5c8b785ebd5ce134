package psi

import (
	"bytes"
	"fmt"
	"slices"
)

// Bank is the bank's side of the protocol. It learns the intersection and
// decides the agreed order. Its methods are steps: each takes a message or
// produces one, and none does I/O. A Bank is not safe for concurrent use.
//
// Order of calls: Hello and ReceiveHello (either order); NextBlinded until
// io.EOF, sending each batch; ReceiveDoubled for each BankDoubled batch and
// ReceivePartner for each PartnerBlinded batch, in any interleaving; then
// Finish, which returns the bank's Intersection and the Result messages for
// the partner.
type Bank struct {
	party
	ownTags  [][TagSize]byte // H(x)^ab prefix, by own shuffled position
	ownGot   bitset
	ownLeft  int // own batches still to come back doubled
	index    map[[TagSize]byte]uint32
	peerGot  bitset
	peerLeft int
	pending  []*Batch // partner tags that arrived before the index was ready
	matches  []match
	finished bool
}

type match struct {
	tag            [TagSize]byte
	own, partnerAt uint32
}

// NewBank validates and hashes the bank's ids and draws its secret and
// shuffle from c.Rand. ids stays owned by the caller and is not modified.
func NewBank(c Config, ids []string) (*Bank, error) {
	p, err := newParty(c, RoleBank, ids)
	if err != nil {
		return nil, err
	}
	n := len(p.perm)
	nb := batches(uint64(n), uint64(p.cfg.BatchSize))
	return &Bank{party: p, ownTags: make([][TagSize]byte, n), ownGot: newBitset(nb), ownLeft: nb}, nil
}

// ReceiveHello takes the partner's Hello.
func (b *Bank) ReceiveHello(h *Hello) error {
	if err := b.party.ReceiveHello(h); err != nil {
		return err
	}
	nb := batches(b.peer.Count, uint64(b.peer.BatchSize))
	b.peerGot, b.peerLeft = newBitset(nb), nb
	return nil
}

// NextBlinded returns the next BankBlinded batch for the partner, or
// io.EOF once all have been produced.
func (b *Bank) NextBlinded() (*Batch, error) { return b.nextBlinded(BankBlinded) }

// ReceiveDoubled takes a BankDoubled batch: the partner's answer to the
// BankBlinded batch at the same offset.
func (b *Bank) ReceiveDoubled(m *Batch) error {
	if m.Job != b.cfg.Job {
		return fmt.Errorf("%w: %q", ErrWrongJob, m.Job)
	}
	if m.Kind != BankDoubled {
		return fmt.Errorf("%w: %v batch, want %v", ErrOutOfOrder, m.Kind, BankDoubled)
	}
	seq, err := framing(m, uint64(len(b.perm)), uint64(b.cfg.BatchSize))
	if err != nil {
		return err
	}
	if m.Offset+uint64(m.Len()) > uint64(b.sent) {
		return fmt.Errorf("%w: doubled batch at %d was never sent", ErrOutOfOrder, m.Offset)
	}
	if b.ownGot.has(seq) {
		return fmt.Errorf("%w: doubled batch at %d", ErrDuplicate, m.Offset)
	}
	b.ownGot.set(seq)
	for i := range m.Len() {
		copy(b.ownTags[int(m.Offset)+i][:], m.Data[i*TagSize:])
	}
	b.ownLeft--
	if b.ownLeft == 0 {
		b.buildIndex()
		for _, p := range b.pending {
			b.match(p.Offset, p.Data)
		}
		b.pending = nil
	}
	return nil
}

// ReceivePartner takes a PartnerBlinded batch and raises it to the bank's
// secret. Only the 16-byte tags are kept.
func (b *Bank) ReceivePartner(m *Batch) error {
	seq, err := b.checkPeerBatch(m, PartnerBlinded)
	if err != nil {
		return err
	}
	if b.peerGot.has(seq) {
		return fmt.Errorf("%w: partner batch at %d", ErrDuplicate, m.Offset)
	}
	tags := make([]byte, m.Len()*TagSize)
	if err := multiply(b.cfg.Workers, &b.secret, m.Data, tags, TagSize); err != nil {
		return err
	}
	b.peerGot.set(seq)
	b.peerLeft--
	if b.index == nil {
		b.pending = append(b.pending, &Batch{Offset: m.Offset, Data: tags})
		return nil
	}
	b.match(m.Offset, tags)
	return nil
}

func (b *Bank) buildIndex() {
	b.index = make(map[[TagSize]byte]uint32, len(b.ownTags))
	for i, t := range b.ownTags {
		b.index[t] = uint32(i)
	}
	b.ownTags = nil
}

func (b *Bank) match(off uint64, tags []byte) {
	for i := range len(tags) / TagSize {
		var t [TagSize]byte
		copy(t[:], tags[i*TagSize:])
		if own, ok := b.index[t]; ok {
			b.matches = append(b.matches, match{tag: t, own: own, partnerAt: uint32(off) + uint32(i)})
		}
	}
}

// Intersection is one party's view of the result.
type Intersection struct {
	// Size is the number of common ids.
	Size int
	// Rows lists, in the agreed order, the row (index into the ids given to
	// NewBank or NewPartner) of each common id. It is nil for a partner
	// under BankOnly.
	Rows []int
}

// Finish sorts the matches into the agreed order (by H(id)^ab) and returns
// the bank's intersection with the Result messages for the partner: one
// per BatchSize positions, or a single one with the size alone under
// BankOnly.
func (b *Bank) Finish() (Intersection, []*Result, error) {
	if b.finished {
		return Intersection{}, nil, fmt.Errorf("%w: Finish called twice", ErrDuplicate)
	}
	if b.peer == nil || b.ownLeft > 0 || b.peerLeft > 0 || b.sent < len(b.perm) {
		return Intersection{}, nil, fmt.Errorf("%w: %d own and %d partner batches outstanding", ErrIncomplete, b.ownLeft, b.peerLeft)
	}
	b.finished = true
	slices.SortFunc(b.matches, func(x, y match) int { return bytes.Compare(x.tag[:], y.tag[:]) })
	out := Intersection{Size: len(b.matches), Rows: make([]int, len(b.matches))}
	for i, m := range b.matches {
		out.Rows[i] = int(b.perm[m.own])
	}
	at := make([]uint32, len(b.matches))
	for i, m := range b.matches {
		at[i] = m.partnerAt
	}
	b.matches = nil
	return out, results(b.cfg.Job, b.cfg.BankOnly, b.cfg.BatchSize, at), nil
}
