package round

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// sumProgram is a test program: Collections collections of Len values each;
// it records every outcome it was given.
type sumProgram struct {
	Collections int
	Len         int
	Outcomes    []Outcome
	FailAt      int // Close returns an error at this collection (1-based); 0 never
}

func (p *sumProgram) collection(i int) Collection {
	return Collection{Kind: "k", Round: i, Segments: []Segment{{Name: "v", Len: p.Len}}}
}

func (p *sumProgram) Start() (Collection, error) { return p.collection(1), nil }

func (p *sumProgram) Close(c Collection, o Outcome) (*Collection, error) {
	p.Outcomes = append(p.Outcomes, o)
	if c.Round == p.FailAt {
		return nil, errors.New("program refused the sum")
	}
	if c.Round >= p.Collections {
		return nil, nil
	}
	n := p.collection(c.Round + 1)
	return &n, nil
}

func (p *sumProgram) History() []Record             { return nil }
func (p *sumProgram) MarshalState() ([]byte, error) { return json.Marshal(p) }

func testConfig(prog *sumProgram, eligible []string, min, attempts int) Config {
	return Config{Job: "job-1", Eligible: eligible, MinParticipants: min, PhaseTimeout: time.Minute, MaxAttempts: attempts, Program: prog}
}

// op is one line of a script: an event, the error Step must return, and an
// optional check of the machine afterwards.
type op struct {
	ev      func(m *Machine) Event
	wantErr error
	check   func(t *testing.T, m *Machine, rd Ready)
}

func join(p string) op  { return op{ev: func(*Machine) Event { return Join{Participant: p} }} }
func leave(p string) op { return op{ev: func(*Machine) Event { return Leave{Participant: p} }} }

// answer replies to the current collection with a vector of k's.
func answer(p string, k float64) op {
	return op{ev: func(m *Machine) Event {
		v := make([]float64, m.current.Len())
		for i := range v {
			v[i] = k
		}
		return Reply{Participant: p, Seq: m.seq, Vector: v}
	}}
}

func reply(p string, seq func(m *Machine) uint64, vec []float64, errText string, want error) op {
	return op{ev: func(m *Machine) Event {
		v := vec
		if v == nil && errText == "" {
			v = make([]float64, m.current.Len())
		}
		return Reply{Participant: p, Seq: seq(m), Vector: v, Err: errText}
	}, wantErr: want}
}

func current(m *Machine) uint64 { return m.seq }

func timeout() op { return op{ev: func(m *Machine) Event { return Timeout{Seq: m.seq} }} }

func expect(check func(t *testing.T, m *Machine, rd Ready)) op { return op{check: check} }

