package federation

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/fedscore/fedscore/api/fedscoregrpc"
	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/coordinator/program"
	"github.com/fedscore/fedscore/datasets"
	"github.com/fedscore/fedscore/secure/pki"
	"github.com/fedscore/fedscore/secure/secagg"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// SecAggBenchConfig is one fedscore bench secagg run.
type SecAggBenchConfig struct {
	Participants int
	Dim          int
	Dropout      float64 // fraction of participants that drop
	// SkipRounds skips the loopback rounds (plain and secure over gRPC) and
	// measures only the protocol's own costs.
	SkipRounds bool
}

// SecAggBenchResult is what fedscore bench secagg prints.
type SecAggBenchResult struct {
	Participants int     `json:"participants"`
	Dim          int     `json:"dim"`
	Dropout      float64 `json:"dropout"`
	Graph        string  `json:"graph"`
	Degree       int     `json:"degree"`
	Threshold    int     `json:"threshold"`

	PlainRoundS   float64 `json:"plain_round_s"`
	SecureRoundS  float64 `json:"secure_round_s"`
	OverheadRatio float64 `json:"overhead_ratio"`

	ClientMs            float64 `json:"client_ms"`
	ServerMs            float64 `json:"server_ms"`
	ServerUnmaskMs      float64 `json:"server_unmask_ms"`
	ServerUnmaskWorstMs float64 `json:"server_unmask_worst_ms"`
	RTTMs               float64 `json:"rtt_ms"`
	OverheadPerRoundMs  float64 `json:"overhead_per_round_ms"`
	BytesPerClient      int     `json:"bytes_per_client"`
	// CPUTime says the protocol figures are thread CPU time, not wall time.
	CPUTime             bool `json:"cpu_time"`
	PlainBytesPerClient int  `json:"plain_bytes_per_client"`
}

// BenchSecAgg measures secure aggregation two ways. The protocol's costs
// (one participant's CPU, the coordinator's, bytes) come from the
// protocol run in memory, where each party's work can be timed alone. The
// rounds come from real federations over loopback gRPC, every participant
// in this process, one round plain and one secure, with the same dropouts.
//
// Dropouts are spread over the protocol: a third of them before keys are
// advertised, a third before shares are sent, a third before masked inputs
// (the coordinator must then rebuild their pair masks). The worst case for
// the coordinator, all of them dropping after sharing, is reported too.
func BenchSecAgg(ctx context.Context, c SecAggBenchConfig) (*SecAggBenchResult, error) {
	if c.Participants < 3 || c.Dim < 1 || c.Dropout < 0 || c.Dropout >= 0.3+1e-9 {
		return nil, fmt.Errorf("federation: bench secagg needs >= 3 participants, dim >= 1 and dropout in [0, 0.3]")
	}
	res := &SecAggBenchResult{Participants: c.Participants, Dim: c.Dim, Dropout: c.Dropout}
	ids := make([]string, c.Participants)
	for i := range ids {
		ids[i] = fmt.Sprintf("p%04d", i+1)
	}
	params := secagg.Params{Job: "bench", Round: 1, Participants: ids, VectorLens: []int{c.Dim}, Workers: 0}
	plan, err := params.Plan()
	if err != nil {
		return nil, err
	}
	res.Graph, res.Degree, res.Threshold = plan.Graph.String(), plan.Degree, plan.Threshold

	dropped := int(math.Round(c.Dropout * float64(c.Participants)))
	spread := secagg.Dropouts{}
	late := secagg.Dropouts{}
	for i := range dropped {
		u := uint32(c.Participants - 1 - i)
		ph := []secagg.Phase{secagg.PhaseAdvertiseKeys, secagg.PhaseShareKeys, secagg.PhaseMaskedInput}[i%3]
		spread[ph] = append(spread[ph], u)
		late[secagg.PhaseMaskedInput] = append(late[secagg.PhaseMaskedInput], u)
	}
	inputs := make([][][]uint64, c.Participants)
	for i := range inputs {
		v := make([]uint64, c.Dim)
		var seed [16]byte
		rand.Read(seed[:])
		rng := mrand.New(mrand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:])))
		for j := range v {
			v[j] = rng.Uint64()
		}
		inputs[i] = [][]uint64{v}
	}
	run := func(drop secagg.Dropouts) (*secagg.LocalResult, error) {
		// Every party runs in turn on this one thread, timed by the CPU
		// it uses, as it would be on a machine of its own.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		clock, cpu := threadClock()
		res.CPUTime = cpu
		p := params
		p.Workers = 0
		return secagg.RunLocal(secagg.LocalConfig{Params: p, Inputs: inputs, Drop: drop, Clock: clock})
	}
	lr, err := run(spread)
	if err != nil {
		return nil, err
	}
	var clientTimes []float64
	var bytes []int
	for _, u := range lr.Survivors {
		clientTimes = append(clientTimes, ms(lr.Stats.ClientTime[u]))
		bytes = append(bytes, lr.Stats.BytesUp[u]+lr.Stats.BytesDown[u])
	}
	res.ClientMs = median(clientTimes)
	slices.Sort(bytes)
	res.BytesPerClient = bytes[len(bytes)/2]
	res.PlainBytesPerClient = 8 * c.Dim
	for _, d := range lr.Stats.ServerTime {
		res.ServerMs += ms(d)
	}
	res.ServerUnmaskMs = ms(lr.Stats.ServerUnmask)
	if dropped > 0 {
		worst, err := run(late)
		if err != nil {
			return nil, err
		}
		res.ServerUnmaskWorstMs = ms(worst.Stats.ServerUnmask)
	} else {
		res.ServerUnmaskWorstMs = res.ServerUnmaskMs
	}
	if c.SkipRounds {
		res.OverheadPerRoundMs = res.ClientMs + res.ServerMs
		return res, nil
	}

	plain, rtt, err := benchRound(ctx, ids, c.Dim, dropped, true)
	if err != nil {
		return nil, fmt.Errorf("plain round: %w", err)
	}
	secure, _, err := benchRound(ctx, ids, c.Dim, dropped, false)
	if err != nil {
		return nil, fmt.Errorf("secure round: %w", err)
	}
	res.PlainRoundS, res.SecureRoundS, res.RTTMs = plain.Seconds(), secure.Seconds(), ms(rtt)
	res.OverheadRatio = res.SecureRoundS / res.PlainRoundS
	// What a deployment with a machine per participant adds to each round:
	// one participant's protocol work, the coordinator's, and three more
	// round trips than a plain round.
	res.OverheadPerRoundMs = res.ClientMs + res.ServerMs + 3*res.RTTMs
	return res, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// benchRound times one bench-sum round over loopback gRPC with every
