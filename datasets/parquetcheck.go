package datasets

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// parquet-go trusts the sizes and counts a file declares: a damaged footer
// or page header can make it allocate gigabytes (or, for LZ4, loop growing
// a buffer) before it notices anything is wrong. The checks here walk the
// same bytes first and reject declarations that the file cannot back.
// They bound what one damaged file can cost; they do not verify data.

// Limits on what a Parquet file may ask of the reader.
const (
	maxFooterBytes = 64 << 20 // the footer (file metadata)
	maxHeaderBytes = 1 << 20  // one page header, statistics included
	maxPageBytes   = 1 << 28  // one page, uncompressed
	maxPageValues  = 1 << 26  // values (and so levels) in one page
	maxThriftDepth = 32       // nesting of thrift structures and lists
)

// errShort marks thrift bytes that end too soon; a page header probe then
// retries with more bytes.
var errShort = errors.New("truncated")

// checkFooter checks the file's tail and the thrift structure of its
// footer.
func checkFooter(r io.ReaderAt, size int64) error {
	if size < 12 {
		return fmt.Errorf("%d bytes is too short for a parquet file", size)
	}
	var tail [8]byte
	if err := readFull(r, tail[:], size-8); err != nil {
		return err
	}
	switch string(tail[4:]) {
	case "PAR1":
	case "PARE":
		return errors.New("encrypted parquet files are not supported")
	default:
		return fmt.Errorf("no PAR1 magic at the end (%q)", tail[4:])
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4]))
	if n > size-12 || n > maxFooterBytes {
		return fmt.Errorf("footer of %d bytes does not fit a file of %d bytes", n, size)
	}
	footer := make([]byte, n)
	if err := readFull(r, footer, size-8-n); err != nil {
		return err
	}
	w := thriftWalker{b: footer}
	if err := w.skipStruct(0); err != nil {
		return fmt.Errorf("footer: %w", err)
	}
	return nil
}

// checkPages walks the page headers of one column chunk, as parquet-go will
// read them, and checks each page's declared sizes and counts against the
// chunk's bytes and the row group's rows.
func checkPages(r io.ReaderAt, size int64, md *format.ColumnMetaData, codec format.CompressionCodec, rows int64) error {
	base := md.DataPageOffset
	if md.DictionaryPageOffset != 0 {
		base = md.DictionaryPageOffset
	}
	total := md.TotalCompressedSize
	if base < 4 || total < 0 || base > size || total > size-base {
		return fmt.Errorf("column chunk at %d+%d lies outside the file", base, total)
	}
	buf := make([]byte, 256)
	for off := int64(0); off < total; {
		probe := min(int64(256), total-off)
		var hlen int
		for {
			buf = buf[:probe]
			if err := readFull(r, buf, base+off); err != nil {
				return err
			}
			w := thriftWalker{b: buf}
			err := w.skipStruct(0)
			if err == nil {
				hlen = w.off
				break
			}
			if err == errShort && probe < min(maxHeaderBytes, total-off) {
				probe = min(probe*16, maxHeaderBytes, total-off)
				buf = make([]byte, probe)
				continue
			}
			return fmt.Errorf("page header at byte %d: %w", base+off, err)
		}
		var h format.PageHeader
		if err := thrift.Unmarshal(new(thrift.CompactProtocol), buf[:hlen], &h); err != nil {
			return fmt.Errorf("page header at byte %d: %w", base+off, err)
		}
		bodyAt := base + off + int64(hlen)
		if err := checkPage(r, &h, bodyAt, total-off-int64(hlen), codec, rows); err != nil {
			return fmt.Errorf("page at byte %d: %w", base+off, err)
		}
		off += int64(hlen) + int64(h.CompressedPageSize)
	}
	return nil
}

