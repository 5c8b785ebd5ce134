package scores

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Options configures Open. The zero value (or nil) is a sensible default.
type Options struct {
	// Timeout bounds the wait for the file lock held by another process;
	// default 1 s.
	Timeout time.Duration
	// InitialMmapSize is the address space mapped up front; default 1 GiB.
	// bbolt re-maps when the file outgrows it, and a re-map waits for every
	// open read transaction, so size it above the expected store.
	InitialMmapSize int
	// Log receives the store's few log lines; default discards them.
	Log *slog.Logger
	// Now is the clock for scored-at defaults and registration times;
	// default time.Now.
	Now func() time.Time
}

// Store is the durable score store: one bbolt file. It is safe for
// concurrent use; writes are serialised, reads run in parallel with them.
type Store struct {
	db     *bolt.DB
	log    *slog.Logger
	now    func() time.Time
	models atomic.Pointer[modelTable] // immutable snapshot, replaced after each registry commit
	regMu  sync.Mutex                 // serialises registry writes with their snapshot swap
	intern *interner
}

var (
	bucketMeta    = []byte("meta")
	bucketModels  = []byte("models")
	bucketBatches = []byte("batches")
	keyFormat     = []byte("format")
	keyChampion   = []byte("champion")
)

const (
	storeFormat       = "1"
	scoreBucketPrefix = "scores/"
)

func scoreBucket(version string) []byte { return []byte(scoreBucketPrefix + version) }

// Open opens the store at path, creating it if it does not exist. Only one
// process can hold a store open; another waits Options.Timeout for the lock.
func Open(path string, o *Options) (*Store, error) {
	var opt Options
	if o != nil {
		opt = *o
	}
	if opt.Timeout <= 0 {
		opt.Timeout = time.Second
	}
	if opt.InitialMmapSize <= 0 {
		opt.InitialMmapSize = 1 << 30
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opt.Timeout, InitialMmapSize: opt.InitialMmapSize})
	if err != nil {
		return nil, wrapf(err, "opening %s", path)
	}
	s := &Store{db: db, log: opt.Log, now: opt.Now, intern: newInterner(4096)}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketModels, bucketBatches} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		switch f := meta.Get(keyFormat); {
		case f == nil:
			if err := meta.Put(keyFormat, []byte(storeFormat)); err != nil {
				return err
			}
		case string(f) != storeFormat:
			return fmt.Errorf("%w: format %q, this build reads %q", ErrCorrupt, f, storeFormat)
		}
		t, err := loadModels(tx)
		if err != nil {
			return err
		}
		s.models.Store(t)
		return nil
	})
	if err != nil {
		db.Close()
		return nil, wrapf(err, "opening %s", path)
	}
	return s, nil
}

// Close closes the store. Reads and writes after Close fail with ErrClosed.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return wrapf(err, "closing")
	}
	return nil
}

// Path returns the store's file name.
func (s *Store) Path() string { return s.db.Path() }

// boltErr turns bbolt's "not open" into ErrClosed and leaves the rest.
func boltErr(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) || errors.Is(err, berrors.ErrTxClosed) {
		return ErrClosed
	}
	return err
}

// ---- model registry ----

// modelEntry is a registered version as the store keeps it.
type modelEntry struct {
	Model
	seq    uint64
	bucket []byte
}

// modelTable is an immutable snapshot of the registry.
type modelTable struct {
	list     []*modelEntry // registration order
	by       map[string]*modelEntry
	champion *modelEntry // nil until a version is registered
}

func (t *modelTable) resolve(version string) (*modelEntry, error) {
	if version == "" {
		if t.champion == nil {
			return nil, ErrNoChampion
		}
		return t.champion, nil
	}
	m, ok := t.by[version]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownModel, version)
	}
	return m, nil
}

// storedModel is a model version's value in the models bucket.
type storedModel struct {
	JobID        string    `json:"job_id"`
	Round        int64     `json:"round"`
	RegisteredAt time.Time `json:"registered_at"`
	Seq          uint64    `json:"seq"`
}

