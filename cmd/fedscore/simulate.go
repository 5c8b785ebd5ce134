package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/datasets"
	"github.com/fedscore/fedscore/internal/federation"
)

func runSimulate(args []string) error {
	fs := newFlags("simulate", "simulate --data FILE(.csv|.parquet) --label COL [--id COL] --participants N --split iid|COLUMN --model logistic [--rounds R] [--seed S] [--json]")
	data := fs.String("data", "", "table to experiment on (required)")
	label := fs.String("label", "", "binary label column (required)")
	id := fs.String("id", "", "id column (not a feature)")
	n := fs.Int("participants", 3, "number of participants")
	split := fs.String("split", "iid", "iid, or a column whose values assign rows to participants (non-IID)")
	model := fs.String("model", "logistic", "model family")
	feats := fs.String("features", "", "comma-separated feature columns (default: every numeric column)")
	rounds := fs.Uint("rounds", 20, "training rounds")
	epochs := fs.Uint("local-epochs", 1, "local epochs per round")
	lr := fs.Float64("learning-rate", 0, "local learning rate (default 0.01)")
	batch := fs.Uint("batch-size", 0, "local mini-batch size (default 64)")
	strat := fs.String("strategy", "fedavg", "fedavg or fedprox")
	mu := fs.Float64("prox-mu", 0, "FedProx proximal coefficient")
	seed := fs.Int64("seed", 1, "seed for the holdout, the split and training")
	holdout := fs.Float64("holdout", 0.2, "stratified test fraction held out before splitting")
	asJSON := fs.Bool("json", false, "print one JSON object with the results")
	plain := fs.Bool("plain-aggregation", false, "turn secure aggregation off (for comparison): the coordinator then sees each participant's update")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *data == "" || *label == "" {
		fs.Usage()
		return errors.New("simulate: --data and --label are required")
	}
	if *seed == 0 {
		return errors.New("simulate: --seed must not be 0")
	}
	table, err := datasets.ReadTable(*data)
	if err != nil {
		return err
	}
	exp := federation.Experiment{
		Table: table, Source: *data, Label: *label, ID: *id, Split: *split, Participants: *n, Holdout: *holdout, Seed: *seed,
		Spec: &fedscorepb.JobSpec{
			Name: "simulate", Model: *model, Features: splitList(*feats), Rounds: uint32(*rounds),
			LocalEpochs: uint32(*epochs), LearningRate: *lr, BatchSize: uint32(*batch),
			Strategy: *strat, ProxMu: *mu, Seed: uint64(*seed), PlainAggregation: *plain,
		},
	}
	if !*asJSON {
		p := newProgress(os.Stderr)
		defer p.done()
		exp.Progress = p.update
	}
	res, err := exp.Run(context.Background())
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	agg := "secure aggregation"
	if !res.SecureAgg {
		agg = "plain aggregation"
	}
	fmt.Printf("\n%d participants (%s split, rows %v), %d rounds, %s, %d test rows, %.1fs\n", res.Participants, res.Split, res.PartRows, res.Rounds, agg, res.TestRows, res.WallSeconds)
	fmt.Printf("%-10s %8s %8s %8s\n", "", "AUC", "KS", "logloss")
	fmt.Printf("%-10s %8.4f %8.4f %8.4f\n", "federated", res.Federated.AUC, res.Federated.KS, res.Federated.LogLoss)
	fmt.Printf("%-10s %8.4f %8.4f %8.4f\n", "pooled", res.Pooled.AUC, res.Pooled.KS, res.Pooled.LogLoss)
	return nil
}
