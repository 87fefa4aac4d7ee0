package pagecache

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// page is a handler that renders its render count, the request's nonce
// (twice, as a page's script tags carry it) and the caller.
type page struct {
	renders atomic.Int64
	status  int
	cookie  bool
	block   chan struct{} // when set, renders wait for it
}

// testNonce carries a request's CSP nonce, as the security headers'
// middleware puts it in the context (not in a request header, which would
// be part of the key).
type testNonce struct{}

func nonceOf(r *http.Request) string { n, _ := r.Context().Value(testNonce{}).(string); return n }

func (p *page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := p.renders.Add(1)
	if p.block != nil {
		<-p.block
	}
	if p.cookie {
		http.SetCookie(w, &http.Cookie{Name: "flash", Value: "x"})
	}
	if p.status != 0 {
		w.WriteHeader(p.status)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	nonce := nonceOf(r)
	fmt.Fprintf(w, `<script nonce="%s"></script>render %d for %s at %s<script nonce="%s"></script>%s`,
		nonce, n, r.Header.Get("X-Who"), r.URL.Path, nonce, strings.Repeat("row ", 500))
}

type fixture struct {
	version atomic.Uint64
	now     time.Time
	mu      sync.Mutex
	cache   *Cache
	page    *page
	handler http.Handler
}

func newFixture(p *page) *fixture {
	f := &fixture{now: time.Unix(1_700_000_000, 0), page: p}
	f.cache = New(Options{
		Version:  f.version.Load,
		Identity: func(r *http.Request) string { return r.Header.Get("X-Who") },
		Nonce:    nonceOf,
		Now: func() time.Time {
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.now
		},
	})
	f.handler = f.cache.Handler(p)
	return f
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

// get requests path as who with a fresh nonce and returns the body as the
// client reads it (gunzipped when it came gzipped) and the response.
func (f *fixture) get(t *testing.T, path, who, nonce string, gz bool, extra ...string) (string, *http.Response) {
	t.Helper()
	r := httptest.NewRequest("GET", path, nil)
	r.Header.Set("X-Who", who)
	r = r.WithContext(context.WithValue(r.Context(), testNonce{}, nonce))
	if gz {
		r.Header.Set("Accept-Encoding", "gzip, deflate, br")
	}
	for i := 0; i+1 < len(extra); i += 2 {
		r.Header.Set(extra[i], extra[i+1])
	}
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, r)
	resp := w.Result()
	var body io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatalf("gzip header: %v", err)
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("reading the body (gzip checks its CRC and length): %v", err)
	}
	return string(b), resp
}

func renderOf(body string) string {
	_, rest, _ := strings.Cut(body, "render ")
	n, _, _ := strings.Cut(rest, " ")
	return n
}

func TestCacheServesCopiesWhileNothingChanged(t *testing.T) {
	for _, gz := range []bool{true, false} {
		t.Run(fmt.Sprintf("gzip=%v", gz), func(t *testing.T) {
			f := newFixture(&page{})
			first, _ := f.get(t, "/computes", "alice", "nonceA", gz)
			second, resp := f.get(t, "/computes", "alice", "nonceB", gz)
			if renderOf(first) != "1" || renderOf(second) != "1" {
				t.Fatalf("renders: first %q, second %q; want both from render 1", renderOf(first), renderOf(second))
			}
			if strings.Contains(second, "nonceA") || strings.Count(second, `nonce="nonceB"`) != 2 {
				t.Errorf("the copy must carry this response's nonce in both places, not the first one's: %.80q", second)
			}
			if got := resp.Header.Get("Content-Type"); got != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", got)
			}
			if gz != (resp.Header.Get("Content-Encoding") == "gzip") {
				t.Errorf("Content-Encoding %q with gzip accepted = %v", resp.Header.Get("Content-Encoding"), gz)
			}
			if resp.ContentLength <= 0 {
				t.Errorf("Content-Length missing")
			}
		})
	}
}