func checkPage(r io.ReaderAt, h *format.PageHeader, bodyAt, room int64, codec format.CompressionCodec, rows int64) error {
	if h.CompressedPageSize < 0 || int64(h.CompressedPageSize) > room {
		return fmt.Errorf("%d compressed bytes, but %d left in the column chunk", h.CompressedPageSize, room)
	}
	if h.UncompressedPageSize < 0 || h.UncompressedPageSize > maxPageBytes {
		return fmt.Errorf("%d uncompressed bytes", h.UncompressedPageSize)
	}
	maxValues := min(rows, maxPageValues)
	values := func(what string, n int32) error {
		if n < 0 || int64(n) > maxValues {
			return fmt.Errorf("%s %d, but the row group has %d rows (limit %d a page)", what, n, rows, maxPageValues)
		}
		return nil
	}
	compressedAt, compressedLen := bodyAt, int64(h.CompressedPageSize)
	uncompressed := int64(h.UncompressedPageSize)
	switch h.Type {
	case format.DataPage:
		d, ok := h.DataPageHeader.Get()
		if !ok {
			return errors.New("data page without its header")
		}
		if err := values("values", d.NumValues); err != nil {
			return err
		}
	case format.DataPageV2:
		d, ok := h.DataPageHeaderV2.Get()
		if !ok {
			return errors.New("data page v2 without its header")
		}
		for _, c := range []struct {
			what string
			n    int32
		}{{"values", d.NumValues}, {"rows", d.NumRows}, {"nulls", d.NumNulls}} {
			if err := values(c.what, c.n); err != nil {
				return err
			}
		}
		levels := int64(d.RepetitionLevelsByteLength) + int64(d.DefinitionLevelsByteLength)
		if d.RepetitionLevelsByteLength < 0 || d.DefinitionLevelsByteLength < 0 || levels > compressedLen || levels > uncompressed {
			return fmt.Errorf("%d bytes of levels in a page of %d", levels, compressedLen)
		}
		if compressed, ok := d.IsCompressed.Get(); ok && !compressed {
			return nil
		}
		compressedAt, compressedLen, uncompressed = bodyAt+levels, compressedLen-levels, uncompressed-levels
	case format.DictionaryPage:
		d, ok := h.DictionaryPageHeader.Get()
		if !ok {
			return errors.New("dictionary page without its header")
		}
		if d.NumValues < 0 || d.NumValues > h.UncompressedPageSize || d.NumValues > maxPageValues {
			return fmt.Errorf("dictionary of %d values in %d bytes", d.NumValues, h.UncompressedPageSize)
		}
	default:
		return nil // skipped by parquet-go
	}
	return checkCompressed(r, codec, compressedAt, compressedLen, uncompressed)
}

// checkCompressed checks that a compressed block declares (snappy, zstd)
// or produces (LZ4) no more than the page's uncompressed size.
func checkCompressed(r io.ReaderAt, codec format.CompressionCodec, at, n, uncompressed int64) error {
	if n <= 0 {
		return nil
	}
	switch codec {
	case format.Snappy:
		head := make([]byte, min(n, 10))
		if err := readFull(r, head, at); err != nil {
			return err
		}
		w := thriftWalker{b: head}
		size, err := w.uvarint()
		if err != nil {
			return fmt.Errorf("snappy block: %w", err)
		}
		if size > uint64(uncompressed) {
			return fmt.Errorf("snappy block of %d bytes in a page of %d", size, uncompressed)
		}
	case format.Zstd:
		head := make([]byte, min(n, 18))
		if err := readFull(r, head, at); err != nil {
			return err
		}
		if size, ok := zstdContentSize(head); ok && size > uint64(uncompressed) {
			return fmt.Errorf("zstd frame of %d bytes in a page of %d", size, uncompressed)
		}
	case format.Lz4Raw:
		block := make([]byte, n)
		if err := readFull(r, block, at); err != nil {
			return err
		}
		if err := checkLZ4Block(block, uncompressed); err != nil {
			return fmt.Errorf("lz4 block: %w", err)
		}
	}
	return nil
}

// zstdContentSize reads the content size from a zstd frame header, when
// the frame declares one.
func zstdContentSize(b []byte) (uint64, bool) {
	if len(b) < 5 || binary.LittleEndian.Uint32(b) != 0xFD2FB528 {
		return 0, false
	}
	desc := b[4]
	single := desc&0x20 != 0
	at := 5
	if !single {
		at++ // window descriptor
	}
	at += []int{0, 1, 2, 4}[desc&3] // dictionary id
	var size int
	switch desc >> 6 {
	case 0:
		if single {
			size = 1
		}
	case 1:
		size = 2
	case 2:
		size = 4
	case 3:
		size = 8
	}
	if size == 0 || at+size > len(b) {
		return 0, false
	}
	var v uint64
	for i := size - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[at+i])
	}
	if size == 2 {
		v += 256
	}
	return v, true
}

