package web

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5/middleware"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/handlers"
)

// SessionLookup finds the user of a browser session token.
type SessionLookup interface {
	LookupSession(ctx context.Context, token string, idle time.Duration) (*compute.User, error)
}

// securityHeaders sets the headers every response carries, with a fresh CSP
// nonce per request (htmx runs with allowEval off, so no unsafe-eval).
// formAction lists origins besides 'self' that forms may lead to (the
// OpenID provider's: sign-out is a POST that redirects there, and browsers
// apply form-action to redirects too).
func securityHeaders(secure bool, formAction []string) func(http.Handler) http.Handler {
	formActionSrc := strings.Join(append([]string{"'self'"}, formAction...), " ")
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b := make([]byte, 16)
			_, _ = rand.Read(b)
			nonce := base64.RawStdEncoding.EncodeToString(b)
			h := w.Header()
			h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'nonce-"+nonce+"'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action "+formActionSrc+"; frame-ancestors 'none'")
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "no-referrer")
			h.Set("Cross-Origin-Opener-Policy", "same-origin")
			h.Set("X-Frame-Options", "DENY")
			if secure {
				h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
			}
			if !strings.HasPrefix(r.URL.Path, "/static/") {
				h.Set("Cache-Control", "no-store")
			}
			next.ServeHTTP(w, r.WithContext(handlers.WithNonce(r.Context(), nonce)))
		})
	}
}

// TokenResolver turns a bearer token into the user it stands for. It returns
// an error matching compute.ErrUnauthenticated when the token is not one of
// its own, so the next resolver may try.
type TokenResolver interface {
	ResolveToken(ctx context.Context, token string) (*compute.User, error)
}

// TokenResolverFunc adapts a function to TokenResolver.
type TokenResolverFunc func(ctx context.Context, token string) (*compute.User, error)

// ResolveToken calls f.
func (f TokenResolverFunc) ResolveToken(ctx context.Context, token string) (*compute.User, error) {
	return f(ctx, token)
}

// authenticate puts the user in the context: from a bearer token (CLI, API,
// a run's tracking calls) or from the session cookie (browser). Requests
// without either go on as anonymous; the route's role check decides.
func authenticate(h *handlers.Handlers, resolvers []TokenResolver, sessions SessionLookup, idle time.Duration, failures *failureLimiter, log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r = r.WithContext(handlers.WithAuditScope(r.Context(), r.RemoteAddr))
			var user *compute.User
			if auth := r.Header.Get("Authorization"); auth != "" {
				client := clientKey(r)
				if wait := failures.blocked(client); wait > 0 {
					secs := int((wait + time.Second - 1) / time.Second)
					w.Header().Set("Retry-After", strconv.Itoa(secs))
					h.Fail(w, r, &compute.CodedError{Kind: compute.ErrTooManyRequests, Code: "TooManyFailedTokens",
						Message: fmt.Sprintf("Too many invalid bearer tokens came from your address: its bearer tokens are refused for the next %d s.", secs)})
					return
				}
				token, ok := strings.CutPrefix(auth, "Bearer ")
				if ok {
					user = resolveToken(r.Context(), resolvers, strings.TrimSpace(token), log)
				}
				if user == nil {
					failures.fail(client)
					h.Fail(w, r, &compute.CodedError{Kind: compute.ErrUnauthenticated, Code: "InvalidAuthenticationToken", Message: "The bearer token is not valid."})
					return
				}
			} else if c, err := r.Cookie(h.SessionCookieName()); err == nil && c.Value != "" {
				if u, err := sessions.LookupSession(r.Context(), c.Value, idle); err == nil {
					user = u
				}
			}
			if user != nil {
				r = r.WithContext(compute.WithUser(r.Context(), user))
			}
			next.ServeHTTP(w, r)
		})
	}
}

func resolveToken(ctx context.Context, resolvers []TokenResolver, token string, log *slog.Logger) *compute.User {
	if token == "" {
		return nil
	}
	for _, res := range resolvers {
		u, err := res.ResolveToken(ctx, token)
		if err == nil && u != nil {
			return u
		}
		if err != nil && !errors.Is(err, compute.ErrUnauthenticated) {
			log.ErrorContext(ctx, "resolve bearer token", "err", err)
		}
	}
	return nil
}

// requireRole refuses a request whose user lacks the role: 401 when nobody
// is signed in (pages redirect to the login help), 403 when the role is short.
func requireRole(h *handlers.Handlers, role compute.Role, allowRunToken bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u := compute.UserFrom(r.Context())
			switch {
			case u == nil && !strings.HasPrefix(r.URL.Path, "/api/") && r.Method == http.MethodGet && r.Header.Get("HX-Request") == "":
				http.Redirect(w, r, "/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			case u == nil:
				h.Fail(w, r, &compute.CodedError{Kind: compute.ErrUnauthenticated, Code: "AuthenticationRequired", Message: "Sign in first: send Authorization: Bearer <token> or open the login link."})
			case u.RunID != "" && !allowRunToken:
				h.Fail(w, r, &compute.CodedError{Kind: compute.ErrForbidden, Code: "AuthorizationFailed", Message: "A run's tracking token only works for that run's tracking calls."})
			case !u.Can(role):
				h.Fail(w, r, &compute.CodedError{Kind: compute.ErrForbidden, Code: "AuthorizationFailed", Message: "Your role (" + u.Role.String() + ") does not allow this; it needs " + role.String() + "."})
			default:
				next.ServeHTTP(w, r)
			}
		})
	}
}

// requestLog logs one line per request, never headers or bodies (they may
// hold tokens and secrets).
func requestLog(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			start := time.Now()
			next.ServeHTTP(ww, r)
			level := slog.LevelDebug
			if ww.Status() >= 500 {
				level = slog.LevelError
			}
			log.Log(r.Context(), level, "request", "method", r.Method, "path", r.URL.Path, "status", ww.Status(), "ms", time.Since(start).Milliseconds())
		})
	}
}
