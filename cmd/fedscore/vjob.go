package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fedscore/fedscore/api/fedscoregrpc"
	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/participant"
	"github.com/fedscore/fedscore/secure/pki"
	"github.com/fedscore/fedscore/secure/vertical"
	"google.golang.org/protobuf/proto"
)

// kitDirectory is the coordinator's directory of provisioned identities:
// the kits `fedscore provision` wrote beside its own. It reads kit.json at
// each lookup, so kits added later (`provision add`) count at once.
func kitDirectory(dir string) func(string) (pki.Role, bool) {
	return func(name string) (pki.Role, bool) {
		if name == "" || filepath.Base(name) != name || strings.HasPrefix(name, ".") {
			return "", false
		}
		b, err := os.ReadFile(filepath.Join(dir, name, pki.KitConfig))
		if err != nil {
			return "", false
		}
		var k pki.Kit
		if err := json.Unmarshal(b, &k); err != nil || k.Name != name {
			return "", false
		}
		return k.Role, true
	}
}

// verticalFlags are the vertical part of `job submit`.
type verticalFlags struct {
	bank, partner, helper, bankFeatures, partnerFeatures, params, model *string
	validation                                                          *float64
}

func addVerticalFlags(fs *flag.FlagSet) verticalFlags {
	return verticalFlags{
		bank:            fs.String("bank", "", "vertical: the bank's participant id (it holds --label)"),
		partner:         fs.String("partner", "", "vertical: the partner's participant id"),
		helper:          fs.String("helper", "", `vertical: the helper's identity (role helper), or "coordinator" to run it inside the coordinator (only when a third party runs the coordinator)`),
		bankFeatures:    fs.String("bank-features", "", "vertical: the bank's feature columns, comma-separated"),
		partnerFeatures: fs.String("partner-features", "", "vertical: the partner's feature columns, comma-separated"),
		params:          fs.String("params", "", "vertical: vertical.Params as JSON (Epochs, BatchSize, LearningRate, Momentum, L2...)"),
		model:           fs.String("vertical-model", "", "vertical: scorecard (default: each side's quantile bins and WOE, the partner's bad counts by the vertical product; a --spec file's categorical, bin_config, base_score, base_odds and pdo apply) or logistic (standardised columns)"),
		validation:      fs.Float64("validation-fraction", 0, "vertical: share of the aligned rows kept for the bank's validation metrics (default 0.2)"),
	}
}

// apply fills spec's vertical part from the flags set, making it a
// vertical job when any is.
func (v verticalFlags) apply(spec *fedscorepb.JobSpec, set map[string]bool) error {
	any := false
	for _, n := range []string{"bank", "partner", "helper", "bank-features", "partner-features", "params", "vertical-model"} {
		any = any || set[n]
	}
	if !any && spec.GetModel() != "vertical" {
		return nil
	}
	spec.Model = "vertical"
	if spec.Vertical == nil {
		spec.Vertical = &fedscorepb.VerticalSpec{}
	}
	vs := spec.Vertical
	if set["bank"] {
		vs.Bank = *v.bank
	}
	if set["partner"] {
		vs.Partner = *v.partner
	}
	if set["helper"] {
		vs.Helper = *v.helper
	}
	if set["bank-features"] {
		vs.BankFeatures = splitList(*v.bankFeatures)
	}
	if set["partner-features"] {
		vs.PartnerFeatures = splitList(*v.partnerFeatures)
	}
	if set["params"] {
		b, err := os.ReadFile(*v.params)
		if err != nil {
			return err
		}
		var p vertical.Params
		if err := json.Unmarshal(b, &p); err != nil {
			return fmt.Errorf("params %s: %w", *v.params, err)
		}
		vs.Params = b
	}
	if set["vertical-model"] {
		vs.Model = *v.model
	}
	if set["validation-fraction"] {
		spec.ValidationFraction = *v.validation
	}
	return nil
}

var jobResume = oneJobCommand("resume", func(ctx context.Context, jobs fedscoregrpc.JobsClient, id string) (proto.Message, error) {
	return jobs.ResumeJob(ctx, &fedscorepb.ResumeJobRequest{JobId: id})
})

