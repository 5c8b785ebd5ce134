package federation

import (
	"context"
	"math"
	"sync"
	"testing"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/datasets"
	"github.com/fedscore/fedscore/secure/secagg"
	"google.golang.org/grpc"
)

// wiretap records every message participants send to the coordinator, as
// the coordinator's gRPC server receives it.
type wiretap struct {
	mu   sync.Mutex
	msgs []*fedscorepb.ParticipantMessage
}

type tappedStream struct {
	grpc.ServerStream
	tap *wiretap
}

func (s tappedStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if pm, ok := m.(*fedscorepb.ParticipantMessage); ok && err == nil {
		s.tap.mu.Lock()
		s.tap.msgs = append(s.tap.msgs, pm)
		s.tap.mu.Unlock()
	}
	return err
}

func (w *wiretap) option() grpc.ServerOption {
	return grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		return handler(srv, tappedStream{ServerStream: ss, tap: w})
	})
}

func (w *wiretap) results() []*fedscorepb.TaskResult {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []*fedscorepb.TaskResult
	for _, m := range w.msgs {
		if r := m.GetResult(); r != nil {
			out = append(out, r)
		}
	}
	return out
}

func runTapped(t *testing.T, plain bool) (*Result, *wiretap) {
	t.Helper()
	tap := &wiretap{}
	res, err := Experiment{
		Table: synthetic(t, 12000, 11), Source: "synthetic", Label: datasets.SynthLabel, ID: datasets.SynthID,
		Split: "iid", Participants: 4, Holdout: 0.2, Seed: 11,
		Spec:          &fedscorepb.JobSpec{Rounds: 4, PlainAggregation: plain},
		ServerOptions: []grpc.ServerOption{tap.option()},
	}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return res, tap
}

// What the coordinator can and cannot learn. With secure aggregation (the
// default) nothing a participant sends carries its contribution in clear:
// the only vectors are masked, and their words look uniform. With plain
// aggregation, the same tap sees every contribution, which shows the tap
// would catch a leak. Both runs reach the same model quality.
func TestCoordinatorSeesOnlyMaskedContributions(t *testing.T) {
	secure, tap := runTapped(t, false)
	results := tap.results()
	if len(results) == 0 {
		t.Fatal("tap saw nothing")
	}
	var masked, words, small int
	for _, r := range results {
		if len(r.GetContribution()) != 0 {
			t.Fatalf("secure job: %s result carries a clear contribution of %d values", r.GetKind(), len(r.GetContribution()))
		}
		if r.GetSecaggStep() == fedscorepb.SecAggStep_SEC_AGG_STEP_NONE || (len(r.GetSecagg()) == 0 && r.GetError() == "") {
			t.Fatalf("secure job: result %v is not a protocol message", r)
		}
		if r.GetSecaggStep() != fedscorepb.SecAggStep_SEC_AGG_STEP_MASK {
			continue
		}
		msg, err := secagg.Unmarshal(r.GetSecagg())
		if err != nil {
			t.Fatal(err)
		}
		mi, ok := msg.(*secagg.MaskedInput)
		if !ok {
			t.Fatalf("mask step carried %T", msg)
		}
		masked++
		for _, v := range mi.Vectors {
			for _, w := range v {
				words++
				// Counts and fixed-point reals are small numbers in clear; a
				// uniform 64-bit word is below 2^40 with probability 2^-24.
				if w < 1<<40 || w > math.MaxUint64-1<<40 {
					small++
				}
			}
		}
	}
	if masked == 0 || words == 0 {
		t.Fatal("no masked input seen")
	}
	if small > words/100000+3 {
		t.Fatalf("%d of %d masked words look like clear values", small, words)
	}
	t.Logf("secure: %d masked inputs, %d words, %d small", masked, words, small)

	plain, ptap := runTapped(t, true)
	clear := 0
	for _, r := range ptap.results() {
		if len(r.GetContribution()) > 0 {
			clear++
		}
	}
	if clear == 0 {
		t.Fatal("plain job: the tap saw no contributions, so it cannot tell secure from plain")
	}
	if d := math.Abs(secure.Federated.AUC - plain.Federated.AUC); d > 0.001 {
		t.Fatalf("secure AUC %.5f vs plain %.5f differ by %.5f > 0.001", secure.Federated.AUC, plain.Federated.AUC, d)
	}
	t.Logf("AUC secure %.5f plain %.5f", secure.Federated.AUC, plain.Federated.AUC)
}
