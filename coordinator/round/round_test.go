package round

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedscore/fedscore/coordinator/strategy"
	"github.com/fedscore/fedscore/features"
	"github.com/fedscore/fedscore/models/eval"
	"gonum.org/v1/gonum/mat"
)

const testBins = 8

func testConfig(eligible []string, min, rounds, attempts int) Config {
	return Config{
		Job: "job-1", Eligible: eligible, MinParticipants: min, Rounds: rounds,
		Layout: Layout{Dim: 2, Bins: testBins}, PhaseTimeout: time.Minute,
		MaxAttempts: attempts, Strategy: strategy.FedAvg{},
	}
}

// contribution builds a valid vector for phase p; k varies the content so
// that sums are checkable.
func contribution(t *testing.T, l Layout, p Phase, k float64) []float64 {
	t.Helper()
	hist := eval.NewScoreHistogram(l.Bins)
	hist.Add(0.9, 1)
	hist.Add(0.2, 0)
	hist.Add(0.6, 0)
	val := Validation{Hist: hist, LossSum: 3 * k, Examples: 3}
	var v []float64
	var err error
	switch p {
	case Stats:
		mo := features.NewMoments(l.Dim)
		mo.AddMatrix(mat.NewDense(2, 2, []float64{k, 1, -k, 3}))
		v, err = l.PackStats(StatsContribution{Moments: mo, Positives: 1})
	case Train:
		// Participant with k·10 examples whose local parameters are all k.
		n := 10 * k
		v, err = l.PackTrain(TrainContribution{
			WeightedParams: []float64{n * k, n * k, n * k}, Weight: n, Examples: n, LossSum: n * 0.5, Validation: val,
		})
	case Eval:
		v, err = l.PackEval(val)
	}
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// op is one line of a script: an event, the error Step must return, and an
// optional check of what the machine asks for afterwards.
type op struct {
	ev      func(t *testing.T, m *Machine) Event
	wantErr error
	check   func(t *testing.T, m *Machine, rd Ready)
}

func join(p string) op {
	return op{ev: func(*testing.T, *Machine) Event { return Join{Participant: p} }}
}

func leave(p string) op {
	return op{ev: func(*testing.T, *Machine) Event { return Leave{Participant: p} }}
}

// answer replies to the current phase with a valid contribution.
func answer(p string, k float64) op {
	return op{ev: func(t *testing.T, m *Machine) Event {
		return Reply{Participant: p, Seq: m.seq, Vector: contribution(t, m.cfg.Layout, m.phase, k)}
	}}
}

// answerSeq replies with a given sequence number, valid for the current phase.
func answerSeq(p string, seq uint64, wantErr error) op {
	return op{ev: func(t *testing.T, m *Machine) Event {
		return Reply{Participant: p, Seq: seq, Vector: contribution(t, m.cfg.Layout, m.phase, 1)}
	}, wantErr: wantErr}
}

func timeout() op {
	return op{ev: func(_ *testing.T, m *Machine) Event { return Timeout{Seq: m.seq} }}
}

func expect(check func(t *testing.T, m *Machine, rd Ready)) op { return op{check: check} }

func wantPhase(p Phase, round int) op {
	return expect(func(t *testing.T, m *Machine, _ Ready) {
		t.Helper()
		if m.phase != p || m.round != round {
			t.Fatalf("phase %s round %d, want %s round %d (err %q)", m.phase, m.round, p, round, m.err)
		}
	})
}

func wantTasksTo(ids ...string) op {
	return expect(func(t *testing.T, _ *Machine, rd Ready) {
		t.Helper()
		var got []string
		for _, task := range rd.Tasks {
			got = append(got, task.To)
		}
		if !slices.Equal(got, ids) {
			t.Fatalf("tasks to %v, want %v", got, ids)
		}
	})
}

func runScript(t *testing.T, cfg Config, script []op) *Machine {
	t.Helper()
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var rd Ready
	for i, o := range script {
		if o.ev != nil {
			before := m.Snapshot()
			err := m.Step(o.ev(t, m))
			if !errors.Is(err, o.wantErr) || (o.wantErr == nil) != (err == nil) {
				t.Fatalf("op %d: Step err = %v, want %v", i, err, o.wantErr)
			}
			if err != nil && o.wantErr != ErrBadContribution {
				// A refused event leaves the durable state as it was.
				if after := m.Snapshot(); after.Seq != before.Seq || after.Phase != before.Phase || len(after.History) != len(before.History) {
					t.Fatalf("op %d: refused event changed state %+v -> %+v", i, before, after)
				}
			}
			rd = m.Ready()
			m.Advance(rd)
		}
		if o.check != nil {
			o.check(t, m, rd)
		}
	}
	return m
}

func TestMachineScripts(t *testing.T) {
	abc := []string{"a", "b", "c"}
	tests := []struct {
		name   string
		cfg    Config
		script []op
	}{
		{
			name: "happy path through stats, two rounds and eval",
			cfg:  testConfig(abc, 2, 2, 1),
			script: []op{
				join("a"), wantPhase(Waiting, 0),
				join("b"), wantPhase(Stats, 0), wantTasksTo("a", "b"),
				join("c"), wantPhase(Stats, 0), // joins the next phase
				answer("a", 1), answer("b", 2), wantPhase(Train, 1), wantTasksTo("a", "b", "c"),
				answer("a", 1), answer("b", 1), answer("c", 4),
				wantPhase(Train, 2),
				expect(func(t *testing.T, m *Machine, _ Ready) {
					// FedAvg: (10·1·1 + 10·1·1 + 40·4)/(10+10+40) = 3.
					for i, p := range m.params {
						if math.Abs(p-3) > 1e-12 {
							t.Fatalf("param %d = %v, want 3", i, p)
						}
					}
				}),
				answer("a", 1), answer("b", 1), answer("c", 1), wantPhase(Eval, 2),
				answer("a", 1), answer("b", 1), answer("c", 1), wantPhase(Succeeded, 2),
				expect(func(t *testing.T, m *Machine, rd Ready) {
					if len(m.history) != 2 || m.history[0].Validation == nil || m.history[1].Validation == nil {
						t.Fatalf("history %+v lacks validation", m.history)
					}
					if !slices.Equal(rd.Ended, abc) {
						t.Fatalf("ended sent to %v", rd.Ended)
					}
				}),
			},
		},
		{
			name: "participant that never answers is dropped at the timeout",
			cfg:  testConfig(abc, 2, 1, 1),
			script: []op{
				join("a"), join("b"), join("c"), // stats starts at quorum, with a and b
				answer("a", 1), answer("b", 1), wantPhase(Train, 1), wantTasksTo("a", "b", "c"),
				answer("a", 1), answer("b", 1), wantPhase(Train, 1),
				timeout(), wantPhase(Eval, 1),
				expect(func(t *testing.T, m *Machine, _ Ready) {
					if got := m.history[0].Dropped; !slices.Equal(got, []string{"c"}) {
						t.Fatalf("dropped %v, want [c]", got)
					}
				}),
			},
		},
		{
			name: "participant that answers twice is refused the second time",
			cfg:  testConfig(abc, 2, 1, 1),
			script: []op{
				join("a"), join("b"), join("c"),
				answer("a", 1),
				{ev: func(t *testing.T, m *Machine) Event {
					return Reply{Participant: "a", Seq: m.seq, Vector: contribution(t, m.cfg.Layout, m.phase, 1)}
				}, wantErr: ErrDuplicate},
				wantPhase(Stats, 0),
			},
		},
		{
			name: "reply for a stale round is refused",
			cfg:  testConfig(abc, 2, 2, 1),
			script: []op{
				join("a"), join("b"),
				answer("a", 1), answer("b", 1), wantPhase(Train, 1), // stats was seq 1
				answerSeq("a", 1, ErrStaleRound),
				answerSeq("a", 99, ErrStaleRound),
				answer("a", 1), answer("b", 1), wantPhase(Train, 2),
			},
		},
		{
			name: "quorum not reached before the timeout: retried, then failed",
			cfg:  testConfig(abc, 3, 1, 2),
			script: []op{
				join("a"), join("b"), join("c"),
				answer("a", 1), answer("b", 1), timeout(),
				wantPhase(Stats, 0), wantTasksTo("a", "b", "c"), // attempt 2
				answer("a", 1), timeout(),
				wantPhase(Failed, 0),
				expect(func(t *testing.T, m *Machine, rd Ready) {
					if !rd.Persist || !errorsContain(m.err, ErrQuorum.Error(), "c: no reply") {
						t.Fatalf("failure not persisted or unexplained: %q", m.err)
					}
				}),
			},
		},
		{
			name: "participant not listed by the job is turned away",
			cfg:  testConfig(abc, 2, 1, 1),
			script: []op{
				{ev: func(*testing.T, *Machine) Event { return Join{Participant: "mallory"} }, wantErr: ErrNotEligible},
				join("a"), wantPhase(Waiting, 0),
			},
		},
		{
			name: "late joiner cannot answer the phase it missed",
			cfg:  testConfig(abc, 2, 1, 1),
			script: []op{
				join("a"), join("b"), join("c"),
				answer("a", 1), answer("b", 1), answer("c", 1), wantPhase(Train, 1),
				leave("c"), join("c"),
				{ev: func(t *testing.T, m *Machine) Event {
					return Reply{Participant: "c", Seq: m.seq, Vector: contribution(t, m.cfg.Layout, m.phase, 1)}
				}, wantErr: ErrDuplicate}, // its disconnect already spent its slot
			},
		},
		{
			name: "malformed contribution counts as a failure",
			cfg:  testConfig(abc, 1, 1, 1),
			script: []op{
				join("a"), answer("a", 1), join("b"), join("c"), wantPhase(Train, 1),
				answer("a", 1), wantPhase(Eval, 1), wantTasksTo("a", "b", "c"),
				{ev: func(_ *testing.T, m *Machine) Event {
					return Reply{Participant: "c", Seq: m.seq, Vector: []float64{1, 2}}
				}, wantErr: ErrBadContribution},
				{ev: func(_ *testing.T, m *Machine) Event {
					v := make([]float64, m.cfg.Layout.Len(Eval))
					v[0] = math.NaN()
					return Reply{Participant: "b", Seq: m.seq, Vector: v}
				}, wantErr: ErrBadContribution},
				answer("a", 1), wantPhase(Succeeded, 1),
				expect(func(t *testing.T, m *Machine, _ Ready) {
					if v := m.history[0].Validation; v == nil || v.Examples != 3 {
						t.Fatalf("validation %+v should count only a's 3 rows", v)
					}
				}),
			},
		},
		{
			name: "participant error and disconnect close the phase without waiting",
			cfg:  testConfig(abc, 1, 2, 1),
			script: []op{
				join("a"), answer("a", 1), join("b"), join("c"), wantPhase(Train, 1),
				answer("a", 1), wantPhase(Train, 2), wantTasksTo("a", "b", "c"),
				{ev: func(_ *testing.T, m *Machine) Event {
					return Reply{Participant: "b", Seq: m.seq, Err: "datasets: column missing"}
				}},
				leave("c"),
				answer("a", 1), wantPhase(Eval, 2), wantTasksTo("a", "b"),
				expect(func(t *testing.T, m *Machine, _ Ready) {
					if got := m.history[1].Dropped; !slices.Equal(got, []string{"b", "c"}) {
						t.Fatalf("dropped %v, want [b c]", got)
					}
				}),
			},
		},
		{
			name: "cancel ends the job and tells connected participants",
			cfg:  testConfig(abc, 2, 3, 1),
			script: []op{
				join("a"), join("b"),
				{ev: func(*testing.T, *Machine) Event { return Cancel{Reason: "user"} }},
				wantPhase(Cancelled, 0),
				expect(func(t *testing.T, _ *Machine, rd Ready) {
					if !slices.Equal(rd.Ended, []string{"a", "b"}) || len(rd.Tasks) != 0 {
						t.Fatalf("ready after cancel: %+v", rd)
					}
				}),
				{ev: func(*testing.T, *Machine) Event { return Cancel{} }, wantErr: ErrFinished},
				answerSeq("a", 1, ErrFinished),
			},
		},
		{
			name: "stale timer is ignored",
			cfg:  testConfig(abc, 2, 2, 1),
			script: []op{
				join("a"), join("b"),
				answer("a", 1), answer("b", 1), wantPhase(Train, 1),
				{ev: func(*testing.T, *Machine) Event { return Timeout{Seq: 1} }},
				wantPhase(Train, 1),
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runScript(t, tc.cfg, tc.script) })
	}
}

func errorsContain(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

func TestMalformedAloneBelowQuorumFails(t *testing.T) {
	m := runScript(t, testConfig([]string{"a", "b"}, 2, 1, 1), []op{
		join("a"), join("b"),
		{ev: func(_ *testing.T, m *Machine) Event { return Reply{Participant: "b", Seq: m.seq, Vector: []float64{1}} }, wantErr: ErrBadContribution},
		answer("a", 1),
	})
	if m.phase != Failed {
		t.Fatalf("phase %s, want failed", m.phase)
	}
}

func TestRestoreRetriesInterruptedPhase(t *testing.T) {
	cfg := testConfig([]string{"a", "b"}, 2, 3, 1)
	m := runScript(t, cfg, []op{
		join("a"), join("b"),
		answer("a", 1), answer("b", 1),
		answer("a", 1), answer("b", 1), wantPhase(Train, 2),
		answer("a", 1), // crash before b answers
	})
	snap := m.Snapshot()
	r, err := Restore(cfg, snap)
	if err != nil {
		t.Fatal(err)
	}
	if r.phase != Waiting || r.resume != Train || r.round != 2 {
		t.Fatalf("restored to %s/%s round %d", r.phase, r.resume, r.round)
	}
	if err := r.Step(Join{Participant: "a"}); err != nil {
		t.Fatal(err)
	}
	if err := r.Step(Join{Participant: "b"}); err != nil {
		t.Fatal(err)
	}
	rd := r.Ready()
	if len(rd.Tasks) != 2 || rd.Tasks[0].Seq <= snap.Seq || rd.Tasks[0].Round != 2 {
		t.Fatalf("after restore tasks %+v, want round 2 with seq > %d", rd.Tasks, snap.Seq)
	}
	if !slices.Equal(rd.Tasks[0].Params, snap.Params) {
		t.Fatal("restored machine lost the completed round's parameters")
	}
	// A reply to the pre-crash phase is stale.
	if err := r.Step(Reply{Participant: "b", Seq: snap.Seq, Vector: contribution(t, cfg.Layout, Train, 1)}); !errors.Is(err, ErrStaleRound) {
		t.Fatalf("pre-crash reply err = %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	bad := []Config{
		{},
		testConfig([]string{"a"}, 2, 1, 1), // min above eligible
		testConfig(nil, 1, 0, 1),           // no rounds
		testConfig(nil, 1, 1, 0),           // no attempts
		{Job: "j", MinParticipants: 1, Rounds: 1}, // no layout, timeout or strategy
	}
	for i, c := range bad {
		if _, err := New(c); !errors.Is(err, ErrConfig) {
			t.Errorf("config %d: err = %v, want ErrConfig", i, err)
		}
	}
}
