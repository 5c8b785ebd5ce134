package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fedscore/fedscore/datasets"
)

func runData(args []string) error {
	return subcommands("data", args, map[string]command{
		"synth":  {"generate seeded synthetic wallet customers (bank and partner views)", dataSynth},
		"import": {"convert a CSV file to Parquet, inferring column types", dataImport},
		"split":  {"split a table among participants, horizontally or vertically", dataSplit},
	})
}

func dataSynth(args []string) error {
	fs := newFlags("data synth", "data synth --out DIR [--customers N] [--seed S]")
	out := fs.String("out", "", "output directory (required)")
	n := fs.Int("customers", 50000, "number of customers")
	seed := fs.Int64("seed", 1, "random seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		fs.Usage()
		return errors.New("data synth: --out is required")
	}
	w, err := datasets.Synthesize(datasets.SynthConfig{Customers: *n, Seed: *seed})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	bank := append(datasets.BankColumns(), datasets.SynthLabel)
	parts, err := datasets.SplitVertical(w.Table, datasets.SynthID, [][]string{bank, datasets.PartnerColumns()})
	if err != nil {
		return err
	}
	truth := &datasets.Table{Columns: []*datasets.Column{
		w.Table.Column(datasets.SynthID),
		{Name: "true_pd", Kind: datasets.Float, Float: w.TruePD},
	}}
	files := map[string]*datasets.Table{"wallet.parquet": w.Table, "bank.parquet": parts[0], "partner.parquet": parts[1], "truth.parquet": truth}
	for name, t := range files {
		if err := datasets.WriteParquet(filepath.Join(*out, name), t); err != nil {
			return err
		}
	}
	fmt.Printf("wrote %d customers to %s: wallet.parquet (all columns), bank.parquet, partner.parquet, truth.parquet\n", *n, *out)
	return nil
}

func dataImport(args []string) error {
	fs := newFlags("data import", "data import --csv FILE --out FILE.parquet")
	in := fs.String("csv", "", "input CSV with a header row (required)")
	out := fs.String("out", "", "output Parquet file (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *in == "" || *out == "" {
		fs.Usage()
		return errors.New("data import: --csv and --out are required")
	}
	t, err := datasets.ImportCSV(*in, *out)
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s: %d rows\n", *out, t.Rows())
	for _, c := range t.Columns {
		fmt.Printf("  %-28s %-7s nulls %d\n", c.Name, c.Kind, c.NullCount())
	}
	return nil
}

func dataSplit(args []string) error {
	fs := newFlags("data split", "data split --in FILE --out DIR (--participants N [--by iid|COLUMN] --label COL | --vertical 'A,B;C,D' --id COL)")
	in := fs.String("in", "", "input table, .parquet or .csv (required)")
	out := fs.String("out", "", "output directory (required)")
	n := fs.Int("participants", 0, "horizontal split: number of participants")
	by := fs.String("by", "iid", "horizontal split: iid (seeded, stratified on the label) or a column whose values decide the part")
	label := fs.String("label", "", "label column, for stratification")
	seed := fs.Int64("seed", 1, "random seed")
	holdout := fs.Float64("holdout", 0, "fraction held out first as test.parquet (stratified)")
	vertical := fs.String("vertical", "", "vertical split: column lists separated by ';' (the id column is kept in every part)")
	id := fs.String("id", "", "id column (vertical split)")
	prefix := fs.String("prefix", "part", "output file name prefix")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *in == "" || *out == "" {
		fs.Usage()
		return errors.New("data split: --in and --out are required")
	}
	t, err := datasets.ReadTable(*in)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	var parts []*datasets.Table
	switch {
	case *vertical != "":
		if *id == "" {
			return errors.New("data split: --vertical needs --id")
		}
		var cols [][]string
		for _, group := range strings.Split(*vertical, ";") {
			cols = append(cols, splitList(group))
		}
		parts, err = datasets.SplitVertical(t, *id, cols)
	case *n > 0:
		if *label == "" {
			return errors.New("data split: a horizontal split needs --label")
		}
		if *holdout > 0 {
			var test *datasets.Table
			t, test, err = datasets.StratifiedHoldout(t, *label, *holdout, *seed)
			if err != nil {
				return err
			}
			if err := datasets.WriteParquet(filepath.Join(*out, "test.parquet"), test); err != nil {
				return err
			}
			fmt.Printf("  %-24s %8d rows\n", "test.parquet", test.Rows())
		}
		parts, err = datasets.SplitHorizontal(t, *n, *by, *label, *seed)
	default:
		return errors.New("data split: give --participants N or --vertical")
	}
	if err != nil {
		return err
	}
	for i, p := range parts {
		name := fmt.Sprintf("%s-%d.parquet", *prefix, i+1)
		if err := datasets.WriteParquet(filepath.Join(*out, name), p); err != nil {
			return err
		}
		fmt.Printf("  %-24s %8d rows  %d columns\n", name, p.Rows(), len(p.Columns))
	}
	return nil
}
