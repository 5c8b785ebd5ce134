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
	if c.Protocol == ProtocolECDH {
		return runLocalECDH(c, bankIDs, partnerIDs, wire)
	}
	return runLocalOPRF(c, bankIDs, partnerIDs, wire)
}

type wireFunc func(from Role, m Message) (Message, error)

func runLocalOPRF(c Config, bankIDs, partnerIDs []string, wire wireFunc) (bank, partner Intersection, err error) {
	b, err := NewOPRFBank(c, bankIDs)
	if err != nil {
		return bank, partner, fmt.Errorf("bank: %w", err)
	}
	p, err := NewOPRFPartner(c, partnerIDs)
	if err != nil {
		return bank, partner, fmt.Errorf("partner: %w", err)
	}
	// send passes m from one side to the other through its encoding and
	// hands it to recv; every error names the side that raised it.
	send := func(from Role, m Message, recv func(Message) error) error {
		w, err := wire(from, m)
		if err != nil {
			return err
		}
		to := RolePartner
		if from == RolePartner {
			to = RoleBank
		}
		if err := recv(w); err != nil {
			return fmt.Errorf("%v: %w", to, err)
		}
		return nil
	}
	if err := send(RoleBank, b.Hello(), func(m Message) error { return p.ReceiveHello(m.(*Hello)) }); err != nil {
		return bank, partner, err
	}
	if err := send(RolePartner, p.Hello(), func(m Message) error { return b.ReceiveHello(m.(*Hello)) }); err != nil {
		return bank, partner, err
	}
	s1, err := b.Setup()
	if err != nil {
		return bank, partner, fmt.Errorf("bank: %w", err)
	}
	var s2, s3 *Setup
	if err := send(RoleBank, s1, func(m Message) (err error) { s2, err = p.ReceiveSetup(m.(*Setup)); return }); err != nil {
		return bank, partner, err
	}
	if err := send(RolePartner, s2, func(m Message) (err error) { s3, err = b.ReceiveSetup(m.(*Setup)); return }); err != nil {
		return bank, partner, err
	}
	if err := send(RoleBank, s3, func(m Message) error { _, err := p.ReceiveSetup(m.(*Setup)); return err }); err != nil {
		return bank, partner, err
	}
	for {
		m, err := b.NextMatrix()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return bank, partner, fmt.Errorf("bank: %w", err)
		}
		if err := send(RoleBank, m, func(m Message) error { return p.ReceiveMatrix(m.(*Batch)) }); err != nil {
			return bank, partner, err
		}
	}
	for {
		m, err := p.NextTags()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return bank, partner, fmt.Errorf("partner: %w", err)
		}
		if err := send(RolePartner, m, func(m Message) error { return b.ReceiveTags(m.(*Batch)) }); err != nil {
			return bank, partner, err
		}
	}
	bank, results, err := b.Finish()
	if err != nil {
		return bank, partner, fmt.Errorf("bank: %w", err)
	}
	for _, r := range results {
		if err := send(RoleBank, r, func(m Message) error { return p.ReceiveResult(m.(*Result)) }); err != nil {
			return bank, partner, err
		}
	}
	partner, err = p.Intersection()
	if err != nil {
		return bank, partner, fmt.Errorf("partner: %w", err)
	}
	return bank, partner, nil
}

func runLocalECDH(c Config, bankIDs, partnerIDs []string, wire wireFunc) (bank, partner Intersection, err error) {
	b, err := NewBank(c, bankIDs)
	if err != nil {
		return bank, partner, fmt.Errorf("bank: %w", err)
	}
	p, err := NewPartner(c, partnerIDs)
	if err != nil {
		return bank, partner, fmt.Errorf("partner: %w", err)
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
