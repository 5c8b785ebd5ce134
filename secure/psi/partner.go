package psi

import "fmt"

// Partner is the partner's side of the protocol. Its methods are steps:
// each takes a message or produces one, and none does I/O. A Partner is not
// safe for concurrent use.
//
// Order of calls: Hello and ReceiveHello (either order); Double for each
// BankBlinded batch, sending back the BankDoubled batch it returns;
// NextBlinded until io.EOF, sending each batch; then ReceiveResult for each
// Result until Done, and Intersection.
type Partner struct {
	party
	doubled    bitset
	result     []uint32 // matching positions in agreed order
	seen       bitset   // positions already listed, to refuse repeats
	size       uint64
	got        uint64
	haveResult bool
}

// NewPartner validates and hashes the partner's ids and draws its secret
// and shuffle from c.Rand. ids stays owned by the caller.
func NewPartner(c Config, ids []string) (*Partner, error) {
	p, err := newParty(c, RolePartner, ids)
	if err != nil {
		return nil, err
	}
	return &Partner{party: p}, nil
}

// ReceiveHello takes the bank's Hello.
func (p *Partner) ReceiveHello(h *Hello) error {
	if err := p.party.ReceiveHello(h); err != nil {
		return err
	}
	p.doubled = newBitset(batches(p.peer.Count, uint64(p.peer.BatchSize)))
	return nil
}

// Double raises a BankBlinded batch to the partner's secret and returns the
// BankDoubled batch for the bank: the first 16 bytes of each result, in the
// received order.
func (p *Partner) Double(m *Batch) (*Batch, error) {
	seq, err := p.checkPeerBatch(m, BankBlinded)
	if err != nil {
		return nil, err
	}
	if p.doubled.has(seq) {
		return nil, fmt.Errorf("%w: bank batch at %d", ErrDuplicate, m.Offset)
	}
	tags := make([]byte, m.Len()*TagSize)
	if err := multiply(p.cfg.Workers, &p.secret, m.Data, tags, TagSize); err != nil {
		return nil, err
	}
	p.doubled.set(seq)
	return &Batch{Job: p.cfg.Job, Kind: BankDoubled, Offset: m.Offset, Data: tags}, nil
}

// NextBlinded returns the next PartnerBlinded batch for the bank, or
// io.EOF once all have been produced.
func (p *Partner) NextBlinded() (*Batch, error) { return p.nextBlinded(PartnerBlinded) }

// ReceiveResult takes one Result from the bank. Chunks must come in order.
func (p *Partner) ReceiveResult(r *Result) error {
	n := uint64(len(p.perm))
	switch {
	case r.Job != p.cfg.Job:
		return fmt.Errorf("%w: %q", ErrWrongJob, r.Job)
	case p.peer == nil || p.sent < len(p.perm):
		return fmt.Errorf("%w: result before the exchange finished", ErrOutOfOrder)
	case p.Done():
		return fmt.Errorf("%w: result after the last", ErrDuplicate)
	case r.Size > n || r.Size > p.peer.Count:
		return fmt.Errorf("%w: size %d exceeds a set size", ErrBadBatch, r.Size)
	case p.haveResult && r.Size != p.size:
		return fmt.Errorf("%w: size changed from %d to %d", ErrBadBatch, p.size, r.Size)
	case r.Offset != p.got:
		return fmt.Errorf("%w: result chunk at %d, want %d", ErrOutOfOrder, r.Offset, p.got)
	}
	if p.cfg.BankOnly || r.Size == 0 {
		if len(r.Positions) != 0 || r.Offset != 0 {
			return fmt.Errorf("%w: positions sent although the partner learns only the size", ErrBadBatch)
		}
		p.size, p.haveResult = r.Size, true
		return nil
	}
	if len(r.Positions) == 0 || uint64(len(r.Positions)) > r.Size-r.Offset {
		return fmt.Errorf("%w: %d positions at %d of %d", ErrBadBatch, len(r.Positions), r.Offset, r.Size)
	}
	if !p.haveResult {
		p.size, p.haveResult = r.Size, true
		p.seen = newBitset(int(n))
		p.result = make([]uint32, 0, r.Size)
	}
	for i, pos := range r.Positions {
		if uint64(pos) >= n || p.seen.has(int(pos)) {
			for _, q := range r.Positions[:i] {
				p.seen.clear(int(q))
			}
			return fmt.Errorf("%w: position %d out of range or repeated", ErrBadBatch, pos)
		}
		p.seen.set(int(pos))
	}
	p.result = append(p.result, r.Positions...)
	p.got += uint64(len(r.Positions))
	return nil
}

// Done reports whether the whole result has arrived.
func (p *Partner) Done() bool {
	if !p.haveResult {
		return false
	}
	return p.cfg.BankOnly || p.size == 0 || p.got == p.size
}

// Intersection returns the partner's view: the size, and unless BankOnly
// the rows of its ids in the agreed order.
func (p *Partner) Intersection() (Intersection, error) {
	if !p.Done() {
		return Intersection{}, fmt.Errorf("%w: result incomplete", ErrIncomplete)
	}
	out := Intersection{Size: int(p.size)}
	if p.cfg.BankOnly {
		return out, nil
	}
	out.Rows = make([]int, len(p.result))
	for i, pos := range p.result {
		out.Rows[i] = int(p.perm[pos])
	}
	return out, nil
}