// participant in this process; the last `dropped` participants crash when
// asked for their (masked) contribution.
func benchRound(ctx context.Context, ids []string, dim, dropped int, plain bool) (time.Duration, time.Duration, error) {
	dir, err := os.MkdirTemp("", "fedscore-bench-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	data := filepath.Join(dir, "empty.parquet")
	if err := datasets.WriteParquet(data, &datasets.Table{Columns: []*datasets.Column{{Name: "x", Kind: datasets.Float, Float: []float64{0}}}}); err != nil {
		return 0, 0, err
	}
	files := map[string]string{}
	for _, id := range ids {
		files[id] = data
	}
	doomed := map[string]bool{}
	for _, id := range ids[len(ids)-dropped:] {
		doomed[id] = true
	}
	var (
		fed  *Federation
		mu   sync.Mutex
		dead = map[string]bool{}
	)
	crashStep := fedscorepb.SecAggStep_SEC_AGG_STEP_MASK
	if plain {
		crashStep = fedscorepb.SecAggStep_SEC_AGG_STEP_NONE
	}
	tap := TaskTap(func(to string, t *fedscorepb.Task) bool {
		if !doomed[to] || t.GetSecaggStep() != crashStep {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		if !dead[to] {
			dead[to] = true
			go fed.StopParticipant(to)
		}
		return true
	})
	fed, err = Start(Options{Participants: files, ServerOptions: []grpc.ServerOption{tap}})
	if err != nil {
		return 0, 0, err
	}
	defer fed.Close()
	// Wait for everyone to connect, so the round times only the round.
	admin, err := fed.DialAs(pki.Identity{Name: "ops", Role: pki.Admin})
	if err != nil {
		return 0, 0, err
	}
	defer admin.Close()
	for {
		res, err := fedscoregrpc.NewAdminClient(admin).ListParticipants(ctx, &fedscorepb.ListParticipantsRequest{})
		if err != nil {
			return 0, 0, err
		}
		if len(res.GetParticipants()) == len(ids) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	var rtts []float64
	hc := healthpb.NewHealthClient(admin)
	for range 20 {
		t0 := time.Now()
		if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			return 0, 0, err
		}
		rtts = append(rtts, float64(time.Since(t0)))
	}
	spec := &fedscorepb.JobSpec{Model: program.ModelBenchSum, BenchDim: uint32(dim), Participants: ids,
		MinParticipants: uint32(len(ids) - dropped), PlainAggregation: plain, PhaseTimeoutMs: 600000, MaxAttempts: 1}
	start := time.Now()
	job, err := fed.Run(ctx, spec, nil)
	took := time.Since(start)
	if err != nil {
		return 0, 0, err
	}
	if job.GetState() != fedscorepb.JobState_JOB_STATE_SUCCEEDED {
		return 0, 0, fmt.Errorf("bench job %s: %s", job.GetState(), job.GetError())
	}
	return took, time.Duration(median(rtts)), nil
}

// TaskTap lets a caller see, and swallow, every task the coordinator sends.
func TaskTap(onTask func(to string, t *fedscorepb.Task) (drop bool)) grpc.ServerOption {
	return grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		return handler(srv, &tappedTasks{ServerStream: ss, onTask: onTask})
	})
}

type tappedTasks struct {
	grpc.ServerStream
	onTask func(string, *fedscorepb.Task) bool
	id     string
}

func (s *tappedTasks) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if pm, ok := m.(*fedscorepb.ParticipantMessage); ok && err == nil && pm.GetHello() != nil {
		s.id = pm.GetHello().GetParticipantId()
	}
	return err
}

func (s *tappedTasks) SendMsg(m any) error {
	if cm, ok := m.(*fedscorepb.CoordinatorMessage); ok && cm.GetTask() != nil && s.onTask(s.id, cm.GetTask()) {
		return nil
	}
	return s.ServerStream.SendMsg(m)
}
