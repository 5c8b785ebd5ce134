package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/fedscore/fedscore/datasets"
	"github.com/fedscore/fedscore/participant"
	"github.com/fedscore/fedscore/secure/vertical"
)

// runVertical runs one party of vertical training through the
// coordinator's relay. With --job, the party joins a vertical job a
// scientist submitted, which names the parties, columns and parameters,
// and keeps its checkpoints and half of the model in --state. Without it,
// it runs a bare session: the three parties give the same session, names
// and parameters file; the data parties give their aligned tables (from
// fedscore psi), the helper none.
func runVertical(args []string) error {
	if len(args) > 0 && args[0] == "score" {
		return verticalScore(args[1:])
	}
	fs := newFlags("vertical", "vertical --kit DIR --job JOB [--data ALIGNED] [--state DIR]\n"+
		"       fedscore vertical score --kit DIR --job JOB --data ALIGNED [--id COL]\n"+
		"       fedscore vertical --kit DIR --session NAME --role bank|partner|helper --bank NAME --partner NAME --helper NAME --params FILE.json [--data ALIGNED --features A,B [--label COL]] [--out MODEL.json]")
	cf := addConnFlags(fs)
	job := fs.String("job", "", "join this vertical job (fedscore job submit --model vertical); its spec names the columns and parameters")
	state := fs.String("state", "", "with --job: where this party keeps its checkpoints and its half of the model (default: KIT/state)")
	as := fs.String("as", "", "with --job and --insecure: this node's name")
	session := fs.String("session", "", "a name the three parties share (required)")
	role := fs.String("role", "", "bank, partner or helper (required)")
	bank := fs.String("bank", "", "the bank's participant id (required)")
	partner := fs.String("partner", "", "the partner's participant id (required)")
	helper := fs.String("helper", "", "the helper's id, a third party's (required)")
	paramsFile := fs.String("params", "", "vertical.Params as JSON: job, rows, bank_features, partner_features, epochs... (required)")
	data := fs.String("data", "", "data parties: the aligned table")
	feats := fs.String("features", "", "data parties: comma-separated feature columns")
	label := fs.String("label", "", "bank: the 0/1 label column")
	out := fs.String("out", "", "data parties: write this party's half of the model here")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *job != "" {
		if *role == "helper" {
			*data = ""
		} else if *data == "" {
			return errors.New("vertical: a data party of a job needs --data, its aligned table")
		}
		return runVerticalJob(cf, *job, *data, *state, *as)
	}
	if *session == "" || *paramsFile == "" {
		fs.Usage()
		return errors.New("vertical: --session and --params are required")
	}
	if err := vertical.CheckIdentities(*bank, *partner, *helper); err != nil {
		return err
	}
	b, err := os.ReadFile(*paramsFile)
	if err != nil {
		return err
	}
	var params vertical.Params
	if err := json.Unmarshal(b, &params); err != nil {
		return fmt.Errorf("vertical: %s: %w", *paramsFile, err)
	}
	c := participant.VerticalConfig{Session: *session, Bank: *bank, Partner: *partner, Helper: *helper, Params: params}
	switch *role {
	case "bank", "partner":
		c.Role = vertical.RoleBank
		if *role == "partner" {
			c.Role = vertical.RolePartner
		}
		schema := datasets.Schema{Features: splitList(*feats)}
		if c.Role == vertical.RoleBank {
			schema.Label = *label
		}
		f, err := datasets.LoadFrame(*data, schema)
		if err != nil {
			return err
		}
		r, cols := f.X.Dims()
		c.X = vertical.Matrix{Rows: r, Cols: cols, Data: f.X.RawMatrix().Data}
		c.Labels = f.Y
	case "helper":
		c.Role = vertical.RoleHelper
	default:
		return fmt.Errorf("vertical: --role must be bank, partner or helper, not %q", *role)
	}
	conn, err := dial(cf)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, stop := signalContext()
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 24*time.Hour)
	defer cancel()
	start := time.Now()
	res, err := participant.RunVertical(ctx, conn, c)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "vertical %s: %s done, %d iterations in %.1fs\n", *session, *role, res.Iterations, time.Since(start).Seconds())
	var model any
	switch {
	case res.Bank != nil:
		model = res.Bank
	case res.Partner != nil:
		model = res.Partner
	default:
		return nil
	}
	if *out == "" {
		return nil
	}
	mb, err := json.MarshalIndent(model, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, mb, 0o600); err != nil {
		return err
	}
	fmt.Printf("wrote this party's half of the model to %s\n", *out)
	return nil
}

// runHelper is the vertical helper node: it deals correlated randomness
// and sees no data. Run it under its own identity, never a data party's.
func runHelper(args []string) error {
	return runVertical(append([]string{"--role", "helper"}, args...))
}
