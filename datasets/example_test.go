package datasets_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/fedscore/fedscore/datasets"
)

func ExampleSchema_Frame() {
	const data = "id,income,segment,default\n" +
		"A1,52000,retail,0\n" +
		"A2,31000,retail,1\n" +
		"A3,75000,private,0\n"
	t, err := datasets.ReadCSVFrom(strings.NewReader(data), "bank.csv")
	if err != nil {
		panic(err)
	}
	s := datasets.Schema{ID: "id", Label: "default"} // features: every numeric column
	fr, err := s.Frame(t, "bank.csv")
	if err != nil {
		panic(err)
	}
	fmt.Println(fr.IDs, fr.Features, fr.Y)

	t.Column("default").Float[1] = 2
	_, err = s.Frame(t, "bank.csv")
	fmt.Println(err)
	fmt.Println(errors.Is(err, datasets.ErrLabelValue))
	// Output:
	// [A1 A2 A3] [income] [0 1 0]
	// datasets: file bank.csv: column "default": label has 1 values other than 0 and 1, the first 2 in row 1
	// true
}

func ExampleSynthesize() {
	w, err := datasets.Synthesize(datasets.SynthConfig{Customers: 100_000, Seed: 1})
	if err != nil {
		panic(err)
	}
	parts, err := datasets.SplitVertical(w.Table, datasets.SynthID, [][]string{
		append(datasets.BankColumns(), datasets.SynthLabel), // the bank holds the label
		datasets.PartnerColumns(),
	})
	if err != nil {
		panic(err)
	}
	defaults := 0.0
	for _, y := range w.Table.Column(datasets.SynthLabel).Float {
		defaults += y
	}
	fmt.Println(w.Table.Column(datasets.SynthID).String[42])
	fmt.Println(parts[0].Names())
	fmt.Println(parts[1].Names())
	fmt.Printf("default rate %.1f%%\n", 100*defaults/float64(w.Table.Rows()))
	// Output:
	// C00000042
	// [customer_id age income tenure_months credit_limit utilization delinquencies_12m num_products employment default]
	// [customer_id monthly_spend orders_per_month return_rate payroll_regular utility_late_payments days_since_last_purchase]
	// default rate 10.3%
}
