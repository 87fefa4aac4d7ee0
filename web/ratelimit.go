package web

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/httprate"
)

// DefaultLoginRate is how many requests to /login and /auth/* one client
// may make per minute.
const DefaultLoginRate = 60

// loginRateLimit limits sign-in requests (/login, /auth/*) per client. The
// client is the TCP peer (RemoteAddr), never X-Forwarded-For or X-Real-IP,
// which anyone can set to dodge the limit or to lock someone else out;
// IPv6 peers are bucketed by /64.
func loginRateLimit(perMinute int) func(http.Handler) http.Handler {
	limiter := httprate.NewRateLimiter(perMinute, time.Minute,
		httprate.WithKeyFuncs(func(r *http.Request) (string, error) { return clientKey(r), nil }),
		httprate.WithLimitHandler(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "Too many sign-in attempts from your address. Wait a minute and try again.", http.StatusTooManyRequests)
		}))
	return func(next http.Handler) http.Handler {
		limited := limiter.Handler(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/login" || strings.HasPrefix(r.URL.Path, "/auth/") {
				limited.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// clientKey is the client a limit counts against: the TCP peer, IPv6 peers
// by their /64 (see loginRateLimit).
func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return httprate.CanonicalizeIP(host)
}

// DefaultBearerFailures is how many failed bearer tokens one client address
// may send in a minute; after that its bearer requests are refused (429)
// until the minute from its first failure is over.
const DefaultBearerFailures = 20

// maxTrackedClients bounds the failure table; when it is full, windows that
// are over are swept before a new client is added.
const maxTrackedClients = 10000

// failureLimiter counts failed bearer-token attempts per client. Only
// failures count, so a client with a good token is never slowed by its own
// requests. A client over the limit has every bearer request refused, the
// good ones too, until its window ends: answering those would let guessing
// go on, each wrong guess costing only a 429 instead of a 401. A success
// does not clear the count (one's own valid token must not reset the
// guessing budget).
type failureLimiter struct {
	limit  int
	window time.Duration
	now    func() time.Time

	mu    sync.Mutex
	peers map[string]*failureWindow
}

type failureWindow struct {
	start time.Time // the first failure of the window
	n     int
}

func newFailureLimiter(limit int, window time.Duration) *failureLimiter {
	return &failureLimiter{limit: limit, window: window, now: time.Now, peers: map[string]*failureWindow{}}
}

// blocked returns how long the client must wait before its next bearer
// request is looked at, or 0.
func (l *failureLimiter) blocked(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.peers[key]
	if w == nil {
		return 0
	}
	now := l.now()
	if now.Sub(w.start) >= l.window {
		delete(l.peers, key)
		return 0
	}
	if w.n < l.limit {
		return 0
	}
	return w.start.Add(l.window).Sub(now)
}

// fail records a failed attempt of the client.
func (l *failureLimiter) fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if w := l.peers[key]; w != nil && now.Sub(w.start) < l.window {
		w.n++
		return
	}
	if len(l.peers) >= maxTrackedClients {
		for k, w := range l.peers {
			if now.Sub(w.start) >= l.window {
				delete(l.peers, k)
			}
		}
	}
	l.peers[key] = &failureWindow{start: now, n: 1}
}