func loadModels(tx *bolt.Tx) (*modelTable, error) {
	t := &modelTable{by: map[string]*modelEntry{}}
	err := tx.Bucket(bucketModels).ForEach(func(k, v []byte) error {
		var sm storedModel
		if err := json.Unmarshal(v, &sm); err != nil {
			return fmt.Errorf("%w: model %q: %v", ErrCorrupt, k, err)
		}
		e := &modelEntry{
			Model:  Model{Version: string(k), JobID: sm.JobID, Round: sm.Round, RegisteredAt: sm.RegisteredAt},
			seq:    sm.Seq,
			bucket: scoreBucket(string(k)),
		}
		if tx.Bucket(e.bucket) == nil {
			return fmt.Errorf("%w: model %q has no score bucket", ErrCorrupt, k)
		}
		t.list = append(t.list, e)
		t.by[e.Version] = e
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(t.list, func(a, b *modelEntry) int { return cmp.Compare(a.seq, b.seq) })
	if c := tx.Bucket(bucketMeta).Get(keyChampion); c != nil {
		e, ok := t.by[string(c)]
		if !ok {
			return nil, fmt.Errorf("%w: champion %q is not registered", ErrCorrupt, c)
		}
		t.champion = e
		e.Champion = true
	}
	return t, nil
}

// updateRegistry runs fn in a write transaction and, once it committed,
// swaps in the registry as fn left it.
func (s *Store) updateRegistry(fn func(tx *bolt.Tx) error) error {
	s.regMu.Lock()
	defer s.regMu.Unlock()
	var t *modelTable
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		var err error
		t, err = loadModels(tx)
		return err
	})
	if err != nil {
		return boltErr(err)
	}
	s.models.Store(t)
	return nil
}

// RegisterModel records a model version, with its lineage, as one that
// scores may be published for. The first version registered becomes the
// champion, and so does m when m.Champion is set. Registering a version
// again with the same job and round is a no-op (apart from promoting it if
// asked); with a different lineage it fails with ErrModelConflict.
//
// The coordinator calls this (in-process, or through the Scores service's
// RegisterModelVersion) when a job's model enters the registry.
func (s *Store) RegisterModel(ctx context.Context, m Model) (Model, error) {
	if err := validName("model version", m.Version, MaxVersionBytes); err != nil {
		return Model{}, err
	}
	if err := validName("job id", m.JobID, MaxVersionBytes); err != nil {
		return Model{}, err
	}
	if m.Round < 0 {
		return Model{}, invalid("model %q: negative round %d", m.Version, m.Round)
	}
	if err := ctx.Err(); err != nil {
		return Model{}, err
	}
	err := s.updateRegistry(func(tx *bolt.Tx) error {
		models := tx.Bucket(bucketModels)
		key := []byte(m.Version)
		if v := models.Get(key); v != nil {
			var sm storedModel
			if err := json.Unmarshal(v, &sm); err != nil {
				return fmt.Errorf("%w: model %q: %v", ErrCorrupt, m.Version, err)
			}
			if sm.JobID != m.JobID || sm.Round != m.Round {
				return fmt.Errorf("%w: %q is job %q round %d, not job %q round %d",
					ErrModelConflict, m.Version, sm.JobID, sm.Round, m.JobID, m.Round)
			}
		} else {
			seq, err := models.NextSequence()
			if err != nil {
				return err
			}
			v, err := json.Marshal(storedModel{JobID: m.JobID, Round: m.Round, RegisteredAt: s.now().UTC(), Seq: seq})
			if err != nil {
				return err
			}
			if err := models.Put(key, v); err != nil {
				return err
			}
			if _, err := tx.CreateBucket(scoreBucket(m.Version)); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if m.Champion || meta.Get(keyChampion) == nil {
			return meta.Put(keyChampion, key)
		}
		return nil
	})
	if err != nil {
		return Model{}, wrapf(err, "registering model %q", m.Version)
	}
	s.log.Info("model version registered", "version", m.Version, "job", m.JobID, "round", m.Round)
	return s.Model(m.Version)
}

// Promote makes a registered version the champion, whose scores reads
// without a version return. Promoting an older version is a rollback.
func (s *Store) Promote(ctx context.Context, version string) (Model, error) {
	if err := ctx.Err(); err != nil {
		return Model{}, err
	}
	err := s.updateRegistry(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketModels).Get([]byte(version)) == nil {
			return fmt.Errorf("%w %q", ErrUnknownModel, version)
		}
		return tx.Bucket(bucketMeta).Put(keyChampion, []byte(version))
	})
	if err != nil {
		return Model{}, wrapf(err, "promoting %q", version)
	}
	s.log.Info("model version promoted to champion", "version", version)
	return s.Model(version)
}

