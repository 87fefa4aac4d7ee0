package pagecache

import (
	"bytes"
	"net/http"
)

// recorder takes a handler's response so it can be kept, or passed on
// unchanged when it may not be.
type recorder struct {
	header      http.Header
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

// newRecorder starts from the headers already set (security headers), so
// the handler sees what it would see on the real writer.
func newRecorder(h http.Header) *recorder { return &recorder{header: h.Clone(), status: http.StatusOK} }

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = status, true
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.wroteHeader = true
	return r.body.Write(p)
}

// keepable reports whether the response may be kept: a plain 200 that sets
// no cookie (a flash being cleared, a session being renewed), is not already
// encoded and is not too large.
func (r *recorder) keepable() bool {
	return r.status == http.StatusOK && len(r.header.Values("Set-Cookie")) == 0 &&
		r.header.Get("Content-Encoding") == "" && r.body.Len() <= maxEntryBytes
}

// replay writes the response as the handler made it.
func (r *recorder) replay(w http.ResponseWriter) {
	h := w.Header()
	for k := range h {
		if _, ok := r.header[k]; !ok {
			delete(h, k)
		}
	}
	for k, v := range r.header {
		h[k] = v
	}
	w.WriteHeader(r.status)
	_, _ = w.Write(r.body.Bytes())
}
