package psi

import (
	"crypto/sha256"
	"encoding/binary"
	"strings"
	"unicode/utf8"
)

const labelID = "fedscore/psi/v1 id"

// idPrefix is the hash input before the id: label ‖ len(job) ‖ job.
func idPrefix(job string) []byte {
	b := append([]byte(nil), labelID...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(job)))
	return append(b, job...)
}

// HashID is the point of one id in a job: SHA-256 of the label, the job and
// the normalised id, read as an X25519 u-coordinate. It does not normalise.
func HashID(job, id string) [PointSize]byte {
	return sha256.Sum256(append(idPrefix(job), id...))
}

// NormalizeID applies the package's own normalisation: it refuses invalid
// UTF-8, trims white space and refuses what is then empty.
func NormalizeID(id string) (string, error) {
	if !utf8.ValidString(id) {
		return "", ErrInvalidUTF8
	}
	id = strings.TrimSpace(id)
	if id == "" {
		return "", ErrEmptyID
	}
	return id, nil
}

// fault accumulates the ids with one kind of fault.
type fault struct {
	count, row, first int
	example           string
	cause             error
}

func (f *fault) add(row, first int, id string, cause error) {
	if f.count == 0 || row < f.row {
		f.row, f.first, f.example, f.cause = row, first, example(id), cause
	}
	f.count++
}

func (f *fault) merge(o fault) {
	if o.count == 0 {
		return
	}
	if f.count == 0 || o.row < f.row {
		f.row, f.first, f.example, f.cause = o.row, o.first, o.example, o.cause
	}
	f.count += o.count
}

func (f *fault) err(kind error) error {
	if f.count == 0 {
		return nil
	}
	return &IDError{Err: kind, Count: f.count, Row: f.row, FirstAt: f.first, Example: f.example, Cause: f.cause}
}

// hashIDs normalises and hashes every id on the worker pool, in row order,
// and refuses bad or duplicate ids. The first kind of fault found, in the
// order non-UTF-8, normaliser, empty, duplicate, is returned.
func hashIDs(c *Config, ids []string) ([][PointSize]byte, error) {
	if len(ids) == 0 {
		return nil, ErrNoIDs
	}
	if uint64(len(ids)) > MaxIDs {
		return nil, ErrTooManyIDs
	}
	prefix := idPrefix(c.Job)
	hashes := make([][PointSize]byte, len(ids))
	type faults struct{ utf, norm, empty fault }
	perWorker := make([]faults, c.Workers)
	parallel(len(ids), c.Workers, 1024, func(w, lo, hi int) {
		buf := make([]byte, 0, len(prefix)+64)
		buf = append(buf, prefix...)
		f := &perWorker[w]
		for i := lo; i < hi; i++ {
			raw := ids[i]
			if !utf8.ValidString(raw) {
				f.utf.add(i, -1, raw, nil)
				continue
			}
			id := strings.TrimSpace(raw)
			if c.Normalize != nil && id != "" {
				n, err := c.Normalize(id)
				if err != nil {
					f.norm.add(i, -1, raw, err)
					continue
				}
				id = strings.TrimSpace(n)
			}
			if id == "" {
				f.empty.add(i, -1, raw, nil)
				continue
			}
			buf = append(buf[:len(prefix)], id...)
			hashes[i] = sha256.Sum256(buf)
		}
	})
	var all faults
	for _, f := range perWorker {
		all.utf.merge(f.utf)
		all.norm.merge(f.norm)
		all.empty.merge(f.empty)
	}
	if err := all.utf.err(ErrInvalidUTF8); err != nil {
		return nil, err
	}
	if err := all.norm.err(ErrNormalize); err != nil {
		return nil, err
	}
	if err := all.empty.err(ErrEmptyID); err != nil {
		return nil, err
	}
	// Duplicates: equal normalised ids have equal hashes. Index by the
	// first 8 bytes and confirm on the whole hash.
	seen := make(map[uint64]uint32, len(ids))
	var dup fault
	for i := range hashes {
		k := binary.LittleEndian.Uint64(hashes[i][:8])
		j, ok := seen[k]
		if !ok {
			seen[k] = uint32(i)
			continue
		}
		if hashes[j] == hashes[i] {
			dup.add(i, int(j), ids[i], nil)
			continue
		}
		// A 64-bit prefix collision between distinct ids: rare enough to
		// settle by a linear scan of the earlier rows.
		for jj := 0; jj < i; jj++ {
			if hashes[jj] == hashes[i] {
				dup.add(i, jj, ids[i], nil)
				break
			}
		}
	}
	if err := dup.err(ErrDuplicateID); err != nil {
		return nil, err
	}
	return hashes, nil
}
