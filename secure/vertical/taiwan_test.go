package vertical_test

import (
	"encoding/csv"
	"math"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/fedscore/fedscore/models/eval"
	"github.com/fedscore/fedscore/secure/psi"
	"github.com/fedscore/fedscore/secure/vertical"
)

// The Taiwan default data (UCI, 30,000 customers) split vertically as in
// issue 7: the bank holds LIMIT_BAL, PAY_0, PAY_2..PAY_6 and the label; the
// partner SEX, EDUCATION, MARRIAGE, AGE, BILL_AMT1..6 and PAY_AMT1..6; 10%
// of each side's ids are absent from the other. The sides align with the
// real PSI, then train the scorecard vertically: 10 quantile bins per
// feature, WOE from the bins' bad counts (the partner's through the
// vertical bin-count product), and logistic regression on the WOE columns.

var (
	bankCols    = []string{"LIMIT_BAL", "PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6"}
	partnerCols = []string{"SEX", "EDUCATION", "MARRIAGE", "AGE",
		"BILL_AMT1", "BILL_AMT2", "BILL_AMT3", "BILL_AMT4", "BILL_AMT5", "BILL_AMT6",
		"PAY_AMT1", "PAY_AMT2", "PAY_AMT3", "PAY_AMT4", "PAY_AMT5", "PAY_AMT6"}
)

type table struct {
	ids    []string
	cols   map[string][]float64
	labels []float64
}

