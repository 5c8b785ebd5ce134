//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm

package secagg

import "unsafe"

// leWords views b as little-endian uint64 words without copying. This is a
// little-endian machine, so the view and a binary.LittleEndian decode agree
// (TestLEWords); scratch is unused.
func leWords(b []byte, _ []uint64) []uint64 {
	if len(b) < 8 {
		return nil
	}
	return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/8)
}
