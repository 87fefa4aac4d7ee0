package slurm

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"github.com/trainyard/trainyard/compute"
)

const redirectToken = "slurm-token-that-must-stay-home"

func tokenOnly(context.Context, string) (string, string, error) { return redirectToken, "", nil }

func slurmTarget(url string) *compute.Target {
	return &compute.Target{Name: "hpc", Kind: compute.KindSlurm, Attach: &compute.AttachSpec{RESTURL: url, SlurmUser: "alice"}}
}

// TestRedirectIsNeverFollowed: a slurmrestd that answers with a redirect
// gets an error naming where it pointed, and the place it pointed to never
// sees a request (so never the token), for every redirect status.
func TestRedirectIsNeverFollowed(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		if r.Header.Get("X-SLURM-USER-TOKEN") != "" {
			t.Errorf("the token reached the redirect's target: %s %s", r.Method, r.URL)
		}
	}))
	defer other.Close()
	for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		var asked atomic.Int64
		rest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			asked.Add(1)
			http.Redirect(w, r, other.URL+"/stolen"+r.URL.Path, status)
		}))
		b := New(Config{Credentials: tokenOnly})
		_, err := b.Version(context.Background(), slurmTarget(rest.URL))
		rest.Close()
		want := other.URL + "/stolen/openapi/v3"
		switch {
		case err == nil:
			t.Errorf("HTTP %d: no error", status)
		case !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "does not follow redirects"):
			t.Errorf("HTTP %d: error %q does not name %s", status, err, want)
		case !errors.Is(err, compute.ErrInvalid) || errors.Is(err, compute.ErrUnavailable):
			t.Errorf("HTTP %d: error %q should be ErrInvalid (the URL is wrong), not ErrUnavailable", status, err)
		case strings.Contains(err.Error(), redirectToken):
			t.Errorf("HTTP %d: the error shows the token", status)
		}
		if asked.Load() != 1 {
			t.Errorf("HTTP %d: slurmrestd asked %d times, want once", status, asked.Load())
		}
	}
	if n := elsewhere.Load(); n != 0 {
		t.Fatalf("the redirects' target saw %d requests, want none", n)
	}
}

// TestLinkLocalIsNeverContacted: cloud metadata and link-local addresses
// are refused when the connection is made, before anything is sent.
func TestLinkLocalIsNeverContacted(t *testing.T) {
	b := New(Config{Credentials: tokenOnly})
	for _, u := range []string{"http://169.254.169.254", "http://169.254.0.1:6820", "http://[fe80::1%25lo]:6820", "http://[fd00:ec2::254]",
		"http://[::ffff:169.254.169.254]:80", "http://[64:ff9b::a9fe:a9fe]:80"} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		start := time.Now()
		_, err := b.Version(ctx, slurmTarget(u))
		cancel()
		var refused *compute.AddressRefusedError
		if !errors.As(err, &refused) || !errors.Is(err, compute.ErrForbidden) || !strings.Contains(err.Error(), "never contacts") {
			t.Errorf("%s: %v, want a refused address", u, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: refused after %s; it must be refused before connecting", u, d)
		}
	}
}

// TestRemoteErrorBodyIsAnExcerpt: what slurmrestd says in an error reaches
// the user as at most maxExcerpt printable characters.
func TestRemoteErrorBodyIsAnExcerpt(t *testing.T) {
	hostile := "\x1b[31mred\x1b[0m\x00\r\nline two\u202e" + strings.Repeat("A", 5000) + "\x07"
	rest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(hostile))
	}))
	defer rest.Close()
	b := New(Config{Credentials: tokenOnly})
	_, err := b.Version(context.Background(), slurmTarget(rest.URL))
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, r := range msg {
		if unicode.IsControl(r) || r == '\u202e' {
			t.Fatalf("error carries control character %U: %q", r, msg)
		}
	}
	if !strings.Contains(msg, "HTTP 500: red line two AAAA") || strings.Count(msg, "A") > maxExcerpt {
		t.Fatalf("error %q: want a short excerpt of the body", msg)
	}
	wrapped := strings.NewReplacer("\n", " ", "\t", " ").Replace(msg)
	if len([]rune(wrapped)) > 400 {
		t.Fatalf("error is %d characters long", len([]rune(wrapped)))
	}
}

func TestExcerpt(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"  plain text  ", "plain text"},
		{"a\r\nb\tc", "a b c"},
		{"\x1b[1;31merror\x1b[0m: no", "error: no"},
		{"nul\x00byte", "nul byte"},
		{"bad \xff utf8", "bad \ufffd utf8"},
		{"bidi \u202egnp.exe", "bidi gnp.exe"},
		{strings.Repeat("x", 250), strings.Repeat("x", maxExcerpt) + "…"},
		{strings.Repeat("x", maxExcerpt) + " \r\n", strings.Repeat("x", maxExcerpt)},
		{"cut \x1b[31", "cut"},
		{"\x1b[", ""},
		{strings.Repeat("é", 201), strings.Repeat("é", maxExcerpt) + "…"},
	} {
		if got := excerpt(tc.in); got != tc.want {
			t.Errorf("excerpt(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestAttachNetworksAtConnect: a slurmrestd outside the Admin's networks is
// never asked anything.
func TestAttachNetworksAtConnect(t *testing.T) {
	var asked atomic.Int64
	rest := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { asked.Add(1) }))
	defer rest.Close()
	tenOnly, err := compute.ParseNetPolicy("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	b := New(Config{Credentials: tokenOnly, AttachNetworks: tenOnly})
	for _, u := range []string{rest.URL, strings.Replace(rest.URL, "127.0.0.1", "localhost", 1)} {
		_, err := b.Version(context.Background(), slurmTarget(u))
		if !errors.Is(err, compute.ErrForbidden) || !strings.Contains(err.Error(), "outside the networks attached compute may be in (10.0.0.0/8)") {
			t.Errorf("%s: %v, want the address refused", u, err)
		}
	}
	if n := asked.Load(); n != 0 {
		t.Fatalf("slurmrestd outside the networks was asked %d times", n)
	}
}

// FuzzExcerpt: whatever a server sends, the excerpt is printable and short.
func FuzzExcerpt(f *testing.F) {
	for _, s := range []string{"", "\x1b[", "\x1b[31mx", strings.Repeat("é", 300), "a\u202eb\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := excerpt(s)
		if n := len([]rune(out)); n > maxExcerpt+1 {
			t.Fatalf("%d characters", n)
		}
		for _, r := range out {
			if unicode.IsControl(r) || r == '\u202e' {
				t.Fatalf("control character %U in %q", r, out)
			}
		}
	})
}
