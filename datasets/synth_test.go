package datasets

import (
	"math"
	"slices"
	"testing"
)

func TestSynthesizeShape(t *testing.T) {
	w, err := Synthesize(SynthConfig{Customers: 2000, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	tab := w.Table
	if err := tab.Validate(); err != nil {
		t.Fatal(err)
	}
	want := append(append(append([]string{SynthID}, BankColumns()...), PartnerColumns()...), SynthLabel)
	if !slices.Equal(tab.Names(), want) {
		t.Fatalf("columns %v, want %v", tab.Names(), want)
	}
	if tab.Rows() != 2000 || len(w.TruePD) != 2000 {
		t.Fatalf("%d rows and %d PDs, want 2000", tab.Rows(), len(w.TruePD))
	}
	ids := tab.Column(SynthID).String
	if ids[0] != "C00000000" || ids[42] != "C00000042" || ids[1999] != "C00001999" {
		t.Errorf("ids %q %q %q, want C00000000 C00000042 C00001999", ids[0], ids[42], ids[1999])
	}
	kinds := map[string]Kind{
		SynthID: String, "employment": String, SynthLabel: Int, "payroll_regular": Bool,
		"income": Float, "utilization": Float, "monthly_spend": Float, "return_rate": Float,
	}
	ranges := map[string][2]float64{
		"age": {18, 80}, "utilization": {0, 1.2}, "return_rate": {0, 1}, "num_products": {1, 6},
		"delinquencies_12m": {0, 12}, "utility_late_payments": {0, 12}, "days_since_last_purchase": {0, 365},
		"income": {1, math.Inf(1)}, "credit_limit": {500, math.Inf(1)}, "monthly_spend": {0, math.Inf(1)},
		"tenure_months": {0, 62 * 12}, "orders_per_month": {0, 60}, SynthLabel: {0, 1}, "payroll_regular": {0, 1},
	}
	for _, c := range tab.Columns {
		k, ok := kinds[c.Name]
		if !ok {
			k = Int
		}
		if c.Kind != k {
			t.Errorf("column %q: kind %v, want %v", c.Name, c.Kind, k)
		}
		if c.NullCount() != 0 {
			t.Errorf("column %q has nulls", c.Name)
		}
		if r, ok := ranges[c.Name]; ok {
			for i, v := range c.Float {
				if !(v >= r[0] && v <= r[1]) {
					t.Errorf("column %q row %d: %v outside [%v, %v]", c.Name, i, v, r[0], r[1])
					break
				}
			}
		}
	}
	emp := map[string]int{}
	for _, e := range tab.Column("employment").String {
		emp[e]++
	}
	for _, e := range []string{"salaried", "self_employed", "student", "retired", "unemployed"} {
		if emp[e] < 50 {
			t.Errorf("employment %q: %d of 2000 customers", e, emp[e])
		}
	}
	if len(emp) != 5 {
		t.Errorf("employment values %v, want 5", emp)
	}
	for i, p := range w.TruePD {
		if !(p > 0 && p < 1) {
			t.Fatalf("TruePD[%d] = %v", i, p)
		}
	}
	if _, err := Synthesize(SynthConfig{Customers: 0}); err == nil {
		t.Error("0 customers: no error")
	}
}

func TestSynthesizeDeterministic(t *testing.T) {
	a, _ := Synthesize(SynthConfig{Customers: 500, Seed: 3})
	b, _ := Synthesize(SynthConfig{Customers: 500, Seed: 3})
	c, _ := Synthesize(SynthConfig{Customers: 500, Seed: 4})
	assertTablesEqual(t, a.Table, b.Table)
	if !slices.Equal(a.TruePD, b.TruePD) {
		t.Error("same seed, different TruePD")
	}
	if slices.Equal(a.TruePD, c.TruePD) || slices.Equal(a.Table.Column("income").Float, c.Table.Column("income").Float) {
		t.Error("different seeds, same data")
	}
	// A prefix of a larger draw is the smaller draw.
	d, _ := Synthesize(SynthConfig{Customers: 800, Seed: 3})
	if !slices.Equal(d.TruePD[:500], a.TruePD) {
		t.Error("the first 500 of 800 customers differ from 500 customers")
	}
}

// TestSynthesizeSignal checks the properties demos rely on: a base default
// rate near 10%, a TruePD that ranks defaulters well, and bank and partner
// columns that each predict default, both together better than either.
func TestSynthesizeSignal(t *testing.T) {
	w, err := Synthesize(SynthConfig{Customers: 30000, Seed: 2024})
	if err != nil {
		t.Fatal(err)
	}
	y := w.Table.Column(SynthLabel).Float
	rate := 0.0
	for _, v := range y {
		rate += v
	}
	rate /= float64(len(y))
	if rate < 0.08 || rate > 0.12 {
		t.Errorf("base rate %.4f, want 0.08..0.12", rate)
	}
	if a := auc(w.TruePD, y); a < 0.75 {
		t.Errorf("AUC of TruePD %.4f, want > 0.75", a)
	}

	train, test, err := StratifiedHoldout(w.Table, SynthLabel, 0.3, 1)
	if err != nil {
		t.Fatal(err)
	}
	var bank []string
	for _, c := range BankColumns() {
		if w.Table.Column(c).Kind != String {
			bank = append(bank, c)
		}
	}
	heldOutAUC := func(features []string) float64 {
		s := Schema{ID: SynthID, Label: SynthLabel, Features: features}
		tr, err := s.Frame(train, "train")
		if err != nil {
			t.Fatal(err)
		}
		te, err := s.Frame(test, "test")
		if err != nil {
			t.Fatal(err)
		}
		return auc(fitLogistic(t, tr.X, tr.Y).scores(te.X), te.Y)
	}
	all := heldOutAUC(nil) // every numeric column
	bankOnly := heldOutAUC(bank)
	partnerOnly := heldOutAUC(PartnerColumns())
	t.Logf("held-out AUC of a logistic model: all %.4f, bank %.4f, partner %.4f", all, bankOnly, partnerOnly)
	if all < 0.75 || all > 0.85 {
		t.Errorf("AUC with all columns %.4f, want 0.75..0.85", all)
	}
	for name, a := range map[string]float64{"bank": bankOnly, "partner": partnerOnly} {
		if a < 0.65 || a > all-0.02 {
			t.Errorf("AUC with %s columns %.4f, want 0.65..%.4f (at least 0.02 below all columns)", name, a, all-0.02)
		}
	}
}
