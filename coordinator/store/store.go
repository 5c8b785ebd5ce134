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
	// CompleteJob writes a finished job and registers its model in one
	// commit, assigning the model's version (v1, v2, ...): a registered
	// model is never without its job, nor a succeeded job without its
	// model. The first model registered becomes the champion.
	CompleteJob(j *fedscorepb.Job, m *fedscorepb.RegisteredModel) (*fedscorepb.RegisteredModel, error)
	// Models lists the registry in version order; Champion names the
	// champion ("" when there is none).
	Models() ([]*fedscorepb.RegisteredModel, string, error)
	// Model returns one version, or the champion for "".
	Model(version string) (*fedscorepb.RegisteredModel, error)
	// Promote makes version the champion, remembering the one it replaces;
	// Rollback returns to that one.
	Promote(version string) (*fedscorepb.RegisteredModel, error)
	Rollback() (*fedscorepb.RegisteredModel, error)
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
	jobsBucket     = []byte("jobs")
	revokedBucket  = []byte("revoked")
	modelsBucket   = []byte("models")
	registryBucket = []byte("registry")
	championKey    = []byte("champion")
	historyKey     = []byte("history")
)

// Registry errors.
var (
	ErrNoModel    = errors.New("store: no such model version")
	ErrNoChampion = errors.New("store: the registry has no champion")
	ErrNoPrevious = errors.New("store: no earlier champion to roll back to")
	ErrIsChampion = errors.New("store: the version is already the champion")
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
		for _, b := range [][]byte{jobsBucket, revokedBucket, modelsBucket, registryBucket} {
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

// CompleteJob implements Store.
func (b *Bolt) CompleteJob(j *fedscorepb.Job, m *fedscorepb.RegisteredModel) (*fedscorepb.RegisteredModel, error) {
	m = proto.Clone(m).(*fedscorepb.RegisteredModel)
	err := b.db.Update(func(tx *bolt.Tx) error {
		models := tx.Bucket(modelsBucket)
		seq, err := models.NextSequence()
		if err != nil {
			return err
		}
		m.Version = fmt.Sprintf("v%d", seq)
		reg := tx.Bucket(registryBucket)
		if reg.Get(championKey) == nil {
			if err := reg.Put(championKey, []byte(m.Version)); err != nil {
				return err
			}
		}
		mb, err := proto.Marshal(m)
		if err != nil {
			return err
		}
		if err := models.Put(versionKey(m.Version), mb); err != nil {
			return err
		}
		jb, err := proto.Marshal(j)
		if err != nil {
			return err
		}
		return tx.Bucket(jobsBucket).Put([]byte(j.GetId()), jb)
	})
	if err != nil {
		return nil, fmt.Errorf("store: complete job %s: %w", j.GetId(), err)
	}
	return b.Model(m.Version)
}

// versionKey sorts v2 before v10.
func versionKey(v string) []byte {
	var n uint64
	fmt.Sscanf(v, "v%d", &n)
	return []byte(fmt.Sprintf("v%012d", n))
}

// Models implements Store.
func (b *Bolt) Models() ([]*fedscorepb.RegisteredModel, string, error) {
	var out []*fedscorepb.RegisteredModel
	var champion string
	err := b.db.View(func(tx *bolt.Tx) error {
		champion = string(tx.Bucket(registryBucket).Get(championKey))
		return tx.Bucket(modelsBucket).ForEach(func(k, v []byte) error {
			m := &fedscorepb.RegisteredModel{}
			if err := proto.Unmarshal(v, m); err != nil {
				return err
			}
			m.Champion = m.Version == champion
			out = append(out, m)
			return nil
		})
	})
	return out, champion, err
}

// Model implements Store.
func (b *Bolt) Model(version string) (*fedscorepb.RegisteredModel, error) {
	m := &fedscorepb.RegisteredModel{}
	err := b.db.View(func(tx *bolt.Tx) error {
		champion := string(tx.Bucket(registryBucket).Get(championKey))
		if version == "" {
			if champion == "" {
				return ErrNoChampion
			}
			version = champion
		}
		v := tx.Bucket(modelsBucket).Get(versionKey(version))
		if v == nil {
			return fmt.Errorf("%w: %q", ErrNoModel, version)
		}
		if err := proto.Unmarshal(v, m); err != nil {
			return err
		}
		m.Champion = m.Version == champion
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Promote implements Store.
func (b *Bolt) Promote(version string) (*fedscorepb.RegisteredModel, error) {
	err := b.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(modelsBucket).Get(versionKey(version)) == nil {
			return fmt.Errorf("%w: %q", ErrNoModel, version)
		}
		reg := tx.Bucket(registryBucket)
		cur := string(reg.Get(championKey))
		if cur == version {
			return fmt.Errorf("%w: %s", ErrIsChampion, version)
		}
		if cur != "" {
			hist := append(splitHistory(reg.Get(historyKey)), cur)
			if err := reg.Put(historyKey, []byte(strings.Join(hist, ","))); err != nil {
				return err
			}
		}
		return reg.Put(championKey, []byte(version))
	})
	if err != nil {
		return nil, err
	}
	return b.Model(version)
}

// Rollback implements Store.
func (b *Bolt) Rollback() (*fedscorepb.RegisteredModel, error) {
	var prev string
	err := b.db.Update(func(tx *bolt.Tx) error {
		reg := tx.Bucket(registryBucket)
		hist := splitHistory(reg.Get(historyKey))
		if len(hist) == 0 {
			return ErrNoPrevious
		}
		prev = hist[len(hist)-1]
		if err := reg.Put(historyKey, []byte(strings.Join(hist[:len(hist)-1], ","))); err != nil {
			return err
		}
		return reg.Put(championKey, []byte(prev))
	})
	if err != nil {
		return nil, err
	}
	return b.Model(prev)
}

func splitHistory(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	return strings.Split(string(b), ",")
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
	mu       sync.Mutex
	jobs     map[string][]byte
	revoked  map[string]string
	models   []*fedscorepb.RegisteredModel
	champion string
	history  []string
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory { return &Memory{jobs: map[string][]byte{}, revoked: map[string]string{}} }

// CompleteJob implements Store.
func (m *Memory) CompleteJob(j *fedscorepb.Job, rm *fedscorepb.RegisteredModel) (*fedscorepb.RegisteredModel, error) {
	if err := m.PutJob(j); err != nil {
		return nil, err
	}
	m.mu.Lock()
	rm = proto.Clone(rm).(*fedscorepb.RegisteredModel)
	rm.Version = fmt.Sprintf("v%d", len(m.models)+1)
	m.models = append(m.models, rm)
	if m.champion == "" {
		m.champion = rm.Version
	}
	m.mu.Unlock()
	return m.Model(rm.Version)
}

// Models implements Store.
func (m *Memory) Models() ([]*fedscorepb.RegisteredModel, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*fedscorepb.RegisteredModel, len(m.models))
	for i, rm := range m.models {
		out[i] = proto.Clone(rm).(*fedscorepb.RegisteredModel)
		out[i].Champion = rm.Version == m.champion
	}
	return out, m.champion, nil
}

// Model implements Store.
func (m *Memory) Model(version string) (*fedscorepb.RegisteredModel, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if version == "" {
		if m.champion == "" {
			return nil, ErrNoChampion
		}
		version = m.champion
	}
	for _, rm := range m.models {
		if rm.Version == version {
			out := proto.Clone(rm).(*fedscorepb.RegisteredModel)
			out.Champion = version == m.champion
			return out, nil
		}
	}
	return nil, fmt.Errorf("%w: %q", ErrNoModel, version)
}

// Promote implements Store.
func (m *Memory) Promote(version string) (*fedscorepb.RegisteredModel, error) {
	if _, err := m.Model(version); err != nil {
		return nil, err
	}
	m.mu.Lock()
	if m.champion == version {
		m.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrIsChampion, version)
	}
	if m.champion != "" {
		m.history = append(m.history, m.champion)
	}
	m.champion = version
	m.mu.Unlock()
	return m.Model(version)
}

// Rollback implements Store.
func (m *Memory) Rollback() (*fedscorepb.RegisteredModel, error) {
	m.mu.Lock()
	if len(m.history) == 0 {
		m.mu.Unlock()
		return nil, ErrNoPrevious
	}
	m.champion = m.history[len(m.history)-1]
	m.history = m.history[:len(m.history)-1]
	v := m.champion
	m.mu.Unlock()
	return m.Model(v)
}

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