// Model returns a registered version; "" means the champion.
func (s *Store) Model(version string) (Model, error) {
	m, err := s.models.Load().resolve(version)
	if err != nil {
		return Model{}, err
	}
	return m.Model, nil
}

// Models returns the registered versions in registration order.
func (s *Store) Models() []Model {
	t := s.models.Load()
	out := make([]Model, len(t.list))
	for i, e := range t.list {
		out[i] = e.Model
	}
	return out
}

// ---- publishing ----

// PublishResult is the store's acknowledgement of a batch.
type PublishResult struct {
	BatchID   string
	Rows      int
	Duplicate bool // the batch had been stored before; nothing was written
}

// storedBatch is a batch's value in the batches bucket.
type storedBatch struct {
	ModelVersion string    `json:"model_version"`
	Participant  string    `json:"participant,omitempty"`
	Rows         int       `json:"rows"`
	Digest       []byte    `json:"digest"`
	PublishedAt  time.Time `json:"published_at"`
}

// Publish stores a batch atomically and durably: when it returns nil the
// batch is fsync'd and survives a crash; when it returns an error nothing
// of the batch is stored. The whole batch is validated first; any bad row
// refuses it with ErrInvalid. A batch for an unregistered model version is
// refused with ErrUnknownModel.
//
// Publishing is idempotent on b.ID: a batch whose ID is already stored with
// the same model version, participant and rows (in any order) writes
// nothing and returns Duplicate; with different contents it fails with
// ErrBatchConflict. A customer already scored under the version is
// overwritten.
func (s *Store) Publish(ctx context.Context, b Batch) (PublishResult, error) {
	if err := validName("batch id", b.ID, MaxIDBytes); err != nil {
		return PublishResult{}, err
	}
	if err := validName("model version", b.ModelVersion, MaxVersionBytes); err != nil {
		return PublishResult{}, invalid("batch %q: %s", b.ID, err.(*inputError).msg)
	}
	if b.Participant != "" {
		if p := nameProblem("participant id", b.Participant, MaxIDBytes); p != "" {
			return PublishResult{}, invalid("batch %q: %s", b.ID, p)
		}
	}
	n := len(b.Rows)
	if n == 0 {
		return PublishResult{}, invalid("batch %q has no rows", b.ID)
	}
	if n > MaxBatchRows {
		return PublishResult{}, invalid("batch %q has %d rows, over the limit of %d", b.ID, n, MaxBatchRows)
	}
	if _, err := s.models.Load().resolve(b.ModelVersion); err != nil {
		return PublishResult{}, wrapf(err, "batch %q", b.ID)
	}
	size := 0
	for i := range b.Rows {
		if p := b.Rows[i].problem(); p != "" {
			return PublishResult{}, invalid("batch %q row %d: %s", b.ID, i, p)
		}
		size += valueLen(&b.Rows[i])
	}
	order := make([]int32, n)
	for i := range order {
		order[i] = int32(i)
	}
	byID := func(x, y int32) int { return strings.Compare(b.Rows[x].CustomerID, b.Rows[y].CustomerID) }
	if !slices.IsSortedFunc(order, byID) {
		slices.SortFunc(order, byID)
	}
	for k := 1; k < n; k++ {
		if a, c := order[k-1], order[k]; b.Rows[a].CustomerID == b.Rows[c].CustomerID {
			return PublishResult{}, invalid("batch %q: customer %q appears twice (rows %d and %d)", b.ID, b.Rows[a].CustomerID, min(a, c), max(a, c))
		}
	}

	// Encode every value into one arena (bbolt keeps a reference to each
	// value until the commit), and digest the batch as given, before the
	// scored-at default, so that a replay digests the same.
	now := s.now()
	arena := make([]byte, 0, size)
	values := make([][]byte, n)
	h := sha256.New()
	var hdr [binary.MaxVarintLen64]byte
	writeStr := func(s string) {
		h.Write(hdr[:binary.PutUvarint(hdr[:], uint64(len(s)))])
		io.WriteString(h, s)
	}
	writeStr(b.ModelVersion)
	writeStr(b.Participant)
	for k, i := range order {
		r := &b.Rows[i]
		var ts int64
		if !r.ScoredAt.IsZero() {
			ts = r.ScoredAt.UnixNano()
		}
		start := len(arena)
		arena = appendValue(arena, r, ts)
		v := arena[start:len(arena):len(arena)]
		writeStr(r.CustomerID)
		h.Write(v)
		if ts == 0 {
			binary.LittleEndian.PutUint64(v[offScoredAt:], uint64(now.UnixNano()))
		}
		values[k] = v
	}
	digest := h.Sum(nil)
	meta, err := json.Marshal(storedBatch{ModelVersion: b.ModelVersion, Participant: b.Participant, Rows: n, Digest: digest, PublishedAt: now.UTC()})
	if err != nil {
		return PublishResult{}, wrapf(err, "batch %q", b.ID)
	}

	res := PublishResult{BatchID: b.ID, Rows: n}
	err = s.db.Update(func(tx *bolt.Tx) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		batches := tx.Bucket(bucketBatches)
		if old := batches.Get([]byte(b.ID)); old != nil {
			var sb storedBatch
			if err := json.Unmarshal(old, &sb); err != nil {
				return fmt.Errorf("%w: batch record: %v", ErrCorrupt, err)
			}
			if !bytes.Equal(sb.Digest, digest) {
				return ErrBatchConflict
			}
			res.Duplicate = true
			return nil
		}
		if tx.Bucket(bucketModels).Get([]byte(b.ModelVersion)) == nil {
			return fmt.Errorf("%w %q", ErrUnknownModel, b.ModelVersion)
		}
		bucket := tx.Bucket(scoreBucket(b.ModelVersion))
		if bucket == nil {
			return fmt.Errorf("%w: model %q has no score bucket", ErrCorrupt, b.ModelVersion)
		}
		// A batch that sorts after everything stored only appends at the
		// right edge of the B+tree: pack its pages full, as a bulk load
		// should. Otherwise keep bbolt's default, which leaves room for
		// later inserts.
		first := b.Rows[order[0]].CustomerID
		if last, _ := bucket.Cursor().Last(); last == nil || bytes.Compare(last, bytesOf(first)) < 0 {
			bucket.FillPercent = 1.0
		}
		for k, i := range order {
			if err := bucket.Put(bytesOf(b.Rows[i].CustomerID), values[k]); err != nil {
				return err
			}
		}
		return batches.Put([]byte(b.ID), meta)
	})
	if err != nil {
		return PublishResult{}, wrapf(boltErr(err), "batch %q", b.ID)
	}
	if !res.Duplicate {
		s.log.Debug("batch stored", "batch", b.ID, "version", b.ModelVersion, "participant", b.Participant, "rows", n)
	}
	return res, nil
}

