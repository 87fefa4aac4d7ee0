package pagecache

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"hash/crc32"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// entry is one kept response: its headers and its body, cut at the CSP
// nonce, each piece kept plain and raw-deflated.
type entry struct {
	key     [32]byte
	version uint64
	at      time.Time
	header  http.Header
	// plain are the body's pieces between the nonces; deflated[i] is
	// plain[i] compressed on its own and ended by a sync flush, so the
	// pieces and stored blocks of the fresh nonce between them make one
	// valid deflate stream (RFC 1951 §3.2.4: a stored block may follow any
	// byte-aligned block end).
	plain    [][]byte
	deflated [][]byte
	size     int
}

// compressLevel matches the server's on-the-fly compression.
const compressLevel = 5

func newEntry(rec *recorder, nonce string, version uint64, at time.Time) *entry {
	header := rec.header.Clone()
	for _, h := range []string{"Content-Security-Policy", "Content-Length", "Content-Encoding", "Date"} {
		header.Del(h)
	}
	e := &entry{version: version, at: at, header: header, plain: splitNonce(rec.body.Bytes(), nonce)}
	var buf bytes.Buffer
	zw, _ := flate.NewWriter(&buf, compressLevel) // the level is valid
	for _, p := range e.plain {
		buf.Reset()
		zw.Reset(&buf)
		_, _ = zw.Write(p) // writes to a bytes.Buffer do not fail
		_ = zw.Flush()
		d := bytes.Clone(buf.Bytes())
		e.deflated = append(e.deflated, d)
		e.size += len(p) + len(d)
	}
	return e
}

// serve answers from the copy with this response's nonce.
func (e *entry) serve(w http.ResponseWriter, r *http.Request, nonce string) {
	h := w.Header()
	for k, v := range e.header {
		h[k] = v
	}
	if !slices.Contains(h.Values("Vary"), "Accept-Encoding") {
		h.Add("Vary", "Accept-Encoding")
	}
	if !acceptsGzip(r) {
		n := 0
		for _, p := range e.plain {
			n += len(p)
		}
		n += len(nonce) * (len(e.plain) - 1)
		h.Set("Content-Length", strconv.Itoa(n))
		w.WriteHeader(http.StatusOK)
		for i, p := range e.plain {
			if i > 0 {
				_, _ = w.Write([]byte(nonce))
			}
			_, _ = w.Write(p)
		}
		return
	}
	body := e.gzip(nonce)
	h.Set("Content-Encoding", "gzip")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// gzipHeader is RFC 1952's member header: deflate, no name, no time, OS
// unknown.
var gzipHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}

// gzip assembles the gzip body: the deflated pieces with the nonce between
// them in stored blocks, an empty final block, and the CRC-32 and length of
// the plain body.
func (e *entry) gzip(nonce string) []byte {
	n := len(gzipHeader) + 5 + 8
	for _, d := range e.deflated {
		n += len(d) + 5 + len(nonce)
	}
	out := make([]byte, 0, n)
	out = append(out, gzipHeader...)
	crc, size := uint32(0), 0
	for i, d := range e.deflated {
		if i > 0 {
			out = appendStored(out, []byte(nonce), false)
			crc = crc32.Update(crc, crc32.IEEETable, []byte(nonce))
			size += len(nonce)
		}
		out = append(out, d...)
		crc = crc32.Update(crc, crc32.IEEETable, e.plain[i])
		size += len(e.plain[i])
	}
	out = appendStored(out, nil, true)
	out = binary.LittleEndian.AppendUint32(out, crc)
	return binary.LittleEndian.AppendUint32(out, uint32(size))
}

// appendStored appends one stored (uncompressed) deflate block holding p
// (at most 65,535 bytes); the stream must be at a byte boundary, as a sync
// flush leaves it.
func appendStored(out, p []byte, final bool) []byte {
	var head byte // BFINAL 0, BTYPE 00, then padding to the byte
	if final {
		head = 1
	}
	out = append(out, head)
	out = binary.LittleEndian.AppendUint16(out, uint16(len(p)))
	out = binary.LittleEndian.AppendUint16(out, ^uint16(len(p)))
	return append(out, p...)
}
