package slurm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/trainyard/trainyard/compute"
)

// API versions this package speaks, best first. v0.0.38 (Slurm 22.05) is
// the one tested against a real cluster and is preferred whenever the server
// offers it; the newer ones (23.02 → 24.05) are read through the same
// tolerant decoders (numbers may come as {"set","infinite","number"},
// states as arrays, exit codes as objects, the environment as a list).
var apiVersions = []string{"v0.0.38", "v0.0.41", "v0.0.40", "v0.0.39"}

// Token lifetimes: minted tokens live tokenLife and are re-minted when less
// than tokenRenew is left, so a request never carries an almost-expired one.
const (
	tokenLife  = 10 * time.Minute
	tokenRenew = 3 * time.Minute
)

// endpoint is one slurmrestd as a target reaches it.
type endpoint struct {
	target string // for Credentials
	url    string // base URL without a trailing slash
	user   string // X-SLURM-USER-NAME
}

// apiError is an error answer of slurmrestd turned into words. It keeps the
// numeric Slurm error so callers can tell "invalid job id" apart.
type apiError struct {
	status int
	codes  []int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

// Slurm's error numbers callers look at (slurm_errno.h).
const (
	esInvalidJobID     = 2017
	esInvalidPartition = 2000
)

func (e *apiError) has(code int) bool { return slices.Contains(e.codes, code) }

// restError is one entry of the "errors" array of any response.
type restError struct {
	Error       string `json:"error"`
	Description string `json:"description"`
	ErrorNumber int    `json:"error_number"`
	Errno       int    `json:"errno"`
	Source      string `json:"source"`
}

// client is the per-Backend REST state: the negotiated API version per URL
// and the minted token per target. Both are caches; losing them costs one
// probe and one signature.
type client struct {
	http  *http.Client
	creds Credentials
	now   func() time.Time

	mu       sync.Mutex
	versions map[string]versionInfo // by base URL
	tokens   map[string]mintedToken // by target + user + key digest
}

type versionInfo struct {
	api     string // e.g. "v0.0.38"
	release string // e.g. "22.05.8"
}

type mintedToken struct {
	token string
	exp   time.Time
}

// token returns the X-SLURM-USER-TOKEN for the endpoint: a token minted
// from the jwt key when there is one (short-lived, re-minted before it
// expires), else the stored token.
func (c *client) token(ctx context.Context, ep endpoint) (string, error) {
	if c.creds == nil {
		return "", fmt.Errorf("no credentials are configured for Slurm target %s: %w", ep.target, compute.ErrInvalid)
	}
	tok, key, err := c.creds(ctx, ep.target)
	if err != nil {
		return "", fmt.Errorf("reading the Slurm credentials of %s: %w", ep.target, err)
	}
	if key == "" {
		if tok == "" {
			return "", fmt.Errorf("the Slurm target %s has neither a token nor a jwt key: %w", ep.target, compute.ErrInvalid)
		}
		return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(tok), "SLURM_JWT=")), nil
	}
	digest := sha256.Sum256([]byte(key))
	cacheKey := ep.target + "\x00" + ep.user + "\x00" + string(digest[:])
	now := c.now()
	c.mu.Lock()
	m, ok := c.tokens[cacheKey]
	c.mu.Unlock()
	if ok && now.Add(tokenRenew).Before(m.exp) {
		return m.token, nil
	}
	exp := now.Add(tokenLife)
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iat": now.Unix(), "exp": exp.Unix(), "sun": ep.user,
	}).SignedString([]byte(key))
	if err != nil {
		return "", fmt.Errorf("minting a Slurm token for %s: %w", ep.user, err)
	}
	c.mu.Lock()
	c.tokens[cacheKey] = mintedToken{token: signed, exp: exp}
	c.mu.Unlock()
	return signed, nil
}

