// Package pagecache keeps the pages and JSON lists people keep open,
// rendered and compressed, for as long as what they show cannot have
// changed: the store's version (every committed write moves it) is the same
// as when the copy was made, and the copy is younger than MaxAge, which
// bounds what a page shows that is not in the store (relative times, a
// machine's load). A page refreshed by 32 clients, or by one browser's
// live section after an unrelated change, is then rendered once, not once
// a request (issue "Throughput at scale"; docs/ARCHITECTURE.md, "Page
// cache").
//
// A copy is kept per caller and per request: the key covers the method,
// the URL, who is asking (Options.Identity, taken after authentication, so
// a revoked session or a changed role never reaches a copy) and every
// request header but the few that only negotiate the transfer. Only a 200
// that sets no cookie is kept. The page's CSP nonce is replaced by the
// request's own on every answer, so no two answers share one.
package pagecache

import (
	"bytes"
	"crypto/sha256"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Options configures a Cache.
type Options struct {
	// Version is the version of the data pages are made of; a copy made at
	// another version is not served.
	Version func() uint64
	// Identity names who is asking, as pages depend on it (user, role,
	// token scope); "" means the request is not cached.
	Identity func(*http.Request) string
	// Nonce is the CSP nonce of this response ("" when there is none); it
	// is cut out of stored bodies and put back fresh on every answer.
	Nonce func(*http.Request) string
	// MaxAge bounds how long a copy is served (default DefaultMaxAge).
	MaxAge time.Duration
	// MaxBytes bounds the plain bytes kept (default DefaultMaxBytes); the
	// oldest copies go first.
	MaxBytes int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

const (
	// DefaultMaxAge: a page may show a relative time or an outside figure
	// at most this much older than a fresh render would.
	DefaultMaxAge = time.Second
	// DefaultMaxBytes keeps the cache's share of the server's memory small
	// (issue "Throughput at scale": RSS under 100 MB).
	DefaultMaxBytes = 4 << 20
	// maxEntryBytes: a larger body is served but not kept.
	maxEntryBytes = 1 << 20
)

// Cache is safe for concurrent use.
type Cache struct {
	opts Options

	mu       sync.Mutex
	entries  map[[32]byte]*entry
	order    []*entry // oldest first, for eviction
	bytes    int
	inflight map[[32]byte]*render
}

// render is one request's render of a key that others with the same key
// wait for instead of rendering it again: when a copy expires under load,
// the page is made once, not once per waiting connection.
type render struct {
	version uint64
	done    chan struct{}
	entry   *entry // nil when the answer could not be kept
	waiters int    // requests waiting for it (under Cache.mu)
}

// New returns an empty cache.
func New(opts Options) *Cache {
	if opts.MaxAge <= 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Nonce == nil {
		opts.Nonce = func(*http.Request) string { return "" }
	}
	return &Cache{opts: opts, entries: make(map[[32]byte]*entry), inflight: make(map[[32]byte]*render)}
}

// Handler serves GET requests from the cache when it can, and otherwise
// lets next answer, keeping what it answered when it may be kept.
func (c *Cache) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		who := c.opts.Identity(r)
		if who == "" {
			next.ServeHTTP(w, r)
			return
		}
		k := key(r, who)
		version, now := c.opts.Version(), c.opts.Now()
		e, wait, mine := c.lookup(k, version, now)
		if wait != nil {
			select {
			case <-wait.done:
				e = wait.entry
			case <-r.Context().Done():
				return
			}
		}
		if e != nil {
			e.serve(w, r, c.opts.Nonce(r))
			return
		}
		rec := newRecorder(w.Header())
		finished := false
		defer func() {
			if !finished { // the handler panicked: release the waiters
				c.finish(k, mine, nil)
			}
		}()
		next.ServeHTTP(rec, r)
		nonce := c.opts.Nonce(r)
		// A render whose request was abandoned meanwhile (htmx replaces a
		// section's refresh when the next change comes) may have been cut
		// short: its reads fail on the ended context, and a handler that
		// shows less rather than fail would leave a partial page to keep.
		if rec.keepable() && r.Context().Err() == nil {
			e = newEntry(rec, nonce, version, now)
		}
		c.finish(k, mine, e)
		finished = true
		if e == nil {
			rec.replay(w)
			return
		}
		e.serve(w, r, nonce)
	})
}