func wantAt(p Phase, round int) op {
	return expect(func(t *testing.T, m *Machine, _ Ready) {
		t.Helper()
		st := m.Status()
		if st.Phase != p || (round > 0 && st.Round != round) {
			t.Fatalf("at %s round %d, want %s round %d (err %q)", st.Phase, st.Round, p, round, st.Err)
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
			err := m.Step(o.ev(m))
			if (o.wantErr == nil) != (err == nil) || (o.wantErr != nil && !errors.Is(err, o.wantErr)) {
				t.Fatalf("op %d: Step err = %v, want %v", i, err, o.wantErr)
			}
			if err != nil && !errors.Is(err, ErrBadContribution) {
				if after := m.Snapshot(); after.Seq != before.Seq || after.Phase != before.Phase {
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
		prog   *sumProgram
		cfg    func(p *sumProgram) Config
		script []op
		final  func(t *testing.T, p *sumProgram)
	}{
		{
			name: "happy path: every collection summed over its cohort",
			prog: &sumProgram{Collections: 3, Len: 2},
			cfg:  func(p *sumProgram) Config { return testConfig(p, abc, 2, 1) },
			script: []op{
				join("a"), wantAt(Waiting, 1),
				join("b"), wantAt(Collecting, 1), wantTasksTo("a", "b"),
				join("c"), wantAt(Collecting, 1), // joins from the next collection
				answer("a", 1), answer("b", 2), wantAt(Collecting, 2), wantTasksTo("a", "b", "c"),
				answer("c", 4), answer("a", 1), answer("b", 1), wantAt(Collecting, 3),
				answer("a", 1), answer("b", 1), answer("c", 1), wantAt(Succeeded, 0),
				expect(func(t *testing.T, m *Machine, rd Ready) {
					if !slices.Equal(rd.Ended, abc) || !rd.Persist {
						t.Fatalf("end not announced to %v / persisted: %+v", abc, rd)
					}
				}),
			},
			final: func(t *testing.T, p *sumProgram) {
				want := [][]float64{{3, 3}, {6, 6}, {3, 3}}
				for i, o := range p.Outcomes {
					if !slices.Equal(o.Sum, want[i]) {
						t.Fatalf("collection %d sum %v, want %v", i+1, o.Sum, want[i])
					}
				}
				if !slices.Equal(p.Outcomes[1].Contributors, abc) || len(p.Outcomes[1].Dropped) != 0 {
					t.Fatalf("outcome 2: %+v", p.Outcomes[1])
				}
			},
		},
		{
			name: "participant that never answers is dropped at the timeout",
			prog: &sumProgram{Collections: 2, Len: 1},
			cfg:  func(p *sumProgram) Config { return testConfig(p, abc, 2, 1) },
			script: []op{
				join("a"), join("b"), join("c"),
				answer("a", 1), answer("b", 1), wantAt(Collecting, 2), wantTasksTo("a", "b", "c"),
				answer("a", 1), answer("b", 1), wantAt(Collecting, 2),
				timeout(), wantAt(Succeeded, 0),
			},
			final: func(t *testing.T, p *sumProgram) {
				if o := p.Outcomes[1]; !slices.Equal(o.Dropped, []string{"c"}) || o.Sum[0] != 2 {
					t.Fatalf("outcome %+v, want c dropped and sum 2", o)
				}
			},
		},
		{
			name: "participant that answers twice is refused the second time",
			prog: &sumProgram{Collections: 1, Len: 1},
			cfg:  func(p *sumProgram) Config { return testConfig(p, abc, 3, 1) },
			script: []op{
				join("a"), join("b"), join("c"),
				answer("a", 1),
				reply("a", current, nil, "", ErrDuplicate),
				wantAt(Collecting, 1),
			},
		},
		{
			name: "reply for a stale round is refused",
			prog: &sumProgram{Collections: 3, Len: 1},
			cfg:  func(p *sumProgram) Config { return testConfig(p, abc, 2, 1) },
			script: []op{
				join("a"), join("b"),
				answer("a", 1), answer("b", 1), wantAt(Collecting, 2), // collection 1 was seq 1
				reply("a", func(*Machine) uint64 { return 1 }, nil, "", ErrStaleRound),
				reply("a", func(*Machine) uint64 { return 99 }, nil, "", ErrStaleRound),
				answer("a", 1), answer("b", 1), wantAt(Collecting, 3),
			},
		},
		{
			name: "quorum not reached before the timeout: retried, then failed",
			prog: &sumProgram{Collections: 1, Len: 1},
			cfg:  func(p *sumProgram) Config { return testConfig(p, abc, 3, 2) },
			script: []op{
				join("a"), join("b"), join("c"),
				answer("a", 1), answer("b", 1), timeout(),
				wantAt(Collecting, 1), wantTasksTo("a", "b", "c"), // attempt 2, new seq
				expect(func(t *testing.T, m *Machine, _ Ready) {
					if m.seq != 2 {
						t.Fatalf("retry seq %d, want 2", m.seq)
					}
				}),
				answer("a", 1), timeout(),
				wantAt(Failed, 0),
				expect(func(t *testing.T, m *Machine, rd Ready) {
					st := m.Status()
					if !rd.Persist || !strings.Contains(st.Err, ErrQuorum.Error()) || !strings.Contains(st.Err, "c: no reply") {
						t.Fatalf("failure not persisted or unexplained: %q", st.Err)
					}
				}),
			},
			final: func(t *testing.T, p *sumProgram) {
				if len(p.Outcomes) != 0 {
					t.Fatal("a sum below quorum reached the program")
				}
			},
		},
		{
			name: "too few connected: waits without a timer until quorum returns",
			prog: &sumProgram{Collections: 2, Len: 1},
			cfg:  func(p *sumProgram) Config { return testConfig(p, abc, 2, 2) },
			script: []op{
				join("a"), join("b"), answer("a", 1), answer("b", 1), wantAt(Collecting, 2),
				leave("b"), leave("a"), // closes with nothing: attempt 1 of 2, too few to restart
				wantAt(Waiting, 2),
				expect(func(t *testing.T, _ *Machine, rd Ready) {
					if rd.Timer != nil || len(rd.Tasks) != 0 {
						t.Fatalf("waiting machine asked for %+v", rd)
					}
				}),
				join("a"), join("b"), wantAt(Collecting, 2), wantTasksTo("a", "b"),
				answer("a", 1), answer("b", 1), wantAt(Succeeded, 0),
			},
		},
		{
			name: "participant not listed by the job is turned away",
			prog: &sumProgram{Collections: 1, Len: 1},
			cfg:  func(p *sumProgram) Config { return testConfig(p, abc, 2, 1) },
			script: []op{
				{ev: func(*Machine) Event { return Join{Participant: "mallory"} }, wantErr: ErrNotEligible},
				join("a"), wantAt(Waiting, 1),
			},
		},
		{
			name: "reconnecting participant cannot answer the collection it left",
			prog: &sumProgram{Collections: 2, Len: 1},
			cfg:  func(p *sumProgram) Config { return testConfig(p, abc, 1, 1) },
			script: []op{
				join("a"), join("b"), join("c"), answer("a", 1), wantAt(Collecting, 2),
				leave("c"), join("c"),
				reply("c", current, nil, "", ErrDuplicate), // its disconnect spent its slot
			},
		},
		{
			name: "not-in-cohort and malformed replies",
			prog: &sumProgram{Collections: 2, Len: 2},
			cfg:  func(p *sumProgram) Config { return testConfig(p, abc, 1, 1) },
			script: []op{
				join("a"), join("b"), join("c"), // cohort of collection 1 is just a
				reply("b", current, nil, "", ErrNotInCohort),
				answer("a", 1), wantAt(Collecting, 2), wantTasksTo("a", "b", "c"),
				reply("c", current, []float64{1}, "", ErrBadContribution),
				reply("b", current, []float64{1, math.NaN()}, "", ErrBadContribution),
				answer("a", 5), wantAt(Succeeded, 0),
			},
			final: func(t *testing.T, p *sumProgram) {
				if o := p.Outcomes[1]; !slices.Equal(o.Sum, []float64{5, 5}) || !slices.Equal(o.Dropped, []string{"b", "c"}) {
					t.Fatalf("outcome %+v: malformed replies must not be summed", o)
				}
			},
		},
		{
			name: "participant error and disconnect close the collection without waiting",
			prog: &sumProgram{Collections: 2, Len: 1},
			cfg:  func(p *sumProgram) Config { return testConfig(p, abc, 1, 1) },
			script: []op{
				join("a"), join("b"), join("c"), answer("a", 1), wantAt(Collecting, 2),
				reply("b", current, nil, "datasets: column missing", nil),
				leave("c"),
				answer("a", 1), wantAt(Succeeded, 0),
			},
		},
		{
			name: "program error fails the job",
			prog: &sumProgram{Collections: 3, Len: 1, FailAt: 2},
			cfg:  func(p *sumProgram) Config { return testConfig(p, nil, 1, 1) },
			script: []op{
				join("x"), answer("x", 1), answer("x", 1), wantAt(Failed, 0),
				expect(func(t *testing.T, m *Machine, _ Ready) {
					if !strings.Contains(m.Status().Err, "program refused") {
						t.Fatalf("err %q", m.Status().Err)
					}
				}),
			},
		},
		{
			name: "cancel ends the job and tells connected participants",
			prog: &sumProgram{Collections: 3, Len: 1},
			cfg:  func(p *sumProgram) Config { return testConfig(p, abc, 2, 1) },
			script: []op{
				join("a"), join("b"),
				{ev: func(*Machine) Event { return Cancel{Reason: "user"} }},
				wantAt(Cancelled, 0),
				expect(func(t *testing.T, _ *Machine, rd Ready) {
					if !slices.Equal(rd.Ended, []string{"a", "b"}) || len(rd.Tasks) != 0 || rd.Timer != nil {
						t.Fatalf("ready after cancel: %+v", rd)
					}
				}),
				{ev: func(*Machine) Event { return Cancel{} }, wantErr: ErrFinished},
				reply("a", current, nil, "", ErrFinished),
			},
		},
		{
			name: "stale timer is ignored",
			prog: &sumProgram{Collections: 3, Len: 1},
			cfg:  func(p *sumProgram) Config { return testConfig(p, abc, 2, 1) },
			script: []op{
				join("a"), join("b"), answer("a", 1), answer("b", 1), wantAt(Collecting, 2),
				{ev: func(*Machine) Event { return Timeout{Seq: 1} }},
				wantAt(Collecting, 2),
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runScript(t, tc.cfg(tc.prog), tc.script)
			if tc.final != nil {
				tc.final(t, tc.prog)
			}
		})
	}
}

func TestRestoreRetriesInterruptedCollection(t *testing.T) {
	prog := &sumProgram{Collections: 3, Len: 1}
	cfg := testConfig(prog, []string{"a", "b"}, 2, 1)
	m := runScript(t, cfg, []op{
		join("a"), join("b"),
		answer("a", 1), answer("b", 1), wantAt(Collecting, 2),
		answer("a", 1), // crash before b answers
	})
	snap := m.Snapshot()
	r, err := Restore(cfg, snap)
	if err != nil {
		t.Fatal(err)
	}
	if st := r.Status(); st.Phase != Waiting || st.Round != 2 {
		t.Fatalf("restored to %+v", st)
	}
	for _, p := range []string{"a", "b"} {
		if err := r.Step(Join{Participant: p}); err != nil {
			t.Fatal(err)
		}
	}
	rd := r.Ready()
	if len(rd.Tasks) != 2 || rd.Tasks[0].Seq <= snap.Seq || rd.Tasks[0].Collection.Round != 2 {
		t.Fatalf("after restore tasks %+v, want collection 2 with seq > %d", rd.Tasks, snap.Seq)
	}
	// A reply to the pre-crash collection is stale.
	if err := r.Step(Reply{Participant: "b", Seq: snap.Seq, Vector: []float64{1}}); !errors.Is(err, ErrStaleRound) {
		t.Fatalf("pre-crash reply err = %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	prog := &sumProgram{Collections: 1, Len: 1}
	bad := []Config{
		{},
		testConfig(prog, []string{"a"}, 2, 1), // min above eligible
		testConfig(prog, nil, 1, 0),           // no attempts
		testConfig(nil, nil, 1, 1),            // no program
		{Job: "j", MinParticipants: 1, MaxAttempts: 1, Program: prog}, // no timeout
	}
	for i, c := range bad {
		if c.Program == (*sumProgram)(nil) {
			c.Program = nil
		}
		if _, err := New(c); !errors.Is(err, ErrConfig) {
			t.Errorf("config %d: err = %v, want ErrConfig", i, err)
		}
	}
}

// gatherProgram asks once for metadata, then sums once.
type gatherProgram struct {
	sumProgram
	got [][]byte
}

func (p *gatherProgram) Start() (Collection, error) {
	return Collection{Kind: "names", Gather: true}, nil
}

func (p *gatherProgram) Close(c Collection, o Outcome) (*Collection, error) {
	if c.Gather {
		p.got = o.Gathered
		next := Collection{Kind: "k", Round: 1, Segments: []Segment{{Name: "v", Len: 1}}}
		return &next, nil
	}
	return nil, nil
}

// A gather collection hands the program every answer, ordered by content,
// and works in secure jobs too (in clear, by design).
func TestGatherCollection(t *testing.T) {
	for _, secure := range []bool{false, true} {
		prog := &gatherProgram{}
		cfg := Config{Job: "j", MinParticipants: 2, PhaseTimeout: time.Minute, MaxAttempts: 1, Program: prog}
		if secure {
			cfg.Secure = &SecureConfig{}
		}
		m, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		m.Step(Join{Participant: "b"})
		m.Step(Join{Participant: "a"})
		seq := m.Ready().Tasks[0].Seq
		m.Advance(m.Ready())
		if err := m.Step(Reply{Participant: "b", Seq: seq, Payload: []byte("zeta")}); err != nil {
			t.Fatal(err)
		}
		if err := m.Step(Reply{Participant: "a", Seq: seq, Payload: []byte("alpha")}); err != nil {
			t.Fatal(err)
		}
		if len(prog.got) != 2 || string(prog.got[0]) != "alpha" || string(prog.got[1]) != "zeta" {
			t.Fatalf("secure=%v: gathered %q", secure, prog.got)
		}
		rd := m.Ready()
		if len(rd.Tasks) != 2 || (rd.Tasks[0].Secure != nil) != secure {
			t.Fatalf("secure=%v: next collection tasks %+v", secure, rd.Tasks)
		}
	}
}
