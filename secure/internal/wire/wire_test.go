package wire

import (
	"errors"
	"testing"
)

var errBad = errors.New("test: malformed")

func TestReader(t *testing.T) {
	r := NewReader([]byte{7, 1, 0, 1, 0, 0, 0, 1}, errBad)
	if r.U8("a") != 7 || r.U16("b") != 1 || !r.Bool("c") || r.Len() != 4 {
		t.Fatal("fields misread")
	}
	if err := r.End(); !errors.Is(err, errBad) {
		t.Fatalf("trailing bytes: %v", err)
	}
	short := NewReader([]byte{1, 2}, errBad)
	if short.U32("x") != 0 || short.OK() || short.U8("y") != 0 {
		t.Fatal("a short read did not stick")
	}
	if err := short.End(); !errors.Is(err, errBad) {
		t.Fatalf("short: %v", err)
	}
	if b := NewReader([]byte{2}, errBad); b.Bool("flag") || b.OK() {
		t.Fatal("bool 2 accepted")
	}
}

func FuzzReader(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(data, errBad)
		r.U8("a")
		r.Take(int(r.U16("n")), "b")
		r.U64("c")
		r.Bool("d")
		r.End()
	})
}
