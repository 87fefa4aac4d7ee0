package web

import (
	"net"
	"net/http"
	"strings"
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
		httprate.WithKeyFuncs(func(r *http.Request) (string, error) {
			host, _, err := net.SplitHostPort(r.RemoteAddr)
			if err != nil {
				host = r.RemoteAddr
			}
			return httprate.CanonicalizeIP(host), nil
		}),
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