// bytesOf returns the bytes of s without copying, for bbolt calls that only
// read the key (Get, Seek) or copy it (Put). Never write to the result.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// ---- reading ----

// reader reads one model version's scores inside one read transaction.
type reader struct {
	s      *Store
	m      *modelEntry
	bucket *bolt.Bucket
	cursor *bolt.Cursor // reused across lookups: Bucket.Get allocates a cursor each time
	v      view
}

// read runs fn with a reader of version ("" is the champion) in one
// consistent read transaction.
func (s *Store) read(version string, fn func(r *reader) error) error {
	m, err := s.models.Load().resolve(version)
	if err != nil {
		return err
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(m.bucket)
		if b == nil {
			return fmt.Errorf("%w: model %q has no score bucket", ErrCorrupt, m.Version)
		}
		return fn(&reader{s: s, m: m, bucket: b, cursor: b.Cursor()})
	})
	return boltErr(err)
}

// get looks id up and leaves its value in r.v. The id must be valid.
func (r *reader) get(id string) (bool, error) {
	k, val := r.cursor.Seek(bytesOf(id))
	if k == nil || string(k) != id {
		return false, nil
	}
	if err := decodeValue(val, &r.v); err != nil {
		return false, fmt.Errorf("customer %q, model %q: %w", id, r.m.Version, err)
	}
	return true, nil
}

func (r *reader) reasons() []string {
	if r.v.nreasons == 0 {
		return nil
	}
	out := make([]string, r.v.nreasons)
	for i := range out {
		out[i] = r.s.intern.str(r.v.reasons[i])
	}
	return out
}

// record returns the value in r.v as a Record.
func (r *reader) record(id string) Record {
	return Record{
		CustomerID:   id,
		PD:           r.v.pd,
		Points:       r.v.points,
		Tier:         r.s.intern.str(r.v.tier),
		Reasons:      r.reasons(),
		ModelVersion: r.m.Version,
		JobID:        r.m.JobID,
		Round:        r.m.Round,
		ScoredAt:     unixNano(r.v.scoredAt),
	}
}