// raw sends one request to path (absolute, e.g. /slurm/v0.0.38/ping) and
// returns the status and body. Transport failures are ErrUnavailable;
// 401/403 say the credentials were refused. Other statuses are returned for
// the caller to read (slurmrestd answers errors as 500 with a JSON body).
func (c *client) raw(ctx context.Context, ep endpoint, method, path string, body any) (int, []byte, error) {
	tok, err := c.token(ctx, ep)
	if err != nil {
		return 0, nil, err
	}
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, ep.url+path, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("slurmrestd URL %q: %w", ep.url, compute.ErrInvalid)
	}
	req.Header.Set("X-SLURM-USER-NAME", ep.user)
	req.Header.Set("X-SLURM-USER-TOKEN", tok)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var (
			redirect *redirectError
			refused  *compute.AddressRefusedError
		)
		switch {
		case ctx.Err() != nil:
			return 0, nil, ctx.Err()
		case errors.As(err, &redirect):
			return 0, nil, fmt.Errorf("slurmrestd at %s: %w", ep.url, redirect)
		case errors.As(err, &refused):
			return 0, nil, fmt.Errorf("slurmrestd at %s: %w", ep.url, refused)
		}
		return 0, nil, fmt.Errorf("cannot reach slurmrestd at %s: %s: %w", ep.url, transportReason(err), compute.ErrUnavailable)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("reading the answer of slurmrestd at %s: %v: %w", ep.url, err, compute.ErrUnavailable)
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return resp.StatusCode, data, fmt.Errorf("slurmrestd refused the credentials for user %s (HTTP %d): check the token or jwt key and the user name: %w",
			ep.user, resp.StatusCode, compute.ErrForbidden)
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return resp.StatusCode, data, fmt.Errorf("slurmrestd at %s answered HTTP %d: %w", ep.url, resp.StatusCode, compute.ErrUnavailable)
	}
	return resp.StatusCode, data, nil
}

// redirectError is a redirect slurmrestd answered with. It is never
// followed: the request carries X-SLURM-USER-TOKEN, which net/http would
// send on to wherever the redirect points. It matches ErrInvalid: the
// attached URL is not where slurmrestd answers.
type redirectError struct {
	status   int
	location string
}

func (e *redirectError) Error() string {
	return fmt.Sprintf("answered HTTP %d, a redirect to %s; Trainyard does not follow redirects (they would carry the Slurm token there): attach the URL slurmrestd answers on",
		e.status, e.location)
}

func (e *redirectError) Is(target error) bool { return target == compute.ErrInvalid }

// refuseRedirect is the http.Client CheckRedirect of every slurmrestd client.
func refuseRedirect(req *http.Request, _ []*http.Request) error {
	status := 0
	if req.Response != nil {
		status = req.Response.StatusCode
	}
	return &redirectError{status: status, location: excerpt(req.URL.Redacted())}
}

// maxExcerpt bounds how much of a remote answer reaches a user.
const maxExcerpt = 200

// excerpt is remote text made fit to show: valid UTF-8, terminal escape
// sequences and other control characters removed (runs of them and of
// white space become one space), at most maxExcerpt characters.
func excerpt(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	n, space, i := 0, false, 0
	for i < len(s) && n < maxExcerpt {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r == 0x1b && i < len(s) && s[i] == '[' {
			// CSI: ESC [ parameters… final byte in 0x40–0x7e.
			for i++; i < len(s) && (s[i] < 0x40 || s[i] > 0x7e); i++ {
			}
			i = min(i+1, len(s))
			continue
		}
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == '\u2028' || r == '\u2029' || (r >= 0x200b && r <= 0x200f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
			space = n > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			n++
			space = false
		}
		b.WriteRune(r)
		n++
	}
	out := b.String()
	if strings.TrimSpace(s[i:]) != "" {
		out += "…" // something was cut
	}
	return out
}

// transportReason shortens a net/http error to its cause (no URL, no token:
// the URL is said by the caller and headers never appear in these errors).
func transportReason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

// call sends a request to an API path below /slurm/<version>/ and decodes a
// successful JSON answer into out (nil = ignore). A response whose errors
// array is not empty becomes an *apiError, whatever the HTTP status.
func (c *client) call(ctx context.Context, ep endpoint, method, apiPath string, body, out any) error {
	v, err := c.version(ctx, ep)
	if err != nil {
		return err
	}
	status, data, err := c.raw(ctx, ep, method, "/slurm/"+v.api+"/"+apiPath, body)
	if err != nil {
		return err
	}
	if status == http.StatusNotFound {
		// slurmrestd was upgraded or restarted with other plugins: choose
		// the version again on the next call.
		c.mu.Lock()
		delete(c.versions, ep.url)
		c.mu.Unlock()
	}
	return decodeAnswer(status, data, out)
}

func decodeAnswer(status int, data []byte, out any) error {
	var env struct {
		Errors []restError `json:"errors"`
	}
	jsonErr := json.Unmarshal(data, &env)
	if len(env.Errors) > 0 {
		return errorsToErr(status, env.Errors)
	}
	if status < 200 || status > 299 {
		text := excerpt(string(data))
		if text == "" {
			text = http.StatusText(status)
		}
		return &apiError{status: status, msg: fmt.Sprintf("slurmrestd answered HTTP %d: %s", status, text)}
	}
	if jsonErr != nil {
		return &apiError{status: status, msg: "slurmrestd sent an answer that is not JSON: " + excerpt(jsonErr.Error())}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return &apiError{status: status, msg: "slurmrestd sent an answer this server cannot read: " + excerpt(err.Error())}
		}
	}
	return nil
}

