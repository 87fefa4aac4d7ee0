package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/arm"
)

// defaultURL is where the CLI looks for the server when TRAINYARD_URL is unset.
const defaultURL = "http://127.0.0.1:8080"

// computesPath is the collection of the compute API.
const computesPath = "/api/v1/computes"

// workspacesPath is the collection of registered Azure ML workspaces.
const workspacesPath = "/api/v1/workspaces"

// maxResponseBytes bounds a response body the CLI reads.
const maxResponseBytes = 32 << 20

// apiClient speaks the server's compute JSON API.
type apiClient struct {
	base  *url.URL // scheme, host and optional path prefix, no trailing slash
	token string
	hc    *http.Client
	// computes is the compute collection the computetarget verbs work on:
	// computesPath (the local workspace) or a registered Azure ML
	// workspace's, /api/v1/workspaces/ALIAS/computes (--workspace).
	computes string
}

func newAPIClient(getenv func(string) string) (*apiClient, error) {
	raw := strings.TrimSpace(getenv("TRAINYARD_URL"))
	stored := loadCLIConfig(getenv) // `trainyard login`; the environment wins
	if raw == "" {
		raw = stored.URL
	}
	if raw == "" {
		raw = defaultURL
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("TRAINYARD_URL %q is not an http:// or https:// URL", raw)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath, u.RawQuery, u.Fragment, u.User = "", "", "", nil
	token := strings.TrimSpace(getenv("TRAINYARD_TOKEN"))
	if token == "" {
		token = stored.tokenFor(u)
	}
	return &apiClient{
		base:     u,
		token:    token,
		hc:       &http.Client{Timeout: 2 * time.Minute, CheckRedirect: refuseRedirect},
		computes: computesPath,
	}, nil
}

// refuseRedirect keeps the token home: the CLI never follows a redirect
// (net/http would send the Authorization header on to another port of the
// same host, and other headers anywhere), and says where it pointed.
func refuseRedirect(req *http.Request, _ []*http.Request) error {
	return fmt.Errorf("the server answered with a redirect to %s, which the CLI does not follow (it would carry your token there); set TRAINYARD_URL to the address the server answers on",
		req.URL.Redacted())
}

// inWorkspace points the computetarget verbs at a workspace: "" or
// compute.LocalWorkspace is the server's own, anything else a registered
// Azure ML workspace's alias.
func (c *apiClient) inWorkspace(alias string) {
	if alias == "" || alias == compute.LocalWorkspace {
		c.computes = computesPath
		return
	}
	c.computes = workspacesPath + "/" + url.PathEscape(alias) + "/computes"
}

// computePath is the API path of one compute, plus an optional action.
func (c *apiClient) computePath(name string, action ...string) string {
	p := c.computes + "/" + url.PathEscape(name)
	for _, a := range action {
		p += "/" + a
	}
	return p
}

// response is a successful answer: its status and body.
type response struct {
	status int
	body   []byte
}

// do sends one request. body, when not nil, is sent as JSON. A status of 400
// or more becomes an *apiError.
func (c *apiClient) do(ctx context.Context, method, path string, query url.Values, body any, header http.Header) (*response, error) {
	target := c.base.String() + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	return c.doURL(ctx, method, target, body, header)
}

func (c *apiClient) doURL(ctx context.Context, method, target string, body any, header http.Header) (*response, error) {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "trainyard-cli")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("cannot reach the Trainyard server at %s (set TRAINYARD_URL): %w", c.base, unwrapURLError(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("reading the server's answer: %w", err)
	}
	if resp.StatusCode >= 400 {
		return nil, newAPIError(resp, data, c.token == "")
	}
	return &response{status: resp.StatusCode, body: data}, nil
}

// unwrapURLError drops *url.Error's "Get "http://…":" prefix, which repeats the URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// decode reads a JSON body into v.
func (r *response) decode(v any) error {
	if err := json.Unmarshal(r.body, v); err != nil {
		return fmt.Errorf("the server's answer is not the JSON the CLI expects: %w", err)
	}
	return nil
}

// nextPage resolves a nextLink against the URL of the page it came in (the
// server sends paths such as /api/v1/computes?$skip=100) and refuses links to
// another server, so the bearer token is never sent anywhere else.
func (c *apiClient) nextPage(page, link string) (string, error) {
	if link == "" {
		return "", nil
	}
	base, err := url.Parse(page)
	if err != nil {
		return "", err
	}
	ref, err := url.Parse(link)
	if err != nil {
		return "", fmt.Errorf("the server's nextLink %q is not a URL", link)
	}
	u := base.ResolveReference(ref)
	if u.Scheme != c.base.Scheme || u.Host != c.base.Host {
		return "", fmt.Errorf("the server's nextLink %q points at another server; not following it", link)
	}
	return u.String(), nil
}

// maxPages bounds how many nextLink pages a list follows.
const maxPages = 1000

// listComputes fetches every page of the compute list.
func (c *apiClient) listComputes(ctx context.Context) ([]json.RawMessage, error) {
	return c.listAll(ctx, c.computes, nil, 0)
}

// listNodes fetches every page of a compute's nodes.
func (c *apiClient) listNodes(ctx context.Context, name string) ([]arm.NodeInfo, error) {
	nodes := []arm.NodeInfo{}
	next := c.base.String() + c.computePath(name, "listNodes")
	for page := 0; next != "" && page < maxPages; page++ {
		resp, err := c.doURL(ctx, http.MethodPost, next, nil, nil)
		if err != nil {
			return nil, err
		}
		var l arm.NodeList
		if len(resp.body) > 0 {
			if err := resp.decode(&l); err != nil {
				return nil, err
			}
		}
		nodes = append(nodes, l.Nodes...)
		if next, err = c.nextPage(next, l.NextLink); err != nil {
			return nil, err
		}
	}
	return nodes, nil
}

// apiError is an error answer from the server: its ErrorBody, or the status
// when the body is not one.
type apiError struct {
	status  int
	detail  arm.ErrorDetail
	noToken bool
}

func newAPIError(resp *http.Response, data []byte, noToken bool) *apiError {
	e := &apiError{status: resp.StatusCode, noToken: noToken}
	var body arm.ErrorBody
	if json.Unmarshal(data, &body) == nil && (body.Error.Code != "" || body.Error.Message != "") {
		e.detail = body.Error
	} else {
		e.detail = arm.ErrorDetail{Code: fmt.Sprintf("HTTP %d", resp.StatusCode), Message: http.StatusText(resp.StatusCode)}
		if line := firstLine(data); line != "" && !strings.HasPrefix(line, "<") {
			e.detail.Message = line
		}
	}
	return e
}

// firstLine returns the first line of a plain-text body, printable and short.
func firstLine(data []byte) string {
	line, _, _ := strings.Cut(string(data), "\n")
	line = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return -1
	}, strings.TrimSpace(line))
	if r := []rune(line); len(r) > 200 {
		line = string(r[:200]) + "…"
	}
	return line
}

// Error renders "<code>: <message>" and one "  <target>: <message>" line per detail.
func (e *apiError) Error() string {
	var b strings.Builder
	d := e.detail
	b.WriteString(d.Code + ": ")
	if d.Target != "" && len(d.Details) == 0 {
		b.WriteString(d.Target + ": ")
	}
	b.WriteString(d.Message)
	for _, sub := range d.Details {
		b.WriteString("\n  ")
		if sub.Target != "" {
			b.WriteString(sub.Target + ": ")
		}
		b.WriteString(sub.Message)
	}
	if e.status == http.StatusUnauthorized && e.noToken {
		b.WriteString("\n  hint: set TRAINYARD_TOKEN to a Trainyard access token")
	}
	return b.String()
}
