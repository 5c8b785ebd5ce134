// Package wire decodes the binary messages of fedscore's secure protocols
// without ever panicking on untrusted bytes: every read checks the length
// left, and the first problem sticks, so a decoder reads a whole message
// and asks once whether it was well formed.
package wire

import (
	"encoding/binary"
	"fmt"
)

// Reader reads little-endian fields from a message.
type Reader struct {
	b         []byte
	err       error
	malformed error // the calling package's sentinel
}

// NewReader reads data; problems wrap malformed.
func NewReader(data []byte, malformed error) *Reader {
	return &Reader{b: data, malformed: malformed}
}

// OK reports whether every read so far succeeded.
func (r *Reader) OK() bool { return r.err == nil }

// Err is the first problem, or nil.
func (r *Reader) Err() error { return r.err }

// Len is how many bytes are left.
func (r *Reader) Len() int { return len(r.b) }

// Fail records a problem, if none was recorded before.
func (r *Reader) Fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", r.malformed, what)
	}
}

// Take returns the next n bytes, or nil after a problem.
func (r *Reader) Take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b) < n {
		r.Fail("short " + what)
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// U8 reads a byte.
func (r *Reader) U8(what string) uint8 {
	if v := r.Take(1, what); v != nil {
		return v[0]
	}
	return 0
}

// U16 reads a little-endian uint16.
func (r *Reader) U16(what string) uint16 {
	if v := r.Take(2, what); v != nil {
		return binary.LittleEndian.Uint16(v)
	}
	return 0
}

// U32 reads a little-endian uint32.
func (r *Reader) U32(what string) uint32 {
	if v := r.Take(4, what); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

// U64 reads a little-endian uint64.
func (r *Reader) U64(what string) uint64 {
	if v := r.Take(8, what); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}

// Bool reads a byte that must be 0 or 1.
func (r *Reader) Bool(what string) bool {
	switch r.U8(what) {
	case 0:
		return false
	case 1:
		return true
	}
	r.Fail(what + " not 0 or 1")
	return false
}

// End checks nothing is left over and returns the first problem.
func (r *Reader) End() error {
	if r.err == nil && len(r.b) != 0 {
		r.Fail(fmt.Sprintf("%d trailing bytes", len(r.b)))
	}
	return r.err
}