// lookup returns the copy under k if it is still current; else a render of
// k in flight at this version to wait for; else nothing, and then mine is
// the render this request is to make (nil when another one, of an older
// version, is in flight: this request renders without joining).
//
// A copy that is only too old (the data did not change) is still served
// while one request renders its successor, so that under load the page
// does not stall every connection once a second: it is then at most MaxAge
// plus one render old.
func (c *Cache) lookup(k [32]byte, version uint64, now time.Time) (e *entry, wait, mine *render) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.inflight[k]
	if e = c.entries[k]; e != nil {
		age := now.Sub(e.at)
		switch {
		case e.version != version || age < 0:
			c.remove(k, e)
		case age < c.opts.MaxAge:
			return e, nil, nil
		case f != nil && f.version == version:
			return e, nil, nil // its successor is being made
		}
	}
	if f != nil {
		if f.version == version {
			f.waiters++
			return nil, f, nil
		}
		return nil, nil, nil
	}
	mine = &render{version: version, done: make(chan struct{})}
	c.inflight[k] = mine
	return nil, nil, mine
}

// finish keeps e (when not nil) under k and hands it to the requests that
// waited for this render.
func (c *Cache) finish(k [32]byte, mine *render, e *entry) {
	if e != nil {
		c.store(k, e)
	}
	if mine == nil {
		return
	}
	c.mu.Lock()
	if c.inflight[k] == mine {
		delete(c.inflight, k)
	}
	c.mu.Unlock()
	mine.entry = e
	close(mine.done)
}

// store keeps e under k, evicting the oldest copies beyond MaxBytes.
func (c *Cache) store(k [32]byte, e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.entries[k]; old != nil {
		c.remove(k, old)
	}
	e.key = k
	c.entries[k] = e
	c.order = append(c.order, e)
	c.bytes += e.size
	for c.bytes > c.opts.MaxBytes && len(c.order) > 0 {
		c.remove(c.order[0].key, c.order[0])
	}
}

// remove drops e (the copy under k); the caller holds c.mu.
func (c *Cache) remove(k [32]byte, e *entry) {
	if c.entries[k] == e {
		delete(c.entries, k)
	}
	if i := slices.Index(c.order, e); i >= 0 {
		c.order = slices.Delete(c.order, i, i+1)
		c.bytes -= e.size
	}
}

// Len reports how many copies are kept (for tests and metrics).
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// transferHeaders only negotiate how a response travels, not what it says;
// the cache answers them itself.
var transferHeaders = map[string]bool{
	"Accept-Encoding": true, "Connection": true, "Keep-Alive": true, "Te": true,
	"If-None-Match": true, "If-Modified-Since": true,
}

// key digests everything a response may depend on.
func key(r *http.Request, who string) [32]byte {
	h := sha256.New()
	write := func(s string) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	write(r.Method)
	write(r.Host)
	write(r.URL.RequestURI())
	write(who)
	names := make([]string, 0, len(r.Header))
	for name := range r.Header {
		if !transferHeaders[name] {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		write(name)
		for _, v := range r.Header[name] {
			write(v)
		}
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// acceptsGzip reports whether the client takes gzip (a q of 0 refuses it).
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") && strings.TrimSpace(name) != "*" {
			continue
		}
		q := strings.ReplaceAll(params, " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

// splitNonce cuts body at every occurrence of nonce.
func splitNonce(body []byte, nonce string) [][]byte {
	if nonce == "" {
		return [][]byte{body}
	}
	return bytes.Split(body, []byte(nonce))
}
