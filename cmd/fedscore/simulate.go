package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/datasets"
	"github.com/fedscore/fedscore/features"
	"github.com/fedscore/fedscore/internal/federation"
)

func runSimulate(args []string) error {
	if simulateVerticalRequested(args) {
		return runSimulateVertical(args) // simulate_vertical.go
	}
	fs := newFlags("simulate", "simulate --data FILE(.csv|.parquet) --label COL [--id COL] --participants N --split iid|COLUMN --model logistic|scorecard|softmax [--rounds R] [--seed S] [--json]")
	data := fs.String("data", "", "table to experiment on (required)")
	label := fs.String("label", "", "binary label column (required)")
	id := fs.String("id", "", "id column (not a feature)")
	n := fs.Int("participants", 3, "number of participants")
	split := fs.String("split", "iid", "iid, or a column whose values assign rows to participants (non-IID)")
	model := fs.String("model", "logistic", "logistic (standardised), scorecard (binned WOE logistic with points), or softmax (multi-class tiering)")
	positive := fs.String("positive", "", "scorecard: the label value meaning the event, for a text label (e.g. yes)")
	classes := fs.Uint("classes", 0, "softmax: number of classes (default: from the label column)")
	categorical := fs.String("categorical", "", "binned models: comma-separated integer columns to bin by value")
	derive := fs.String("derive", "", "binned models: JSON file of derived features ([{\"name\":..., \"op\":\"ratio\", \"inputs\":[...]}])")
	bins := fs.Int("bins", 0, "binned models: quantile bins per numeric feature (default 10)")
	monotone := fs.Bool("monotone", false, "scorecard: merge adjacent bins until the bad rate is monotone")
	minIV := fs.Float64("min-iv", 0, "scorecard: drop features whose information value is below this")
	crosses := fs.Int("crosses", 0, "scorecard: segment crosses, the most characteristics to segment by (default 3; -1 turns them off)")
	baseScore := fs.Float64("base-score", 0, "scorecard: points at the base odds (default 600)")
	baseOdds := fs.Float64("base-odds", 0, "scorecard: good:bad odds at the base score (default 50)")
	pdo := fs.Float64("pdo", 0, "scorecard: points to double the odds (default 20)")
	tiers := fs.Uint("tiers", 0, "scorecard: score-band tiers to cut (default 5)")
	propensity := fs.Bool("propensity", false, "scorecard: tier A holds the highest probabilities (marketing), not the lowest (credit risk)")
	feats := fs.String("features", "", "comma-separated feature columns (default: every numeric column)")
	rounds := fs.Uint("rounds", 0, "training rounds (default 20; 30 for binned models)")
	epochs := fs.Uint("local-epochs", 0, "local epochs per round (default 1; 10 full-batch steps for binned models)")
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
	if *rounds == 0 && *model == "logistic" {
		*rounds = 20
	}
	var pcfg features.PipelineConfig
	if *derive != "" {
		b, err := os.ReadFile(*derive)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &pcfg.Derived); err != nil {
			return fmt.Errorf("simulate: %s: %w", *derive, err)
		}
	}
	pcfg.Monotone, pcfg.MinIV, pcfg.Crosses.Segmenters = *monotone, *minIV, *crosses
	pipelineJSON, err := json.Marshal(pcfg)
	if err != nil {
		return err
	}
	var binJSON []byte
	if *bins > 0 {
		binJSON, _ = json.Marshal(features.BinConfig{Bins: *bins})
	}
	exp := federation.Experiment{
		Table: table, Source: *data, Label: *label, ID: *id, Split: *split, Participants: *n, Holdout: *holdout, Seed: *seed,
		Spec: &fedscorepb.JobSpec{
			Name: "simulate", Model: *model, Features: splitList(*feats), Rounds: uint32(*rounds),
			LocalEpochs: uint32(*epochs), LearningRate: *lr, BatchSize: uint32(*batch),
			Strategy: *strat, ProxMu: *mu, Seed: uint64(*seed), PlainAggregation: *plain,
			PositiveLabel: *positive, Classes: uint32(*classes), Categorical: splitList(*categorical),
			PipelineConfig: pipelineJSON, BinConfig: binJSON, BaseScore: *baseScore, BaseOdds: *baseOdds, Pdo: *pdo,
			Tiers: uint32(*tiers), Propensity: *propensity,
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
	if *model == "softmax" {
		fmt.Printf("%-10s %8s %8s %8s\n", "", "accuracy", "macroF1", "logloss")
		fmt.Printf("%-10s %8.4f %8.4f %8.4f\n", "federated", res.Federated.Accuracy, res.Federated.MacroF1, res.Federated.LogLoss)
		fmt.Printf("%-10s %8.4f %8.4f %8.4f\n", "pooled", res.Pooled.Accuracy, res.Pooled.MacroF1, res.Pooled.LogLoss)
		return nil
	}
	fmt.Printf("%-10s %8s %8s %8s %8s\n", "", "AUC", "KS", "Gini", "logloss")
	fmt.Printf("%-10s %8.4f %8.4f %8.4f %8.4f\n", "federated", res.Federated.AUC, res.Federated.KS, res.Federated.Gini, res.Federated.LogLoss)
	fmt.Printf("%-10s %8.4f %8.4f %8.4f %8.4f\n", "pooled", res.Pooled.AUC, res.Pooled.KS, res.Pooled.Gini, res.Pooled.LogLoss)
	for _, t := range res.Federated.Tiers {
		fmt.Printf("tier %-3s %6d test rows, event rate %.3f\n", t.Tier, t.Rows, t.Rate)
	}
	return nil
}
