package vertical

import (
	"fmt"
	"time"
)

// BenchResult is what Bench measured. Times are the fastest of the
// measured epochs, vertical and plaintext epochs interleaved so that both
// see the same machine load.
type BenchResult struct {
	Rows            int     `json:"rows"`
	BankFeatures    int     `json:"bank_features"`
	PartnerFeatures int     `json:"partner_features"`
	BatchSize       int     `json:"batch_size"`  // the job's minimum batch
	RoundTrips      int     `json:"round_trips"` // per epoch: one per batch
	EpochS          float64 `json:"epoch_s"`     // one vertical epoch, all three parties
	PlainEpochS     float64 `json:"plain_epoch_s"`
	Ratio           float64 `json:"ratio"`
	// SetupS is the one-time setup: standardising, key agreement, the
	// helper expanding A and A', and sending E and E'. SetupBytes and
	// EpochBytes are the encoded messages.
	SetupS     float64 `json:"setup_s"`
	SetupBytes int64   `json:"setup_bytes"`
	EpochBytes int64   `json:"epoch_bytes"`
}

// benchEpochs is the number of epochs timed on each side.
const benchEpochs = 5

// Bench trains a seeded synthetic problem of rows × (bankFeatures +
// partnerFeatures) vertically, all three parties in this process with
// every core, and the same model on the joined table in plaintext with the
// same batches, and times one epoch of each. The vertical epoch counts
// everything the three parties do per epoch, including the helper's
// dealing and the bank's E_Sᵀb, and the encoding of every message.
func Bench(rows, bankFeatures, partnerFeatures int) (BenchResult, error) {
	if rows < 1 || bankFeatures < 0 || partnerFeatures < 1 {
		return BenchResult{}, fmt.Errorf("%w: bench shape %d × (%d + %d)", ErrParams, rows, bankFeatures, partnerFeatures)
	}
	data := NewSynthetic(rows, bankFeatures, partnerFeatures, 1)
	params := Params{Job: "bench-vertical", Rows: rows, BankFeatures: bankFeatures, PartnerFeatures: partnerFeatures,
		Epochs: benchEpochs}
	start := time.Now()
	l, err := newLocal(&LocalConfig{Params: params, Bank: data.Bank, Labels: data.Labels, Partner: data.Partner})
	if err != nil {
		return BenchResult{}, err
	}
	if err := l.setup(); err != nil {
		return BenchResult{}, err
	}
	res := BenchResult{Rows: rows, BankFeatures: bankFeatures, PartnerFeatures: partnerFeatures,
		BatchSize: l.b.p.BatchSize, RoundTrips: l.b.p.batches(), SetupS: time.Since(start).Seconds(), SetupBytes: l.bytes}
	plain, err := newPlainTrainer(&PlainConfig{Params: params, Bank: data.Bank, Labels: data.Labels, Partner: data.Partner,
		BankInit: l.init})
	if err != nil {
		return BenchResult{}, err
	}
	for e := range benchEpochs {
		before := l.bytes
		t0 := time.Now()
		for range l.b.p.batches() {
			if err := l.iteration(); err != nil {
				return BenchResult{}, err
			}
		}
		v := time.Since(t0).Seconds()
		res.EpochBytes = l.bytes - before
		t0 = time.Now()
		plain.epoch()
		p := time.Since(t0).Seconds()
		if e == 0 || v < res.EpochS {
			res.EpochS = v
		}
		if e == 0 || p < res.PlainEpochS {
			res.PlainEpochS = p
		}
	}
	res.Ratio = res.EpochS / res.PlainEpochS
	return res, nil
}
