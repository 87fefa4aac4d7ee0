// Package web is the HTTP plumbing of Trainyard: the route table, the
// middleware (security headers, authentication, roles, CSRF, logging,
// recovery) and static files. The actions themselves live in handlers.
package web

import (
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/handlers"
	"github.com/trainyard/trainyard/web/pagecache"
)

// Config is the server's wiring.
type Config struct {
	Handlers *handlers.Handlers
	Sessions SessionLookup
	// Tokens resolve bearer tokens, tried in order (the login token first).
	Tokens []TokenResolver
	Static http.Handler
	Logger *slog.Logger
	// SecureCookies and HSTS are on when the public URL is https.
	Secure bool
	// DataVersion is the store's version (store.Store.Version); with it,
	// the routes marked Cached are answered from the page cache while the
	// data they show is unchanged. Nil turns the cache off.
	DataVersion func() uint64
	// SessionIdle ends a browser session after this long without a request.
	SessionIdle time.Duration
	// LoginRate is how many requests to /login and /auth/* one client may
	// make per minute (default DefaultLoginRate).
	LoginRate int
}

// NewServer returns the whole application as one http.Handler.
func NewServer(cfg Config) http.Handler {
	if cfg.SessionIdle == 0 {
		cfg.SessionIdle = time.Hour
	}
	if cfg.LoginRate <= 0 {
		cfg.LoginRate = DefaultLoginRate
	}
	h := cfg.Handlers
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.Use(requestLog(cfg.Logger))
	r.Use(securityHeaders(cfg.Secure, h.FormActionOrigins()))
	r.Use(loginRateLimit(cfg.LoginRate))
	r.Use(middleware.Compress(5, compressibleTypes...))
	tokens := append([]TokenResolver{TokenResolverFunc(h.ResolveLoginToken)}, cfg.Tokens...)
	r.Use(authenticate(h, tokens, cfg.Sessions, cfg.SessionIdle, newFailureLimiter(DefaultBearerFailures, time.Minute), cfg.Logger))
	r.NotFound(h.Wrap(func(w http.ResponseWriter, r *http.Request) error {
		return compute.NotFoundf("path", "There is no page at %s.", r.URL.Path)
	}))
	r.MethodNotAllowed(h.Wrap(func(w http.ResponseWriter, r *http.Request) error {
		return &compute.CodedError{Kind: compute.ErrInvalid, Code: "MethodNotAllowed", Message: r.Method + " is not allowed on " + r.URL.Path + "."}
	}))
	var cache *pagecache.Cache
	if cfg.DataVersion != nil {
		cache = pagecache.New(pagecache.Options{Version: cfg.DataVersion, Identity: cacheIdentity,
			Nonce: func(r *http.Request) string { return handlers.NonceFrom(r.Context()) }})
	}
	mount(r, h, Routes(h, cfg.Static), cache)

	// CSRF: every state-changing request from a browser must be same-origin
	// (Sec-Fetch-Site / Origin); header-less clients (CLI, curl) pass.
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(h.Wrap(func(w http.ResponseWriter, r *http.Request) error {
		return &compute.CodedError{Kind: compute.ErrForbidden, Code: "CrossOriginRequest", Message: "Cross-origin request refused."}
	}))
	return csrf.Handler(r)
}

// compressibleTypes are the responses gzipped (or deflated) on the fly: every
// text type. The static assets come precompressed (brotli or gzip) with their
// Content-Encoding set, which the compressor leaves as it is.
var compressibleTypes = []string{
	"text/*", // html, css, javascript, plain, csv, markdown, xml, event-stream…
	"application/json", "application/problem+json", "application/manifest+json",
	"application/javascript", "application/x-javascript",
	"application/xml", "application/atom+xml", "application/rss+xml",
	"image/svg+xml",
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// cacheIdentity is who a cached page is for: the signed-in user as the
// role check saw them, so a changed role or a revoked session never meets
// a copy made before (authentication runs on every request).
func cacheIdentity(r *http.Request) string {
	u := compute.UserFrom(r.Context())
	if u == nil {
		return ""
	}
	return u.ID + "\x00" + u.Name + "\x00" + u.Role.String() + "\x00" + u.RunID
}
