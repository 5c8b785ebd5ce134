package federation

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/fedscore/fedscore/models/eval"
	"github.com/fedscore/fedscore/participant"
	"github.com/fedscore/fedscore/secure/pki"
	"github.com/fedscore/fedscore/secure/vertical"
)

// The bank, a partner and a helper (its own identity) train one model
// through the coordinator's relay; the model scores as well as the same
// protocol run in one process, and the bank scores with the partner's
// partial scores.
func TestVerticalThroughTheCoordinator(t *testing.T) {
	const rows, db, dp = 30000, 4, 6
	rng := rand.New(rand.NewPCG(4, 4))
	xb := vertical.Matrix{Rows: rows, Cols: db, Data: make([]float64, rows*db)}
	xp := vertical.Matrix{Rows: rows, Cols: dp, Data: make([]float64, rows*dp)}
	y := make([]float64, rows)
	for i := range rows {
		z := -1.0
		for j := range db {
			v := rng.NormFloat64()
			xb.Data[i*db+j] = v
			z += 0.5 * v
		}
		for j := range dp {
			v := rng.NormFloat64()
			xp.Data[i*dp+j] = v
			z += 0.3 * v * float64(j%2*2-1)
		}
		if rng.Float64() < 1/(1+math.Exp(-z)) {
			y[i] = 1
		}
	}
	params := vertical.Params{Job: "vertical-1", Rows: rows, BankFeatures: db, PartnerFeatures: dp, Epochs: 40}

	fed, err := Start(Options{Participants: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	defer fed.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := func(role vertical.Role) participant.VerticalConfig {
		c := participant.VerticalConfig{Session: "vertical-1", Role: role, Bank: "bank", Partner: "partner-1", Helper: "helper", Params: params}
		switch role {
		case vertical.RoleBank:
			c.X, c.Labels = xb, y
		case vertical.RolePartner:
			c.X = xp
		}
		return c
	}
	ids := map[vertical.Role]pki.Identity{
		vertical.RoleBank:    {Name: "bank", Role: pki.Participant},
		vertical.RolePartner: {Name: "partner-1", Role: pki.Participant},
		vertical.RoleHelper:  {Name: "helper", Role: pki.Helper},
	}
	results := map[vertical.Role]participant.VerticalResult{}
	errs := map[vertical.Role]error{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for role, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := fed.DialAs(id)
			if err == nil {
				defer conn.Close()
				var r participant.VerticalResult
				r, err = participant.RunVertical(ctx, conn, cfg(role))
				mu.Lock()
				results[role] = r
				mu.Unlock()
			}
			mu.Lock()
			errs[role] = err
			mu.Unlock()
		}()
	}
	wg.Wait()
	for role, err := range errs {
		if err != nil {
			t.Fatalf("%v: %v", role, err)
		}
	}
	bank, partner := results[vertical.RoleBank].Bank, results[vertical.RolePartner].Partner
	if bank == nil || partner == nil || results[vertical.RoleHelper].Iterations != params.Iterations() {
		t.Fatalf("results %+v", results)
	}
	ps, err := partner.PartialScores(xp)
	if err != nil {
		t.Fatal(err)
	}
	pd, err := bank.PD(xb, ps)
	if err != nil {
		t.Fatal(err)
	}
	auc, err := eval.AUC(pd, y)
	if err != nil {
		t.Fatal(err)
	}
	local, err := vertical.RunLocal(vertical.LocalConfig{Params: params, Bank: xb, Labels: y, Partner: xp})
	if err != nil {
		t.Fatal(err)
	}
	lps, _ := local.Partner.PartialScores(xp)
	lpd, _ := local.Bank.PD(xb, lps)
	lauc, _ := eval.AUC(lpd, y)
	t.Logf("vertical through the coordinator AUC %.4f, in process %.4f, %d iterations", auc, lauc, params.Iterations())
	if math.Abs(auc-lauc) > 0.005 || auc < 0.65 {
		t.Fatalf("AUC %.4f vs in-process %.4f", auc, lauc)
	}
}