// selfName is this node's identity: its kit's, or --as when insecure.
func selfName(cf *connFlags, as string) (string, error) {
	if cf.insecure {
		if as == "" {
			return "", errors.New("with --insecure, say who this node is with --as NAME")
		}
		return as, nil
	}
	k, err := cf.loadKit()
	if err != nil {
		return "", err
	}
	return k.Name, nil
}

// defaultState is where a party keeps its vertical state by default:
// beside its kit, which is already private to it.
func defaultState(cf *connFlags) string {
	if cf.kit != "" {
		return filepath.Join(cf.kit, "state")
	}
	return "fedscore-state"
}

// runVerticalJob is `fedscore vertical --job` and `fedscore helper --job`:
// one party of a vertical job the coordinator runs.
func runVerticalJob(cf *connFlags, job, data, state, as string) error {
	self, err := selfName(cf, as)
	if err != nil {
		return err
	}
	if state == "" {
		state = defaultState(cf)
	}
	if data == "" {
		state = "" // the helper keeps nothing
	}
	log, err := newLogger("info")
	if err != nil {
		return err
	}
	conn, err := dial(cf)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, stop := signalContext()
	defer stop()
	fmt.Fprintf(os.Stderr, "vertical job %s: %s joining; waiting for the other data party\n", job, self)
	res, err := participant.RunVerticalJob(ctx, conn, participant.VerticalJobConfig{Job: job, Self: self, Data: data, StateDir: state, Log: log})
	if err != nil {
		if data != "" {
			fmt.Fprintf(os.Stderr, "vertical job %s: this party's checkpoints stay in %s; after `fedscore job resume %s`, run this command again to continue\n",
				job, participant.VerticalStateDir(state, job), job)
		}
		return err
	}
	switch res.Role {
	case vertical.RoleHelper:
		fmt.Printf("vertical job %s: dealt iterations %d to %d\n", job, res.Start, res.Iterations)
	case vertical.RolePartner:
		fmt.Printf("vertical job %s: partner done (iterations %d to %d); its half of the model is in %s\n", job, res.Start, res.Iterations, res.ModelPath)
	default:
		fmt.Printf("vertical job %s: registered %s; validation AUC %.4f KS %.4f on %d rows; the bank's half of the model is in %s\n",
			job, res.Version, res.Validation.GetAuc(), res.Validation.GetKs(), res.Validation.GetExamples(), res.ModelPath)
	}
	return nil
}

// verticalScore is `fedscore vertical score`.
func verticalScore(args []string) error {
	fs := newFlags("vertical score", "vertical score --kit DIR --job JOB --data ALIGNED [--id COL] [--state DIR] [--reasons N]")
	cf := addConnFlags(fs)
	job := fs.String("job", "", "the vertical job whose registered model scores (required)")
	data := fs.String("data", "", "this party's aligned table of the customers to score, in the order fedscore psi agreed (required)")
	id := fs.String("id", "", "bank: the id column to publish scores under")
	state := fs.String("state", "", "where training kept this party's half of the model (default: KIT/state)")
	reasons := fs.Int("reasons", 0, "reason codes per customer (default: the job's)")
	as := fs.String("as", "", "this node's name, with --insecure only")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *job == "" || *data == "" {
		fs.Usage()
		return errors.New("vertical score: --job and --data are required")
	}
	self, err := selfName(cf, *as)
	if err != nil {
		return err
	}
	if *state == "" {
		*state = defaultState(cf)
	}
	conn, err := dial(cf)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, stop := signalContext()
	defer stop()
	res, err := participant.RunVerticalScore(ctx, conn, participant.VerticalScoreConfig{Job: *job, Self: self, Data: *data, IDColumn: *id, StateDir: *state, Reasons: *reasons})
	if err != nil {
		return err
	}
	if res.Role == vertical.RoleBank {
		fmt.Printf("vertical job %s: published %d scores under model %s\n", *job, res.Published, res.Version)
	} else {
		fmt.Printf("vertical job %s: sent partial scores of %d customers to the bank\n", *job, res.Rows)
	}
	return nil
}
