package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/fedscore/fedscore/internal/federation"
	"github.com/fedscore/fedscore/secure/psi"
	"github.com/fedscore/fedscore/secure/vertical"
)

func runBench(args []string) error {
	return subcommands("bench", args, map[string]command{
		"secagg":   {"secure aggregation: plain vs secure rounds, protocol CPU and bytes", benchSecAgg},
		"psi":      {"private set intersection of two id sets, both sides on this machine", benchPSI},
		"vertical": {"one epoch of vertical logistic regression vs the same model in plaintext", benchVertical},
		"serve":    {"load N scored customers into a fresh score store and drive the query API", runBenchServe},
	})
}

func printJSONOrTable(asJSON bool, v any, rows [][2]string) error {
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	for _, r := range rows {
		fmt.Printf("%-26s %s\n", r[0], r[1])
	}
	return nil
}

func benchSecAgg(args []string) error {
	fs := newFlags("bench secagg", "bench secagg --participants N --dim D --dropout F [--json]")
	n := fs.Int("participants", 100, "participants in the round")
	dim := fs.Int("dim", 100000, "parameters per participant")
	drop := fs.Float64("dropout", 0.3, "fraction of participants that drop (at most 0.3, the protocol's δ)")
	skip := fs.Bool("protocol-only", false, "measure the protocol's costs only, not the loopback rounds")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 3 {
		return errors.New("bench secagg: --participants must be at least 3")
	}
	ctx, stop := signalContext()
	defer stop()
	r, err := federation.BenchSecAgg(ctx, federation.SecAggBenchConfig{Participants: *n, Dim: *dim, Dropout: *drop, SkipRounds: *skip})
	if err != nil {
		return err
	}
	return printJSONOrTable(*asJSON, r, [][2]string{
		{"participants x dim", fmt.Sprintf("%d x %d, %.0f%% dropout", r.Participants, r.Dim, 100*r.Dropout)},
		{"graph (k/t)", fmt.Sprintf("%s (%d/%d)", r.Graph, r.Degree, r.Threshold)},
		{"plain_round_s", fmt.Sprintf("%.3f", r.PlainRoundS)},
		{"secure_round_s", fmt.Sprintf("%.3f", r.SecureRoundS)},
		{"overhead_ratio", fmt.Sprintf("%.2f (all parties share this machine's cores)", r.OverheadRatio)},
		{"client_ms", fmt.Sprintf("%.1f", r.ClientMs)},
		{"server_ms (all phases)", fmt.Sprintf("%.1f", r.ServerMs)},
		{"server_unmask_ms", fmt.Sprintf("%.1f (worst case, all drop after sharing: %.1f)", r.ServerUnmaskMs, r.ServerUnmaskWorstMs)},
		{"rtt_ms", fmt.Sprintf("%.2f", r.RTTMs)},
		{"overhead_per_round_ms", fmt.Sprintf("%.1f", r.OverheadPerRoundMs)},
		{"bytes_per_client", fmt.Sprintf("%d (plain: %d)", r.BytesPerClient, r.PlainBytesPerClient)},
	})
}

func benchPSI(args []string) error {
	fs := newFlags("bench psi", "bench psi --ids N [--protocol oprf|ecdh] [--json]")
	n := fs.Int("ids", 1000000, "ids on each side; half of them are shared")
	protoName := fs.String("protocol", "oprf", "oprf (OT-extension OPRF) or ecdh (X25519 Diffie-Hellman)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := fs.Parse(args); err != nil {
		return err
	}
	proto, err := psi.ParseProtocol(*protoName)
	if err != nil {
		return err
	}
	r, err := psi.Bench(*n, proto)
	if err != nil {
		return err
	}
	return printJSONOrTable(*asJSON, r, [][2]string{
		{"protocol", r.Protocol},
		{"ids", fmt.Sprint(r.IDs)},
		{"intersection", fmt.Sprint(r.Intersection)},
		{"wall_s", fmt.Sprintf("%.2f", r.WallS)},
		{"ids_per_s", fmt.Sprintf("%.0f", r.IDsPerS)},
	})
}

func benchVertical(args []string) error {
	fs := newFlags("bench vertical", "bench vertical --rows N --bank-features A --partner-features B [--json]")
	rows := fs.Int("rows", 100000, "aligned customers")
	bank := fs.Int("bank-features", 30, "features the bank holds")
	partner := fs.Int("partner-features", 300, "features the partner holds")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := fs.Parse(args); err != nil {
		return err
	}
	r, err := vertical.Bench(*rows, *bank, *partner)
	if err != nil {
		return err
	}
	return printJSONOrTable(*asJSON, r, [][2]string{
		{"rows x (bank + partner)", fmt.Sprintf("%d x (%d + %d)", r.Rows, r.BankFeatures, r.PartnerFeatures)},
		{"batch_size", fmt.Sprint(r.BatchSize)},
		{"epoch_s", fmt.Sprintf("%.3f", r.EpochS)},
		{"plain_epoch_s", fmt.Sprintf("%.3f", r.PlainEpochS)},
		{"ratio", fmt.Sprintf("%.2f", r.Ratio)},
	})
}
