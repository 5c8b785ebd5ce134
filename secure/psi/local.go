package psi

import (
	"errors"
	"fmt"
	"io"
)

// RunLocal runs both sides in this process, passing every message through
// its wire encoding, and returns what each side learnt. trace, if not nil,
// sees every encoded message in order. Each side uses c.Workers goroutines
// for its own multiplications; the sides take turns, so the process uses
// c.Workers cores throughout.
func RunLocal(c Config, bankIDs, partnerIDs []string, trace func(from Role, msg []byte)) (bank, partner Intersection, err error) {
	b, err := NewBank(c, bankIDs)
	if err != nil {
		return bank, partner, fmt.Errorf("bank: %w", err)
	}
	p, err := NewPartner(c, partnerIDs)
	if err != nil {
		return bank, partner, fmt.Errorf("partner: %w", err)
	}
	// wire encodes m, shows it to trace and decodes it again, so that the
	// receiver sees only what travels.
	wire := func(from Role, m Message) (Message, error) {
		data, err := m.MarshalBinary()
		if err != nil {
			return nil, err
		}
		if trace != nil {
			trace(from, data)
		}
		return Unmarshal(data)
	}
	step := func(err error, who string) error {
		if err != nil {
			return fmt.Errorf("%s: %w", who, err)
		}
		return nil
	}
	hb, err := wire(RoleBank, b.Hello())
	if err == nil {
		err = step(p.ReceiveHello(hb.(*Hello)), "partner")
	}
	if err != nil {
		return bank, partner, err
	}
	hp, err := wire(RolePartner, p.Hello())
	if err == nil {
		err = step(b.ReceiveHello(hp.(*Hello)), "bank")
	}
	if err != nil {
		return bank, partner, err
	}
	for {
		m, err := b.NextBlinded()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return bank, partner, fmt.Errorf("bank: %w", err)
		}
		w, err := wire(RoleBank, m)
		if err != nil {
			return bank, partner, err
		}
		d, err := p.Double(w.(*Batch))
		if err != nil {
			return bank, partner, fmt.Errorf("partner: %w", err)
		}
		if w, err = wire(RolePartner, d); err != nil {
			return bank, partner, err
		}
		if err := b.ReceiveDoubled(w.(*Batch)); err != nil {
			return bank, partner, fmt.Errorf("bank: %w", err)
		}
	}
	for {
		m, err := p.NextBlinded()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return bank, partner, fmt.Errorf("partner: %w", err)
		}
		w, err := wire(RolePartner, m)
		if err != nil {
			return bank, partner, err
		}
		if err := b.ReceivePartner(w.(*Batch)); err != nil {
			return bank, partner, fmt.Errorf("bank: %w", err)
		}
	}
	bank, results, err := b.Finish()
	if err != nil {
		return bank, partner, fmt.Errorf("bank: %w", err)
	}
	for _, r := range results {
		w, err := wire(RoleBank, r)
		if err != nil {
			return bank, partner, err
		}
		if err := p.ReceiveResult(w.(*Result)); err != nil {
			return bank, partner, fmt.Errorf("partner: %w", err)
		}
	}
	partner, err = p.Intersection()
	if err != nil {
		return bank, partner, fmt.Errorf("partner: %w", err)
	}
	return bank, partner, nil
}
