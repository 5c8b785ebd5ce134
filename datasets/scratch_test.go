package datasets

import "testing"

func TestScratchSynth(t *testing.T) {
	for seed := int64(1); seed < 4; seed++ {
	w, err := Synthesize(SynthConfig{Customers: 40000, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	y := w.Table.Column(SynthLabel).Float
	rate := 0.0
	for _, v := range y {
		rate += v
	}
	t.Logf("base rate %.4f  AUC(TruePD) %.4f", rate/float64(len(y)), auc(w.TruePD, y))
	train, test, err := StratifiedHoldout(w.Table, SynthLabel, 0.3, 1)
	if err != nil {
		t.Fatal(err)
	}
	var bankNum []string
	for _, c := range BankColumns() {
		if c != "employment" {
			bankNum = append(bankNum, c)
		}
	}
	for _, fs := range [][]string{nil, bankNum, PartnerColumns()} {
		s := Schema{ID: SynthID, Label: SynthLabel, Features: fs}
		ftr, err := s.Frame(train, "train")
		if err != nil {
			t.Fatal(err)
		}
		fte, err := s.Frame(test, "test")
		if err != nil {
			t.Fatal(err)
		}
		m := fitLogistic(t, ftr.X, ftr.Y)
		t.Logf("%v: AUC %.4f", fs, auc(m.scores(fte.X), fte.Y))
	}
	}
	for _, name := range []string{} {
		w, _ := Synthesize(SynthConfig{Customers: 10})
		c := w.Table.Column(name)
		if c.Kind == String {
			t.Logf("%-26s %v", name, c.String[:5])
			continue
		}
		lo, hi, sum := c.Float[0], c.Float[0], 0.0
		for _, v := range c.Float {
			lo, hi, sum = min(lo, v), max(hi, v), sum+v
		}
		t.Logf("%-26s %-6v min %10.3f mean %10.3f max %10.3f  %v", name, c.Kind, lo, sum/float64(len(c.Float)), hi, c.Float[:6])
	}
}
