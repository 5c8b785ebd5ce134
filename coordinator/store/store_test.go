package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"google.golang.org/protobuf/proto"
)

// Both implementations pass the same specification.
func TestStores(t *testing.T) {
	impls := map[string]func(t *testing.T) (Store, func() Store){
		"memory": func(t *testing.T) (Store, func() Store) {
			m := NewMemory()
			return m, func() Store { return m }
		},
		"bolt": func(t *testing.T) (Store, func() Store) {
			path := filepath.Join(t.TempDir(), "fedscore.db")
			b, err := OpenBolt(path)
			if err != nil {
				t.Fatal(err)
			}
			return b, func() Store {
				// Reopen: what was put must survive closing the file.
				if err := b.Close(); err != nil {
					t.Fatal(err)
				}
				b2, err := OpenBolt(path)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { b2.Close() })
				return b2
			}
		},
	}
	for name, open := range impls {
		t.Run(name, func(t *testing.T) {
			s, reopen := open(t)
			if _, err := s.GetJob("job-x"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("missing job err = %v", err)
			}
			if err := s.PutJob(&fedscorepb.Job{}); err == nil {
				t.Fatal("job without id accepted")
			}
			jobs := []*fedscorepb.Job{
				{Id: "job-2", State: fedscorepb.JobState_JOB_STATE_RUNNING, Round: 3},
				{Id: "job-1", State: fedscorepb.JobState_JOB_STATE_SUCCEEDED, Model: &fedscorepb.Model{Weights: []float64{1, 2}}},
			}
			for _, j := range jobs {
				if err := s.PutJob(j); err != nil {
					t.Fatal(err)
				}
			}
			jobs[0].Round = 4 // overwrite
			if err := s.PutJob(jobs[0]); err != nil {
				t.Fatal(err)
			}
			if err := s.Revoke("partner-2", "left the federation"); err != nil {
				t.Fatal(err)
			}
			s = reopen()
			if rev, err := s.Revoked(); err != nil || rev["partner-2"] != "left the federation" || len(rev) != 1 {
				t.Fatalf("revoked = %v, %v", rev, err)
			}
			list, err := s.ListJobs()
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 2 || list[0].Id != "job-1" || list[1].Id != "job-2" {
				t.Fatalf("list = %v", list)
			}
			got, err := s.GetJob("job-2")
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, jobs[0]) {
				t.Fatalf("got %v, want %v", got, jobs[0])
			}
		})
	}
}

func TestBoltSecondOpenTimesOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fedscore.db")
	b, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := OpenBolt(path); err == nil {
		t.Fatal("second open of a locked store succeeded")
	}
}

func TestRegistry(t *testing.T) {
	for _, open := range []func(t *testing.T) Store{
		func(t *testing.T) Store { return NewMemory() },
		func(t *testing.T) Store {
			b, err := OpenBolt(filepath.Join(t.TempDir(), "r.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			return b
		},
	} {
		s := open(t)
		if _, err := s.Model(""); !errors.Is(err, ErrNoChampion) {
			t.Fatalf("empty registry champion err = %v", err)
		}
		var versions []string
		for i := range 11 {
			j := &fedscorepb.Job{Id: fmt.Sprintf("job-%02d", i), State: fedscorepb.JobState_JOB_STATE_SUCCEEDED}
			m, err := s.CompleteJob(j, &fedscorepb.RegisteredModel{JobId: j.Id, Kind: "scorecard"})
			if err != nil {
				t.Fatal(err)
			}
			versions = append(versions, m.Version)
			if got, err := s.GetJob(j.Id); err != nil || got.GetState() != fedscorepb.JobState_JOB_STATE_SUCCEEDED {
				t.Fatalf("job not stored with its model: %v %v", got, err)
			}
		}
		list, champion, err := s.Models()
		if err != nil || champion != "v1" || len(list) != 11 || list[10].Version != "v11" || list[1].Version != "v2" {
			t.Fatalf("models %v champion %q err %v", list, champion, err)
		}
		if _, err := s.Promote("v1"); !errors.Is(err, ErrIsChampion) {
			t.Fatalf("promote champion err = %v", err)
		}
		if _, err := s.Promote("v99"); !errors.Is(err, ErrNoModel) {
			t.Fatalf("promote unknown err = %v", err)
		}
		for _, v := range []string{"v3", "v10"} {
			if m, err := s.Promote(v); err != nil || !m.Champion {
				t.Fatalf("promote %s: %v %v", v, m, err)
			}
		}
		for _, want := range []string{"v3", "v1"} {
			m, err := s.Rollback()
			if err != nil || m.Version != want {
				t.Fatalf("rollback = %v %v, want %s", m, err, want)
			}
		}
		if _, err := s.Rollback(); !errors.Is(err, ErrNoPrevious) {
			t.Fatalf("rollback past the first err = %v", err)
		}
		if m, err := s.Model(""); err != nil || m.Version != "v1" {
			t.Fatalf("champion %v %v", m, err)
		}
	}
}
