// Package store keeps the coordinator's durable state: jobs, with their
// spec, progress, per-round metrics, the round machine's checkpoint and the
// final model. The Bolt implementation is one embedded file with an fsync at
// every commit; Memory is for tests.
package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fedscore/fedscore/api/fedscorepb"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
)

// ErrNotFound means no job has the id.
var ErrNotFound = errors.New("store: job not found")

// Store persists jobs. PutJob is durable when it returns.
type Store interface {
	PutJob(j *fedscorepb.Job) error
	GetJob(id string) (*fedscorepb.Job, error)
	// ListJobs returns every job in id order, which is submission order.
	ListJobs() ([]*fedscorepb.Job, error)
	// Revoke records that an identity is turned away; Revoked lists them
	// with their reasons.
	Revoke(name, reason string) error
	Revoked() (map[string]string, error)
	Close() error
}

var (
	_ Store = (*Bolt)(nil)
	_ Store = (*Memory)(nil)
)

var (
	jobsBucket    = []byte("jobs")
	revokedBucket = []byte("revoked")
)

// Bolt is a Store in one bbolt file.
type Bolt struct{ db *bolt.DB }

// OpenBolt opens or creates the store file at path.
func OpenBolt(path string) (*Bolt, error) {
	// Without a timeout a second coordinator on the same file blocks forever.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{jobsBucket, revokedBucket} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: init %s: %w", path, err)
	}
	return &Bolt{db: db}, nil
}

// PutJob implements Store.
func (b *Bolt) PutJob(j *fedscorepb.Job) error {
	if j.GetId() == "" {
		return errors.New("store: job without id")
	}
	buf, err := proto.Marshal(j)
	if err != nil {
		return fmt.Errorf("store: encode job %s: %w", j.GetId(), err)
	}
	return b.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(jobsBucket).Put([]byte(j.GetId()), buf)
	})
}

// GetJob implements Store.
func (b *Bolt) GetJob(id string) (*fedscorepb.Job, error) {
	j := &fedscorepb.Job{}
	err := b.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(jobsBucket).Get([]byte(id))
		if v == nil {
			return fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		// Unmarshal copies what it keeps, so v need not outlive the transaction.
		return proto.Unmarshal(v, j)
	})
	if err != nil {
		return nil, err
	}
	return j, nil
}

// ListJobs implements Store.
func (b *Bolt) ListJobs() ([]*fedscorepb.Job, error) {
	var out []*fedscorepb.Job
	err := b.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(jobsBucket).ForEach(func(k, v []byte) error {
			j := &fedscorepb.Job{}
			if err := proto.Unmarshal(v, j); err != nil {
				return fmt.Errorf("store: decode job %s: %w", k, err)
			}
			out = append(out, j)
			return nil
		})
	})
	return out, err
}

// Revoke implements Store.
func (b *Bolt) Revoke(name, reason string) error {
	return b.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(revokedBucket).Put([]byte(name), []byte(reason))
	})
}

// Revoked implements Store.
func (b *Bolt) Revoked() (map[string]string, error) {
	out := map[string]string{}
	err := b.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(revokedBucket).ForEach(func(k, v []byte) error {
			out[string(k)] = string(v)
			return nil
		})
	})
	return out, err
}

// Close implements Store.
func (b *Bolt) Close() error { return b.db.Close() }

// Memory is a Store in memory.
type Memory struct {
	mu      sync.Mutex
	jobs    map[string][]byte
	revoked map[string]string
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory { return &Memory{jobs: map[string][]byte{}, revoked: map[string]string{}} }

// Revoke implements Store.
func (m *Memory) Revoke(name, reason string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.revoked[name] = reason
	return nil
}

// Revoked implements Store.
func (m *Memory) Revoked() (map[string]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]string, len(m.revoked))
	for k, v := range m.revoked {
		out[k] = v
	}
	return out, nil
}

// PutJob implements Store.
func (m *Memory) PutJob(j *fedscorepb.Job) error {
	if j.GetId() == "" {
		return errors.New("store: job without id")
	}
	buf, err := proto.Marshal(j)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.jobs[j.GetId()] = buf
	return nil
}

// GetJob implements Store.
func (m *Memory) GetJob(id string) (*fedscorepb.Job, error) {
	m.mu.Lock()
	buf, ok := m.jobs[id]
	m.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	j := &fedscorepb.Job{}
	return j, proto.Unmarshal(buf, j)
}

// ListJobs implements Store.
func (m *Memory) ListJobs() ([]*fedscorepb.Job, error) {
	m.mu.Lock()
	ids := make([]string, 0, len(m.jobs))
	for id := range m.jobs {
		ids = append(ids, id)
	}
	m.mu.Unlock()
	slices.SortFunc(ids, strings.Compare)
	out := make([]*fedscorepb.Job, 0, len(ids))
	for _, id := range ids {
		j, err := m.GetJob(id)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}

// Close implements Store.
func (m *Memory) Close() error { return nil }
