//go:build !(386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm)

package secagg

import "encoding/binary"

// leWords decodes b as little-endian uint64 words into scratch.
func leWords(b []byte, scratch []uint64) []uint64 {
	w := scratch[:len(b)/8]
	for i := range w {
		w[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return w
}