// Get returns the customer's score under version; "" means the champion.
// An unscored customer is ErrNotFound.
func (s *Store) Get(ctx context.Context, id, version string) (Record, error) {
	if err := ValidID(id); err != nil {
		return Record{}, err
	}
	var rec Record
	err := s.read(version, func(r *reader) error {
		ok, err := r.get(id)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: customer %q under model %q", ErrNotFound, id, r.m.Version)
		}
		rec = r.record(id)
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalid) {
			return Record{}, err
		}
		return Record{}, wrapf(err, "get %q", id)
	}
	return rec, nil
}

// Status is the outcome of looking up one id of a batch.
type Status uint8

// The outcomes of a lookup.
const (
	Found Status = iota + 1
	NotFound
	InvalidID
)

// Lookup is the result for one id of GetMany.
type Lookup struct {
	CustomerID string
	Status     Status
	Record     Record // set when Status is Found
}

// GetMany looks up to MaxBatchGet ids under version ("" is the champion) in
// one consistent read. The results are in the order of ids; an unknown or
// malformed id is a NotFound or InvalidID entry, not an error.
func (s *Store) GetMany(ctx context.Context, ids []string, version string) (Model, []Lookup, error) {
	if len(ids) > MaxBatchGet {
		return Model{}, nil, invalid("%d ids, over the limit of %d", len(ids), MaxBatchGet)
	}
	out := make([]Lookup, len(ids))
	var model Model
	err := s.read(version, func(r *reader) error {
		model = r.m.Model
		for i, id := range ids {
			out[i].CustomerID = id
			if ValidID(id) != nil {
				out[i].Status = InvalidID
				continue
			}
			ok, err := r.get(id)
			switch {
			case err != nil:
				return err
			case !ok:
				out[i].Status = NotFound
			default:
				out[i].Status = Found
				out[i].Record = r.record(id)
			}
		}
		return nil
	})
	if err != nil {
		return Model{}, nil, wrapf(err, "batch get")
	}
	return model, out, nil
}

// History returns the customer's score under every registered version that
// scored them, in registration order. A customer no version scored is
// ErrNotFound.
func (s *Store) History(ctx context.Context, id string) ([]Record, error) {
	if err := ValidID(id); err != nil {
		return nil, err
	}
	t := s.models.Load()
	var out []Record
	err := s.db.View(func(tx *bolt.Tx) error {
		for _, m := range t.list {
			b := tx.Bucket(m.bucket)
			if b == nil {
				return fmt.Errorf("%w: model %q has no score bucket", ErrCorrupt, m.Version)
			}
			r := reader{s: s, m: m, bucket: b, cursor: b.Cursor()}
			ok, err := r.get(id)
			if err != nil {
				return err
			}
			if ok {
				out = append(out, r.record(id))
			}
		}
		return nil
	})
	if err != nil {
		return nil, wrapf(boltErr(err), "history of %q", id)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: customer %q", ErrNotFound, id)
	}
	return out, nil
}

// scan calls fn for every customer scored under version whose tier is in
// tiers (every tier if tiers is empty), in customer id order, within one
// read transaction. The key and r.v alias the store's memory: valid only
// during the call.
func (s *Store) scan(ctx context.Context, version string, tiers []string, fn func(r *reader, key []byte) error) error {
	want := make(map[string]bool, len(tiers))
	for _, t := range tiers {
		want[t] = true
	}
	return s.read(version, func(r *reader) error {
		c := r.cursor
		n := 0
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if n++; n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if err := decodeValue(v, &r.v); err != nil {
				return fmt.Errorf("customer %q, model %q: %w", k, r.m.Version, err)
			}
			if len(want) > 0 && !want[string(r.v.tier)] {
				continue
			}
			if err := fn(r, k); err != nil {
				return err
			}
		}
		return nil
	})
}

// Scan calls fn for every customer scored under version ("" is the
// champion) whose tier is one of tiers (any tier when tiers is empty), in
// customer id order, from one consistent snapshot. It returns the model
// version scanned. An error from fn stops the scan and is returned.
func (s *Store) Scan(ctx context.Context, version string, tiers []string, fn func(Record) error) (Model, error) {
	var model Model
	err := s.scan(ctx, version, tiers, func(r *reader, key []byte) error {
		model = r.m.Model
		return fn(r.record(string(key)))
	})
	if err != nil {
		return Model{}, wrapf(err, "scan")
	}
	if model.Version == "" {
		model, err = s.Model(version)
	}
	return model, err
}
