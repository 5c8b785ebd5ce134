// Package audit is the coordinator's append-only record of who did what and
// when: jobs submitted and cancelled, participants joining and dropping,
// models registered and promoted, scores exported, requests refused.
//
// The log is a JSON-lines file. Every record carries the SHA-256 of the
// previous record and its own hash over its content and that link, so
// editing, removing or reordering any record breaks the chain at that
// point, which Verify reports.
package audit

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Record is one audited event.
type Record struct {
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Actor   string    `json:"actor"`            // identity name, or "coordinator"
	Role    string    `json:"role,omitempty"`   // the actor's role
	Action  string    `json:"action"`           // e.g. job.submit, participant.join, request.denied
	Object  string    `json:"object,omitempty"` // job id, model version, method...
	Outcome string    `json:"outcome"`          // ok, denied, failed
	Detail  string    `json:"detail,omitempty"`
	Prev    string    `json:"prev"`
	Hash    string    `json:"hash"`
}

// genesis is the link of the first record.
var genesis = hex.EncodeToString(make([]byte, sha256.Size))

// hash is the record's hash over every field but Hash itself.
func (r Record) hash() (string, error) {
	r.Hash = ""
	b, err := json.Marshal(r)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// Log appends records to a file, chained to what the file already holds.
type Log struct {
	mu   sync.Mutex
	f    *os.File
	seq  uint64
	prev string
	now  func() time.Time
}

// Open opens (or creates) the log at path and checks its chain before
// appending to it: a coordinator refuses to extend a tampered log.
func Open(path string) (*Log, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: open %s: %w", path, err)
	}
	n, last, err := verify(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: %s: %w", path, err)
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		f.Close()
		return nil, err
	}
	l := &Log{f: f, seq: n, prev: genesis, now: time.Now}
	if n > 0 {
		l.prev = last
	}
	return l, nil
}

// Append writes a record, filling Seq, Time (if zero), Prev and Hash, and
// syncs it to disk before returning.
func (l *Log) Append(r Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	r.Seq = l.seq + 1
	if r.Time.IsZero() {
		r.Time = l.now().UTC()
	}
	if r.Outcome == "" {
		r.Outcome = "ok"
	}
	r.Prev = l.prev
	h, err := r.hash()
	if err != nil {
		return err
	}
	r.Hash = h
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := l.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("audit: write: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("audit: sync: %w", err)
	}
	l.seq, l.prev = r.Seq, h
	return nil
}

// Close closes the file.
func (l *Log) Close() error { return l.f.Close() }

// ErrBroken means the chain does not verify.
var ErrBroken = errors.New("audit: chain broken")

// Verify checks a whole log and returns how many records it holds.
func Verify(r io.Reader) (int, error) {
	n, _, err := verify(r)
	return int(n), err
}

func verify(r io.Reader) (uint64, string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	prev := genesis
	var n uint64
	for sc.Scan() {
		line := sc.Bytes()
		var rec Record
		if err := json.Unmarshal(line, &rec); err != nil {
			return n, prev, fmt.Errorf("%w at line %d: not a record: %v", ErrBroken, n+1, err)
		}
		if rec.Seq != n+1 {
			return n, prev, fmt.Errorf("%w at line %d: sequence %d, want %d", ErrBroken, n+1, rec.Seq, n+1)
		}
		if rec.Prev != prev {
			return n, prev, fmt.Errorf("%w at line %d: does not link to the record before it", ErrBroken, n+1)
		}
		h, err := rec.hash()
		if err != nil {
			return n, prev, err
		}
		if h != rec.Hash {
			return n, prev, fmt.Errorf("%w at line %d: content does not match its hash", ErrBroken, n+1)
		}
		prev = rec.Hash
		n++
	}
	if err := sc.Err(); err != nil {
		return n, prev, fmt.Errorf("audit: read: %w", err)
	}
	return n, prev, nil
}