func TestCacheRendersAgainWhenItShould(t *testing.T) {
	cases := []struct {
		name   string
		status int
		cookie bool
		change func(f *fixture)
		who    string
		path   string
		header []string
	}{
		{name: "a write committed", change: func(f *fixture) { f.version.Add(1) }},
		{name: "the copy is MaxAge old", change: func(f *fixture) { f.advance(DefaultMaxAge) }},
		{name: "the clock went back", change: func(f *fixture) { f.advance(-time.Millisecond) }},
		{name: "another caller", who: "bob"},
		{name: "another URL", path: "/computes?tab=instances"},
		{name: "another htmx target", header: []string{"HX-Request", "true", "HX-Target", "compute-table"}},
		{name: "another cookie (a flash)", header: []string{"Cookie", "flash=Deleted"}},
		{name: "a response that sets a cookie is never kept", cookie: true},
		{name: "an error is never kept", status: http.StatusNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(&page{status: c.status, cookie: c.cookie})
			f.get(t, "/computes", "alice", "n1", true)
			if c.change != nil {
				c.change(f)
			}
			who, path := "alice", "/computes"
			if c.who != "" {
				who = c.who
			}
			if c.path != "" {
				path = c.path
			}
			body, _ := f.get(t, path, who, "n2", true, c.header...)
			if renderOf(body) != "2" {
				t.Errorf("answered from render %s; want a new render", renderOf(body))
			}
			if c.who != "" && !strings.Contains(body, "for "+c.who) {
				t.Errorf("body is not for %s: %.80q", c.who, body)
			}
		})
	}
}

// The transfer headers do not make another copy: a browser and curl share it.
func TestCacheIgnoresTransferHeaders(t *testing.T) {
	f := newFixture(&page{})
	f.get(t, "/runs", "alice", "n1", true)
	body, resp := f.get(t, "/runs", "alice", "n2", false, "If-None-Match", `"x"`, "Connection", "keep-alive")
	if renderOf(body) != "1" || resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("render %s, encoding %q: want render 1, plain", renderOf(body), resp.Header.Get("Content-Encoding"))
	}
}

func TestCacheSkipsAnonymousAndWrites(t *testing.T) {
	f := newFixture(&page{})
	f.get(t, "/computes", "", "n1", true)
	f.get(t, "/computes", "", "n2", true)
	r := httptest.NewRequest("POST", "/computes", nil)
	r.Header.Set("X-Who", "alice")
	f.handler.ServeHTTP(httptest.NewRecorder(), r)
	f.handler.ServeHTTP(httptest.NewRecorder(), r)
	if got := f.page.renders.Load(); got != 4 {
		t.Errorf("renders = %d, want 4 (nothing cached)", got)
	}
	if f.cache.Len() != 0 {
		t.Errorf("cache holds %d copies", f.cache.Len())
	}
}

// Requests that miss together wait for one render instead of each making it.
func TestCacheRendersOnceForConcurrentMisses(t *testing.T) {
	p := &page{block: make(chan struct{})}
	f := newFixture(p)
	var wg sync.WaitGroup
	bodies := make([]string, 8)
	for i := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bodies[i], _ = f.get(t, "/runs", "alice", fmt.Sprintf("nonce%d", i), true)
		}()
	}
	// Wait until one render has started and the others are waiting on it.
	for p.renders.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	for {
		f.cache.mu.Lock()
		waiting := 0
		for _, r := range f.cache.inflight {
			waiting += r.waiters
		}
		f.cache.mu.Unlock()
		if waiting == 7 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(p.block)
	wg.Wait()
	if got := p.renders.Load(); got != 1 {
		t.Errorf("%d renders for 8 concurrent requests, want 1", got)
	}
	for i, b := range bodies {
		if !strings.Contains(b, fmt.Sprintf(`nonce="nonce%d"`, i)) {
			t.Errorf("request %d did not get its own nonce: %.60q", i, b)
		}
	}
}

// A handler that panics releases the requests waiting on its render.
func TestCachePanicReleasesWaiters(t *testing.T) {
	var calls atomic.Int64
	c := New(Options{Version: func() uint64 { return 1 }, Identity: func(*http.Request) string { return "alice" }})
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			panic("boom")
		}
		fmt.Fprint(w, "ok")
	}))
	func() {
		defer func() { _ = recover() }()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))
	}()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/x", nil))
	if w.Body.String() != "ok" {
		t.Errorf("after a panic the next request got %q", w.Body.String())
	}
}

func TestCacheStaysWithinMaxBytes(t *testing.T) {
	p := &page{}
	var version atomic.Uint64
	c := New(Options{Version: version.Load, Identity: func(r *http.Request) string { return r.URL.Path }, MaxBytes: 20_000})
	h := c.Handler(p)
	for i := range 50 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", fmt.Sprintf("/p%d", i), nil))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bytes > 20_000 || len(c.entries) == 0 || len(c.entries) != len(c.order) {
		t.Errorf("bytes %d, entries %d, order %d: want within 20,000 bytes and consistent", c.bytes, len(c.entries), len(c.order))
	}
	if _, ok := c.entries[key(httptest.NewRequest("GET", "/p49", nil), "/p49")]; !ok {
		t.Errorf("the newest copy was evicted")
	}
}

