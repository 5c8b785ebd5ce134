package scores

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var ctx = context.Background()

// at is a fixed scored-at time for tests.
var at = time.Date(2026, 11, 1, 9, 30, 0, 123456789, time.UTC)

func openTemp(t testing.TB) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "scores.db")
	st, err := Open(path, &Options{Now: func() time.Time { return at.Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, path
}

func register(t testing.TB, st *Store, version string) {
	t.Helper()
	if _, err := st.RegisterModel(ctx, Model{Version: version, JobID: "job-" + version, Round: 7}); err != nil {
		t.Fatal(err)
	}
}

func row(id string, pd float64, tier string) Row {
	return Row{CustomerID: id, PD: pd, Points: math.Round(600 - 100*pd), Tier: tier, Reasons: []string{"r1", "r2"}, ScoredAt: at}
}

// countAll returns the number of customers stored under version.
func countAll(t testing.TB, st *Store, version string) int {
	t.Helper()
	n := 0
	if _, err := st.Scan(ctx, version, nil, func(Record) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPublishGet(t *testing.T) {
	st, _ := openTemp(t)
	register(t, st, "v1")
	rows := []Row{row("c2", 0.5, "C"), row("c1", 0.01, "A"), {CustomerID: "c3", PD: 1, Points: -3.5, Tier: "E"}}
	res, err := st.Publish(ctx, Batch{ID: "b1", ModelVersion: "v1", Participant: "bank", Rows: rows})
	if err != nil {
		t.Fatal(err)
	}
	if res != (PublishResult{BatchID: "b1", Rows: 3}) {
		t.Errorf("result %+v", res)
	}
	got, err := st.Get(ctx, "c1", "")
	if err != nil {
		t.Fatal(err)
	}
	want := Record{CustomerID: "c1", PD: 0.01, Points: 599, Tier: "A", Reasons: []string{"r1", "r2"},
		ModelVersion: "v1", JobID: "job-v1", Round: 7, ScoredAt: at}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	// An unset scored-at becomes the store's clock at publish time.
	got, err = st.Get(ctx, "c3", "v1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Reasons != nil || !got.ScoredAt.Equal(at.Add(time.Hour)) || got.PD != 1 || got.Points != -3.5 {
		t.Errorf("c3: %+v", got)
	}
	if _, err := st.Get(ctx, "nobody", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown customer: %v, want ErrNotFound", err)
	}
	if _, err := st.Get(ctx, "c1", "v9"); !errors.Is(err, ErrUnknownModel) {
		t.Errorf("unknown version: %v, want ErrUnknownModel", err)
	}
}

func TestChampionAndHistory(t *testing.T) {
	st, _ := openTemp(t)
	if _, err := st.Get(ctx, "c1", ""); !errors.Is(err, ErrNoChampion) {
		t.Fatalf("empty store: %v, want ErrNoChampion", err)
	}
	register(t, st, "v1") // the first version becomes champion
	register(t, st, "v2")
	mustPublish(t, st, Batch{ID: "a", ModelVersion: "v1", Rows: []Row{row("c1", 0.2, "D"), row("c2", 0.3, "D")}})
	mustPublish(t, st, Batch{ID: "b", ModelVersion: "v2", Rows: []Row{row("c1", 0.1, "C")}})

	if r, err := st.Get(ctx, "c1", ""); err != nil || r.ModelVersion != "v1" || r.PD != 0.2 {
		t.Errorf("champion v1: %+v, %v", r, err)
	}
	if _, err := st.Promote(ctx, "v2"); err != nil {
		t.Fatal(err)
	}
	if r, err := st.Get(ctx, "c1", ""); err != nil || r.ModelVersion != "v2" || r.PD != 0.1 {
		t.Errorf("champion v2: %+v, %v", r, err)
	}
	if _, err := st.Get(ctx, "c2", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("c2 unscored by v2: %v", err)
	}
	h, err := st.History(ctx, "c1")
	if err != nil || len(h) != 2 || h[0].ModelVersion != "v1" || h[1].ModelVersion != "v2" {
		t.Errorf("history %+v, %v", h, err)
	}
	// Registering again is a no-op; with another lineage, a conflict.
	if _, err := st.RegisterModel(ctx, Model{Version: "v1", JobID: "job-v1", Round: 7}); err != nil {
		t.Error(err)
	}
	if _, err := st.RegisterModel(ctx, Model{Version: "v1", JobID: "other", Round: 7}); !errors.Is(err, ErrModelConflict) {
		t.Errorf("conflicting lineage: %v", err)
	}
	if _, err := st.Promote(ctx, "v9"); !errors.Is(err, ErrUnknownModel) {
		t.Errorf("promote unknown: %v", err)
	}
	ms := st.Models()
	if len(ms) != 2 || ms[0].Version != "v1" || ms[0].Champion || !ms[1].Champion {
		t.Errorf("models %+v", ms)
	}

	// The registry and champion survive a reopen.
	path := st.Path()
	st.Close()
	st2, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	if m, err := st2.Model(""); err != nil || m.Version != "v2" || m.JobID != "job-v2" || m.Round != 7 {
		t.Errorf("champion after reopen: %+v, %v", m, err)
	}
	if _, err := st.Get(ctx, "c1", ""); !errors.Is(err, ErrClosed) {
		t.Errorf("read after close: %v, want ErrClosed", err)
	}
}

func mustPublish(t testing.TB, st *Store, b Batch) PublishResult {
	t.Helper()
	res, err := st.Publish(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestIdempotentPublish(t *testing.T) {
	st, _ := openTemp(t)
	register(t, st, "v1")
	b := Batch{ID: "job1/bank/0", ModelVersion: "v1", Participant: "bank",
		Rows: []Row{row("c1", 0.1, "B"), row("c2", 0.2, "C"), {CustomerID: "c3", PD: 0.3, Tier: "D"}}}
	mustPublish(t, st, b)
	before, _ := st.Get(ctx, "c3", "")

	// Overwrite c1 with another batch, so a replay of b would be visible.
	mustPublish(t, st, Batch{ID: "job2/bank/0", ModelVersion: "v1", Rows: []Row{row("c1", 0.9, "E")}})

	// The replay, with rows reordered, is acknowledged and writes nothing.
	replay := b
	replay.Rows = []Row{b.Rows[2], b.Rows[0], b.Rows[1]}
	res := mustPublish(t, st, replay)
	if !res.Duplicate || res.Rows != 3 {
		t.Errorf("replay: %+v, want duplicate of 3 rows", res)
	}
	if r, _ := st.Get(ctx, "c1", ""); r.PD != 0.9 {
		t.Errorf("replay overwrote c1: pd %v", r.PD)
	}
	// c3 had no scored-at: the replay does not refresh it.
	if r, _ := st.Get(ctx, "c3", ""); !reflect.DeepEqual(r, before) {
		t.Errorf("replay changed c3: %+v, was %+v", r, before)
	}
	if n := countAll(t, st, "v1"); n != 3 {
		t.Errorf("%d customers, want 3", n)
	}

	// Same id, different rows: refused.
	changed := b
	changed.Rows = []Row{row("c1", 0.11, "B"), b.Rows[1], b.Rows[2]}
	if _, err := st.Publish(ctx, changed); !errors.Is(err, ErrBatchConflict) {
		t.Errorf("changed replay: %v, want ErrBatchConflict", err)
	}

	// An unknown model version is refused, nothing stored.
	_, err := st.Publish(ctx, Batch{ID: "x", ModelVersion: "v9", Rows: []Row{row("c9", 0.1, "B")}})
	if !errors.Is(err, ErrUnknownModel) {
		t.Errorf("unknown version: %v, want ErrUnknownModel", err)
	}
	if _, err := st.History(ctx, "c9"); !errors.Is(err, ErrNotFound) {
		t.Errorf("c9 stored after refusal: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	good := func() Batch {
		return Batch{ID: "b", ModelVersion: "v1", Rows: []Row{row("ok1", 0.1, "A"), row("ok2", 0.2, "B")}}
	}
	many := make([]Row, MaxBatchRows+1)
	for i := range many {
		many[i] = row(fmt.Sprintf("m%06d", i), 0.5, "C")
	}
	tests := []struct {
		name   string
		edit   func(b *Batch)
		errSub string
	}{
		{"empty id", func(b *Batch) { b.Rows[1].CustomerID = "" }, "row 1: empty customer id"},
		{"long id", func(b *Batch) { b.Rows[0].CustomerID = strings.Repeat("x", MaxIDBytes+1) }, "row 0: customer id of 257 bytes, over the limit of 256"},
		{"non-UTF-8 id", func(b *Batch) { b.Rows[0].CustomerID = "\xff" }, "not UTF-8"},
		{"pd NaN", func(b *Batch) { b.Rows[1].PD = math.NaN() }, `row 1: customer "ok2": pd NaN outside [0, 1]`},
		{"pd negative", func(b *Batch) { b.Rows[1].PD = -0.01 }, "pd -0.01 outside [0, 1]"},
		{"pd over 1", func(b *Batch) { b.Rows[1].PD = 1.0000001 }, "pd 1.0000001 outside [0, 1]"},
		{"pd +Inf", func(b *Batch) { b.Rows[1].PD = math.Inf(1) }, "pd +Inf outside [0, 1]"},
		{"points NaN", func(b *Batch) { b.Rows[0].Points = math.NaN() }, "points NaN not finite"},
		{"empty tier", func(b *Batch) { b.Rows[0].Tier = "" }, "empty tier"},
		{"tier with comma", func(b *Batch) { b.Rows[0].Tier = "A,B" }, "contains a comma"},
		{"too many reasons", func(b *Batch) { b.Rows[0].Reasons = make([]string, MaxReasons+1) }, "17 reason codes"},
		{"empty reason", func(b *Batch) { b.Rows[0].Reasons = []string{"r", ""} }, "empty reason code"},
		{"scored-at before 1970", func(b *Batch) { b.Rows[0].ScoredAt = time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC) }, "outside 1970..2262"},
		{"duplicate customer", func(b *Batch) { b.Rows[1].CustomerID = "ok1" }, `customer "ok1" appears twice (rows 0 and 1)`},
		{"no rows", func(b *Batch) { b.Rows = nil }, "has no rows"},
		{"over the limit", func(b *Batch) { b.Rows = many }, "100001 rows, over the limit of 100000"},
		{"no batch id", func(b *Batch) { b.ID = "" }, "empty batch id"},
		{"no model version", func(b *Batch) { b.ModelVersion = "" }, "empty model version"},
	}
	st, _ := openTemp(t)
	register(t, st, "v1")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := good()
			tt.edit(&b)
			_, err := st.Publish(ctx, b)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.errSub) || !strings.HasPrefix(err.Error(), "scores: ") {
				t.Fatalf("error %v, want ErrInvalid containing %q", err, tt.errSub)
			}
		})
	}
	if n := countAll(t, st, "v1"); n != 0 {
		t.Errorf("%d customers stored after refusals, want 0", n)
	}
	// The good batch still goes in under the id the refused ones used.
	mustPublish(t, st, good())
	if n := countAll(t, st, "v1"); n != 2 {
		t.Errorf("%d customers, want 2", n)
	}
	// Lookups refuse bad ids too.
	for _, id := range []string{"", strings.Repeat("x", 257)} {
		if _, err := st.Get(ctx, id, ""); !errors.Is(err, ErrInvalid) {
			t.Errorf("Get(%.10q): %v, want ErrInvalid", id, err)
		}
	}
}

func TestGetMany(t *testing.T) {
	st, _ := openTemp(t)
	register(t, st, "v1")
	mustPublish(t, st, Batch{ID: "b", ModelVersion: "v1", Rows: []Row{row("c1", 0.1, "A"), row("c2", 0.2, "B")}})
	m, got, err := st.GetMany(ctx, []string{"c2", "zz", "", "c1"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != "v1" {
		t.Errorf("model %q", m.Version)
	}
	want := []Status{Found, NotFound, InvalidID, Found}
	for i, l := range got {
		if l.Status != want[i] {
			t.Errorf("entry %d: status %v, want %v", i, l.Status, want[i])
		}
	}
	if got[0].Record.PD != 0.2 || got[3].Record.PD != 0.1 || got[3].CustomerID != "c1" {
		t.Errorf("records %+v", got)
	}
	if _, _, err := st.GetMany(ctx, make([]string, MaxBatchGet+1), ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("over the limit: %v", err)
	}
}

func TestValueRoundTrip(t *testing.T) {
	r := Row{CustomerID: "x", PD: 0.25, Points: 612.5, Tier: "B", Reasons: []string{"utilisation_high", "é"}}
	b := appendValue(nil, &r, 1234567890123)
	if len(b) != valueLen(&r) {
		t.Fatalf("encoded %d bytes, valueLen says %d", len(b), valueLen(&r))
	}
	var v view
	if err := decodeValue(b, &v); err != nil {
		t.Fatal(err)
	}
	if v.pd != 0.25 || v.points != 612.5 || v.scoredAt != 1234567890123 || string(v.tier) != "B" || v.nreasons != 2 || string(v.reasons[1]) != "é" {
		t.Errorf("decoded %+v", v)
	}
	for n := 0; n < len(b); n++ {
		if decodeValue(b[:n], &v) == nil {
			t.Errorf("truncated to %d bytes: decoded", n)
		}
	}
	if decodeValue(append(b, 0), &v) == nil {
		t.Error("trailing byte: decoded")
	}
}
