package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/fedscore/fedscore/datasets"
	"github.com/fedscore/fedscore/participant"
	"github.com/fedscore/fedscore/secure/psi"
)

// runPSI aligns this node's customers with a peer's by private set
// intersection, through the coordinator's relay, and writes the aligned
// rows: the intersection, in the order both sides agree on.
func runPSI(args []string) error {
	fs := newFlags("psi", "psi --kit DIR --data FILE --id COL --peer NAME --session NAME (--bank | --partner) --out FILE.parquet [--bank-only] [--protocol oprf|ecdh]")
	cf := addConnFlags(fs)
	data := fs.String("data", "", "local table holding the ids (required)")
	id := fs.String("id", "", "id column (required)")
	peer := fs.String("peer", "", "the other party's participant id (required)")
	session := fs.String("session", "", "a name both sides give, e.g. the vertical job's name (required)")
	bank := fs.Bool("bank", false, "this side is the bank")
	partnerSide := fs.Bool("partner", false, "this side is the partner")
	bankOnly := fs.Bool("bank-only", false, "only the bank learns the intersection; the partner learns its size")
	out := fs.String("out", "", "write this side's aligned rows here, .parquet or .csv (required, unless the partner learns only the size)")
	self := fs.String("self", "", "this node's participant id (default: the kit's name)")
	protoName := fs.String("protocol", "oprf", "oprf (OT-extension OPRF, fast) or ecdh (X25519 Diffie-Hellman); both sides must agree")
	if err := fs.Parse(args); err != nil {
		return err
	}
	proto, err := psi.ParseProtocol(*protoName)
	if err != nil {
		return err
	}
	if *data == "" || *id == "" || *peer == "" || *session == "" || *bank == *partnerSide {
		fs.Usage()
		return errors.New("psi: --data, --id, --peer, --session and exactly one of --bank or --partner are required")
	}
	if *self == "" {
		k, err := cf.loadKit()
		if err != nil {
			return err
		}
		*self = k.Name
	}
	t, err := datasets.ReadTable(*data)
	if err != nil {
		return err
	}
	col := t.Column(*id)
	if col == nil {
		return fmt.Errorf("psi: %s has no column %q", *data, *id)
	}
	ids := make([]string, t.Rows())
	for i := range ids {
		ids[i] = col.Format(i)
	}
	conn, err := dial(cf)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, stop := signalContext()
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, time.Hour)
	defer cancel()
	start := time.Now()
	inter, err := participant.RunPSI(ctx, conn, participant.PSIConfig{
		Session: *session, Self: *self, Peer: *peer, Bank: *bank,
		Protocol: psi.Config{Job: *session, BankOnly: *bankOnly, Protocol: proto},
	}, ids)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "psi %s: %d of %d ids in common (%.1fs)\n", *session, inter.Size, len(ids), time.Since(start).Seconds())
	if len(inter.Rows) == 0 {
		return nil
	}
	if *out == "" {
		return errors.New("psi: --out is required to keep the aligned rows")
	}
	aligned := t.Select(inter.Rows)
	if err := datasets.WriteParquet(*out, aligned); err != nil {
		return err
	}
	fmt.Printf("wrote %d aligned rows to %s\n", aligned.Rows(), *out)
	return nil
}