// errorsToErr joins slurmrestd's errors array into one message, e.g.
// "Unable to find JobId=99999 (Invalid job id specified)".
func errorsToErr(status int, es []restError) error {
	e := &apiError{status: status}
	var parts []string
	for _, x := range es {
		code := x.ErrorNumber
		if code == 0 {
			code = x.Errno
		}
		if code != 0 {
			e.codes = append(e.codes, code)
		}
		var s string
		switch {
		case x.Description != "" && x.Error != "" && x.Description != x.Error:
			s = x.Description + " (" + x.Error + ")"
		case x.Description != "":
			s = x.Description
		case x.Error != "":
			s = x.Error
		default:
			s = "error " + strconv.Itoa(code)
		}
		if !slices.Contains(parts, s) {
			parts = append(parts, s)
		}
	}
	e.msg = "slurmrestd: " + excerpt(strings.Join(parts, "; "))
	return e
}

// version returns the API version to use at ep.url, asking the server once.
// /openapi/v3 lists the paths the server offers; a server that does not
// serve it is probed with /ping per version.
func (c *client) version(ctx context.Context, ep endpoint) (versionInfo, error) {
	c.mu.Lock()
	v, ok := c.versions[ep.url]
	c.mu.Unlock()
	if ok {
		return v, nil
	}
	offered, err := c.offered(ctx, ep)
	if err != nil {
		return versionInfo{}, err
	}
	for _, want := range apiVersions {
		if !slices.Contains(offered, want) {
			continue
		}
		status, data, err := c.raw(ctx, ep, http.MethodGet, "/slurm/"+want+"/ping", nil)
		if err != nil {
			return versionInfo{}, err
		}
		var ping pingResponse
		if err := decodeAnswer(status, data, &ping); err != nil {
			return versionInfo{}, refusedPing(ep, err)
		}
		v = versionInfo{api: want, release: ping.Meta.release()}
		c.mu.Lock()
		c.versions[ep.url] = v
		c.mu.Unlock()
		return v, nil
	}
	return versionInfo{}, fmt.Errorf("slurmrestd at %s offers no REST API version this server speaks (it offers %s; wanted one of %s)",
		ep.url, orNone(offered), strings.Join(apiVersions, ", "))
}

// refusedPing explains a failed ping. When slurmctld rejects a token
// (wrong jwt key, expired, unknown user) slurmrestd does not answer 401: it
// answers 500 with only SLURM_ERROR (-1) and "slurmctld config is unable to
// load" (measured on 22.05), while a controller that is down gives a
// specific error number (e.g. 1007, connection failure). So a ping failing
// with -1 alone is reported as refused credentials.
func refusedPing(ep endpoint, err error) error {
	var ae *apiError
	if !errors.As(err, &ae) || len(ae.codes) == 0 {
		return err
	}
	for _, c := range ae.codes {
		if c != -1 {
			return err
		}
	}
	return fmt.Errorf("slurmrestd refused the credentials for user %s: slurmctld rejected the request without a reason, "+
		"which is what a wrong jwt key, an expired token or an unknown user looks like (%s): %w", ep.user, ae.msg, compute.ErrForbidden)
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// offered lists the /slurm/vX.Y.Z versions the server serves.
func (c *client) offered(ctx context.Context, ep endpoint) ([]string, error) {
	status, data, err := c.raw(ctx, ep, http.MethodGet, "/openapi/v3", nil)
	if err != nil {
		return nil, err
	}
	if status == http.StatusOK {
		var spec struct {
			Paths map[string]json.RawMessage `json:"paths"`
		}
		if json.Unmarshal(data, &spec) == nil && len(spec.Paths) > 0 {
			var vs []string
			for p := range spec.Paths {
				rest, ok := strings.CutPrefix(p, "/slurm/")
				if !ok {
					continue
				}
				v, _, _ := strings.Cut(rest, "/")
				if !slices.Contains(vs, v) {
					vs = append(vs, v)
				}
			}
			slices.Sort(vs)
			return vs, nil
		}
	}
	// No spec: probe the versions one by one.
	var vs []string
	for _, v := range apiVersions {
		status, _, err := c.raw(ctx, ep, http.MethodGet, "/slurm/"+v+"/ping", nil)
		if err != nil {
			return nil, err
		}
		if status != http.StatusNotFound {
			vs = append(vs, v)
		}
	}
	return vs, nil
}