func readTaiwan(t *testing.T) *table {
	dir := os.Getenv("FEDSCORE_DATASETS")
	if dir == "" {
		t.Skip("FEDSCORE_DATASETS not set")
	}
	f, err := os.Open(filepath.Join(dir, "taiwan_default", "default_of_credit_card_clients.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	head := map[string]int{}
	for i, h := range recs[0] {
		head[h] = i
	}
	tb := &table{cols: map[string][]float64{}}
	for _, r := range recs[1:] {
		tb.ids = append(tb.ids, r[head["ID"]])
		for _, c := range append(slices.Clone(bankCols), partnerCols...) {
			v, err := strconv.ParseFloat(r[head[c]], 64)
			if err != nil {
				t.Fatalf("%s: %v", c, err)
			}
			tb.cols[c] = append(tb.cols[c], v)
		}
		y, _ := strconv.ParseFloat(r[head["default_payment_next_month"]], 64)
		tb.labels = append(tb.labels, y)
	}
	return tb
}

func TestTaiwanVertical(t *testing.T) {
	if testing.Short() {
		t.Skip("Taiwan run skipped in -short")
	}
	tb := readTaiwan(t)
	n := len(tb.ids)
	rng := mrand.New(mrand.NewPCG(7, 7))
	order := rng.Perm(n)
	only := n / 11 // 10% of each side's ids: n/11 of n·10/11
	bankOnly, partnerOnly := order[:only], order[only:2*only]
	inBank, inPartner := make([]bool, n), make([]bool, n)
	for i := range n {
		inBank[i], inPartner[i] = true, true
	}
	for _, i := range bankOnly {
		inPartner[i] = false
	}
	for _, i := range partnerOnly {
		inBank[i] = false
	}
	var bankRows, partnerRows []int
	for i := range n {
		if inBank[i] {
			bankRows = append(bankRows, i)
		}
		if inPartner[i] {
			partnerRows = append(partnerRows, i)
		}
	}
	ids := func(rows []int) []string {
		out := make([]string, len(rows))
		for k, i := range rows {
			out[k] = tb.ids[i]
		}
		return out
	}
	var seed [32]byte
	a, p, err := psi.RunLocal(psi.Config{Job: "taiwan-vertical", Rand: mrand.NewChaCha8(seed)}, ids(bankRows), ids(partnerRows), nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Size != n-2*only {
		t.Fatalf("intersection %d, want %d", a.Size, n-2*only)
	}
	// Aligned customers (file rows), in the agreed order; the first 80%
	// train, the rest test (the agreed order is pseudorandom).
	aligned := make([]int, a.Size)
	for k := range aligned {
		aligned[k] = bankRows[a.Rows[k]]
		if partnerRows[p.Rows[k]] != aligned[k] {
			t.Fatal("PSI order disagrees")
		}
	}
	train, test := aligned[:a.Size*8/10], aligned[a.Size*8/10:]

	// WOE: each side bins its own columns on the training rows. The bank
	// counts bads itself; the partner through the vertical product, whose
	// counts must equal the plaintext ones.
	ytr, yte := pick1(tb.labels, train), pick1(tb.labels, test)
	woeCols := func(cols []string, vertically bool) (trm, tem vertical.Matrix) {
		xtr, xte := tb.matrix(cols, train), tb.matrix(cols, test)
		b, err := vertical.FitBinning(xtr, 10, 2*vertical.MinBinCount)
		if err != nil {
			t.Fatal(err)
		}
		rows, bad, err := b.Counts(xtr, ytr)
		if err != nil {
			t.Fatal(err)
		}
		if vertically {
			assign, err := b.Assign(xtr)
			if err != nil {
				t.Fatal(err)
			}
			vr, vb, err := vertical.BinCountsLocal(vertical.BinParams{Job: "taiwan-bins", Rows: len(train), Bins: b.Total()},
				ytr, b.Bins(), assign, mrand.NewChaCha8(seed), nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(vr, rows) || !slices.Equal(vb, bad) {
				t.Fatal("the vertical bad counts differ from the plaintext ones")
			}
			rows, bad = vr, vb
		}
		if err := b.SetCounts(rows, bad); err != nil {
			t.Fatal(err)
		}
		if trm, err = b.Transform(xtr); err != nil {
			t.Fatal(err)
		}
		if tem, err = b.Transform(xte); err != nil {
			t.Fatal(err)
		}
		return trm, tem
	}
	bankTr, bankTe := woeCols(bankCols, false)
	partnerTr, partnerTe := woeCols(partnerCols, true)

	params := vertical.Params{Job: "taiwan-lr", Rows: len(train), BankFeatures: len(bankCols), PartnerFeatures: len(partnerCols),
		Epochs: 60, LearningRate: 1.5, Momentum: 0.8}
	res, err := vertical.RunLocal(vertical.LocalConfig{Params: params, Bank: bankTr, Labels: ytr, Partner: partnerTr, Rand: mrand.NewChaCha8(seed)})
	if err != nil {
		t.Fatal(err)
	}
	score := func(b *vertical.BankModel, pm *vertical.PartnerModel, xb, xp vertical.Matrix) float64 {
		ps, err := pm.PartialScores(xp)
		if err != nil {
			t.Fatal(err)
		}
		z, err := b.Logits(xb, ps)
		if err != nil {
			t.Fatal(err)
		}
		auc, err := eval.AUC(z, yte)
		if err != nil {
			t.Fatal(err)
		}
		return auc
	}
	vAUC := score(res.Bank, res.Partner, bankTe, partnerTe)
	joined, err := vertical.TrainPlain(vertical.PlainConfig{Params: params, Bank: bankTr, Labels: ytr, Partner: partnerTr, BankInit: res.BankInit})
	if err != nil {
		t.Fatal(err)
	}
	jAUC := score(joined.Bank, joined.Partner, bankTe, partnerTe)
	logistic, err := vertical.TrainPlain(vertical.PlainConfig{Params: params, Bank: bankTr, Labels: ytr, Partner: partnerTr, Sigmoid: true})
	if err != nil {
		t.Fatal(err)
	}
	lAUC := score(logistic.Bank, logistic.Partner, bankTe, partnerTe)
	// Bank only: the partner's columns replaced by one constant column.
	zero := func(rows int) vertical.Matrix {
		return vertical.Matrix{Rows: rows, Cols: 1, Data: make([]float64, rows)}
	}
	bp := params
	bp.PartnerFeatures = 1
	bp.Epochs = 300 // cheap, and fully converged
	bankOnlyModel, err := vertical.TrainPlain(vertical.PlainConfig{Params: bp, Bank: bankTr, Labels: ytr, Partner: zero(len(train)), Sigmoid: true})
	if err != nil {
		t.Fatal(err)
	}
	bAUC := score(bankOnlyModel.Bank, bankOnlyModel.Partner, bankTe, zero(len(test)))
	t.Logf("Taiwan, %d aligned (%d train, %d test), batch %d: test AUC vertical %.4f, joined Taylor %.4f, joined logistic %.4f, bank only %.4f",
		a.Size, len(train), len(test), vertical.MinBatch(len(bankCols)+1, len(partnerCols), 0), vAUC, jAUC, lAUC, bAUC)
	if math.Abs(vAUC-jAUC) > 0.005 || math.Abs(vAUC-lAUC) > 0.005 {
		t.Fatalf("vertical AUC %.4f is not within 0.005 of the joined table's (%.4f Taylor, %.4f logistic)", vAUC, jAUC, lAUC)
	}
	if vAUC < bAUC+0.01 {
		t.Fatalf("vertical AUC %.4f is not 0.01 above the bank-only %.4f", vAUC, bAUC)
	}
}

// matrix returns the named columns of the given rows, row-major.
func (tb *table) matrix(cols []string, rows []int) vertical.Matrix {
	m := vertical.Matrix{Rows: len(rows), Cols: len(cols), Data: make([]float64, len(rows)*len(cols))}
	for j, c := range cols {
		for k, i := range rows {
			m.Data[k*len(cols)+j] = tb.cols[c][i]
		}
	}
	return m
}

func pick1(v []float64, rows []int) []float64 {
	out := make([]float64, len(rows))
	for k, i := range rows {
		out[k] = v[i]
	}
	return out
}