func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"":                     false,
		"gzip":                 true,
		"br, gzip;q=0.8":       true,
		"GZIP":                 true,
		"gzip;q=0":             false,
		"gzip; q=0.000":        false,
		"deflate, br":          false,
		"*":                    true,
		"identity, gzip;q=0.5": true,
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept-Encoding", header)
		if got := acceptsGzip(r); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", header, got, want)
		}
	}
}

// FuzzGzipAssembly: whatever the body and wherever the nonce falls, the
// assembled gzip stream decodes (CRC and length checked) to the body with
// the fresh nonce.
func FuzzGzipAssembly(f *testing.F) {
	f.Add([]byte(`<script nonce="N0NCE"></script>x<script nonce="N0NCE">`), "N0NCE", "fresh")
	f.Add([]byte("N0NCEN0NCE"), "N0NCE", "")
	f.Add([]byte(""), "", "abc")
	f.Add(bytes.Repeat([]byte("abcdefgh"), 20000), "cde", "0123456789012345678901")
	f.Fuzz(func(t *testing.T, body []byte, old, fresh string) {
		if len(fresh) > 1000 || len(old) == 0 && fresh != "" {
			return
		}
		rec := newRecorder(http.Header{})
		rec.body.Write(body)
		e := newEntry(rec, old, 1, time.Now())
		want := body
		if old != "" {
			want = bytes.ReplaceAll(body, []byte(old), []byte(fresh))
		}
		zr, err := gzip.NewReader(bytes.NewReader(e.gzip(fresh)))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("decoded %d bytes, want %d", len(got), len(want))
		}
	})
}

// FuzzAcceptsGzip: any header parses without panicking, and "gzip" listed
// with no q-value is always accepted.
func FuzzAcceptsGzip(f *testing.F) {
	f.Add("gzip;q=0, br")
	f.Add(",,;;=")
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["Accept-Encoding"] = []string{header}
		_ = acceptsGzip(r)
		r.Header["Accept-Encoding"] = []string{"gzip, " + header}
		if !acceptsGzip(r) {
			t.Fatalf("gzip first in %q not accepted", "gzip, "+header)
		}
	})
}

// A copy that is only too old is served while one request renders its
// successor; a copy of another version never is.
func TestCacheServesOldCopyWhileItsSuccessorRenders(t *testing.T) {
	p := &page{}
	f := newFixture(p)
	f.get(t, "/runs", "alice", "n0", true)
	f.advance(DefaultMaxAge)
	p.block = make(chan struct{})
	done := make(chan string)
	go func() {
		body, _ := f.get(t, "/runs", "alice", "n1", true)
		done <- body
	}()
	for p.renders.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	if body, _ := f.get(t, "/runs", "alice", "n2", true); renderOf(body) != "1" {
		t.Errorf("while the successor renders got render %s, want the old copy (1)", renderOf(body))
	}
	close(p.block)
	if body := <-done; renderOf(body) != "2" {
		t.Errorf("the refreshing request got render %s, want 2", renderOf(body))
	}
	if body, _ := f.get(t, "/runs", "alice", "n3", true); renderOf(body) != "2" {
		t.Errorf("after the refresh got render %s, want 2", renderOf(body))
	}
	p.block = nil
	f.version.Add(1)
	if body, _ := f.get(t, "/runs", "alice", "n4", true); renderOf(body) != "3" {
		t.Errorf("after a write got render %s, want a new render (3)", renderOf(body))
	}
}

// A render whose request ended meanwhile is not kept (it may be partial),
// and the requests waiting on it render for themselves.
func TestCacheDropsRendersOfAbandonedRequests(t *testing.T) {
	p := &page{}
	f := newFixture(p)
	ctx, cancel := context.WithCancel(context.Background())
	r := httptest.NewRequest("GET", "/runs/x", nil).WithContext(ctx)
	r.Header.Set("X-Who", "alice")
	cancel()
	f.handler.ServeHTTP(httptest.NewRecorder(), r)
	if f.cache.Len() != 0 {
		t.Fatalf("the render of an abandoned request was kept")
	}
	if body, _ := f.get(t, "/runs/x", "alice", "n1", true); renderOf(body) != "2" {
		t.Errorf("the next request got render %s, want a render of its own (2)", renderOf(body))
	}
}