// checkLZ4Block walks the sequences of a raw LZ4 block and checks that it
// decodes to at most limit bytes, with every literal inside the block and
// every match offset inside the output so far.
func checkLZ4Block(b []byte, limit int64) error {
	var out int64
	length := func(i int, n int64) (int, int64, error) {
		if n != 15 {
			return i, n, nil
		}
		for {
			if i >= len(b) {
				return i, 0, errShort
			}
			c := b[i]
			i++
			n += int64(c)
			if n > limit {
				return i, 0, fmt.Errorf("decodes to more than %d bytes", limit)
			}
			if c != 255 {
				return i, n, nil
			}
		}
	}
	for i := 0; i < len(b); {
		token := b[i]
		i++
		var lit int64
		var err error
		if i, lit, err = length(i, int64(token>>4)); err != nil {
			return err
		}
		if lit > int64(len(b)-i) {
			return errShort
		}
		i += int(lit)
		out += lit
		if out > limit {
			return fmt.Errorf("decodes to more than %d bytes", limit)
		}
		if i == len(b) {
			return nil // the last sequence has literals only
		}
		if i+2 > len(b) {
			return errShort
		}
		offset := int64(binary.LittleEndian.Uint16(b[i:]))
		i += 2
		if offset == 0 || offset > out {
			return fmt.Errorf("match offset %d with %d bytes decoded", offset, out)
		}
		var match int64
		if i, match, err = length(i, int64(token&15)); err != nil {
			return err
		}
		out += match + 4
		if out > limit {
			return fmt.Errorf("decodes to more than %d bytes", limit)
		}
	}
	return nil
}

func readFull(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// thriftWalker steps over thrift compact-protocol values without building
// them, failing on sizes the bytes cannot hold.
type thriftWalker struct {
	b   []byte
	off int
}

func (w *thriftWalker) byte() (byte, error) {
	if w.off >= len(w.b) {
		return 0, errShort
	}
	c := w.b[w.off]
	w.off++
	return c, nil
}

func (w *thriftWalker) uvarint() (uint64, error) {
	var x uint64
	for shift := 0; shift < 64; shift += 7 {
		c, err := w.byte()
		if err != nil {
			return 0, err
		}
		x |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return x, nil
		}
	}
	return 0, errors.New("varint longer than 64 bits")
}

func (w *thriftWalker) advance(n uint64) error {
	if n > uint64(len(w.b)-w.off) {
		return errShort
	}
	w.off += int(n)
	return nil
}

func (w *thriftWalker) skipStruct(depth int) error {
	if depth > maxThriftDepth {
		return errors.New("thrift nesting too deep")
	}
	for {
		h, err := w.byte()
		if err != nil {
			return err
		}
		if h == 0 {
			return nil // stop
		}
		if h>>4 == 0 { // the field id follows in full
			if _, err := w.uvarint(); err != nil {
				return err
			}
		}
		typ := h & 0x0f
		if typ == 1 || typ == 2 {
			continue // a bool field's value is its type
		}
		if err := w.skip(typ, depth); err != nil {
			return err
		}
	}
}

func (w *thriftWalker) skip(typ byte, depth int) error {
	switch typ {
	case 1, 2, 3: // bool (inside a list) or byte
		return w.advance(1)
	case 4, 5, 6: // i16, i32, i64
		_, err := w.uvarint()
		return err
	case 7: // double
		return w.advance(8)
	case 8: // binary
		n, err := w.uvarint()
		if err != nil {
			return err
		}
		return w.advance(n)
	case 9, 10: // list, set
		h, err := w.byte()
		if err != nil {
			return err
		}
		n := uint64(h >> 4)
		if n == 15 {
			if n, err = w.uvarint(); err != nil {
				return err
			}
		}
		if n > uint64(len(w.b)-w.off) { // every element takes a byte or more
			return errShort
		}
		if depth >= maxThriftDepth {
			return errors.New("thrift nesting too deep")
		}
		for range n {
			if err := w.skip(h&0x0f, depth+1); err != nil {
				return err
			}
		}
		return nil
	case 11: // map
		n, err := w.uvarint()
		if err != nil || n == 0 {
			return err
		}
		kv, err := w.byte()
		if err != nil {
			return err
		}
		if n > uint64(len(w.b)-w.off)/2 {
			return errShort
		}
		if depth >= maxThriftDepth {
			return errors.New("thrift nesting too deep")
		}
		for range n {
			if err := w.skip(kv>>4, depth+1); err != nil {
				return err
			}
			if err := w.skip(kv&0x0f, depth+1); err != nil {
				return err
			}
		}
		return nil
	case 12: // struct
		return w.skipStruct(depth + 1)
	}
	return fmt.Errorf("unknown thrift type %d", typ)
}

// codecOf is the compression codec parquet-go will decode a column with:
// the first column chunk's, for every row group.
func codecOf(pc *parquet.Column) format.CompressionCodec {
	if c := pc.Compression(); c != nil {
		return c.CompressionCodec()
	}
	return format.Uncompressed
}
