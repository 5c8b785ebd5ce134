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
	doubled bitset
	sink    resultSink
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
	if p.peer != nil && p.sink.rowOf == nil {
		p.sink = resultSink{bankOnly: p.cfg.BankOnly, ownCount: uint64(len(p.perm)), peerCount: p.peer.Count,
			positions: uint64(len(p.perm)), rowOf: func(pos uint32) int { return int(p.perm[pos]) }}
	}
	return p.sink.receive(p.cfg.Job, r, p.peer != nil && p.sent == len(p.perm))
}

// Done reports whether the whole result has arrived.
func (p *Partner) Done() bool { return p.sink.done() }

// Intersection returns the partner's view: the size, and unless BankOnly
// the rows of its ids in the agreed order.
func (p *Partner) Intersection() (Intersection, error) { return p.sink.intersection() }
