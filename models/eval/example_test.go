package eval_test

import (
	"fmt"

	"github.com/fedscore/fedscore/models/eval"
)

func ExampleAUC() {
	// Four applicants; two defaulted (label 1). The tie at 0.4 between a
	// defaulter and a non-defaulter counts half.
	scores := []float64{0.1, 0.4, 0.4, 0.8}
	labels := []float64{0, 1, 0, 1}
	auc, err := eval.AUC(scores, labels)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("AUC = %.3f\n", auc)

	_, err = eval.AUC(scores, []float64{1, 1, 1, 1})
	fmt.Println(err)
	// Output:
	// AUC = 0.875
	// eval: need both positive and negative labels
}
