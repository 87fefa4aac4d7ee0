// Package armreplay is an HTTPS Azure Resource Manager for tests: it
// answers the Machine Learning Services compute operations with the
// published REST examples of api-version 2025-12-01 (testdata/), keeps the
// computes it was given or created, follows long-running operations through
// Azure-AsyncOperation and Location, pages by nextLink, answers 429 with
// Retry-After on demand, and serves the Microsoft identity platform's
// client-credentials token endpoint under its own URL (so one server is
// both TRAINYARD_ARM_ENDPOINT and TRAINYARD_AZURE_AUTHORITY_HOST).
package armreplay

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/azure"
)

// The service principal the token endpoint accepts.
const (
	TenantID     = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	ClientID     = "0c0a6f3e-6a51-4d4f-9a8e-3b8f2b5e7a11"
	ClientSecret = "replay-client-secret"
	// Scope is the one scope tokens are issued for.
	Scope = "https://management.azure.com/.default"
)

// Request is one request the server answered.
type Request struct {
	Method, Path string
	Query        string
	At           time.Time
	Status       int
	Principal    string
}

// Server is the replaying ARM.
type Server struct {
	*httptest.Server
	mu         sync.Mutex
	workspaces map[string]map[string]map[string]any // workspace path (lower case) → compute name → body
	ops        map[string]*operation
	requests   []Request
	throttle   map[string]int // "METHOD suffix" → 429s still to send
	quota      map[string]string
	tokens     map[string]string // access token → principal
	forbidden  map[string]bool   // principals refused writes
	refresh    map[string]string // refresh token → principal (delegated sign-in)
	// polls is how many status reads answer InProgress before an
	// operation ends (default 2; SetPolls).
	polls int
	// held: every operation answers InProgress, however often it is read
	// (HoldOperations), until ReleaseOperations.
	held bool
	// retryAfter, when set, goes with every InProgress answer as ARM's
	// Retry-After, which the SDK's pollers wait instead of their own
	// interval (SetRetryAfter).
	retryAfter string
	// adminSecrets: whether the PUT of an attached compute (by name) carried
	// a password or private key (AdminSecretsSent).
	adminSecrets map[string]bool
}

type operation struct {
	left   int
	done   func() // applied when the operation ends well
	failed map[string]any
	ended  bool
}

// The examples' workspace.
const (
	Subscription  = "34adfa4f-cedf-4dc0-ba29-b6d1a69ab345"
	ResourceGroup = "testrg123"
	WorkspaceName = "workspaces123"
)

// Workspace is the examples' workspace, under alias.
func Workspace(alias string) compute.Workspace {
	return compute.Workspace{Alias: alias, SubscriptionID: Subscription, ResourceGroup: ResourceGroup, Name: WorkspaceName}
}

// New starts the server with the examples' workspace holding the computes
// of Compute/list.json (two AKS computes), the cluster of
// Compute/get/AmlCompute.json as "cpu-cluster" and the instance of
// Compute/get/ComputeInstance.json as "ci-replay".
func New(t testing.TB) *Server {
	s := &Server{workspaces: map[string]map[string]map[string]any{}, ops: map[string]*operation{},
		throttle: map[string]int{}, quota: map[string]string{}, tokens: map[string]string{},
		forbidden: map[string]bool{}, refresh: map[string]string{}, polls: 2, adminSecrets: map[string]bool{}}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	ws := s.workspace(Workspace("").ComputesID())
	list := must(t, "Compute/list.json")
	for _, v := range list.body("200")["value"].([]any) {
		c := v.(map[string]any)
		ws[c["name"].(string)] = c
	}
	for name, file := range map[string]string{"cpu-cluster": "Compute/get/AmlCompute.json", "ci-replay": "Compute/get/ComputeInstance.json"} {
		c := must(t, file).body("200")
		rename(c, Workspace("").ComputesID(), name)
		ws[name] = c
	}
	return s
}

func must(t testing.TB, name string) example {
	ex, err := load(name)
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

// CAFile writes the server's certificate as PEM and returns its path: what
// SSL_CERT_FILE names for a process that should trust it.
func (s *Server) CAFile(t testing.TB) string {
	p := filepath.Join(t.TempDir(), "replay-ca.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Config is the server configuration of a Trainyard whose ARM endpoint and
// authority are this server, with its service principal.
func (s *Server) Config() azure.Config {
	return azure.Config{Endpoint: s.URL, AuthorityHost: s.URL, TenantID: TenantID, ClientID: ClientID, ClientSecret: ClientSecret}
}

// ServiceOptions are azure.ServiceOptions for tests: a client trusting this
// server's certificate (as SSL_CERT_FILE=CAFile would) and fast polling.
func (s *Server) ServiceOptions() azure.ServiceOptions {
	hc := azure.NewHTTPClient()
	pool := x509.NewCertPool()
	pool.AddCert(s.Certificate())
	hc.Transport.(*http.Transport).TLSClientConfig.RootCAs = pool
	return azure.ServiceOptions{HTTPClient: hc, ClientOptions: azure.ClientOptions{PollEvery: 20 * time.Millisecond, RetryDelay: 10 * time.Millisecond}}
}

// AdminSecretsSent reports whether the PUT of the attached compute name
// carried a password or private key in its administratorAccount (which
// the server then forgets, as ARM does not return them).
func (s *Server) AdminSecretsSent(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.adminSecrets[name]
}

// HoldOperations makes every operation answer InProgress until
// ReleaseOperations, so a test can stop a server while one is under way.
func (s *Server) HoldOperations() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held = true
}

// ReleaseOperations lets held operations go on to their end.
func (s *Server) ReleaseOperations() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held = false
}

// SetPolls makes each later operation answer InProgress to n status reads
// before it ends (a page can then show Creating, Stopping… for a while).
func (s *Server) SetPolls(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.polls = n
}

// SetRetryAfter makes InProgress answers carry Retry-After: seconds, as
// ARM's do, for a server that polls at its production interval (5 s when
// no Retry-After comes).
func (s *Server) SetRetryAfter(seconds int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.retryAfter = strconv.Itoa(seconds)
}

// Throttle makes the next n requests whose "METHOD path" ends with suffix
// answer 429 with Retry-After: 1.
func (s *Server) Throttle(method, suffix string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle[method+" "+suffix] = n
}

// ExceedQuota makes creates of vmSize fail as ARM fails them when the
// family's vCPU quota is exhausted: the operation ends Failed with code
// QuotaExceeded and message, and the compute stays Failed with it in
// provisioningErrors.
func (s *Server) ExceedQuota(vmSize, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.quota[strings.ToLower(vmSize)] = message
}

// Forbid makes ARM refuse every write by principal with 403
// AuthorizationFailed, as Azure RBAC does for a Reader.
func (s *Server) Forbid(principal string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forbidden[principal] = true
}

// AcceptToken makes ARM accept token as principal's (a user's delegated
// access token, issued by a test OpenID provider).
func (s *Server) AcceptToken(token, principal string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = principal
}

// Requests returns what the server answered so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Compute returns the stored body of a compute of the examples' workspace.
func (s *Server) Compute(name string) (map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.workspace(Workspace("").ComputesID())[name]
	return c, ok
}

func (s *Server) workspace(computesID string) map[string]map[string]any {
	key := strings.ToLower(computesID)
	if s.workspaces[key] == nil {
		s.workspaces[key] = map[string]map[string]any{}
	}
	return s.workspaces[key]
}

// rename gives an example's compute the request's name and ID.
func rename(c map[string]any, computesID, name string) {
	c["name"] = name
	c["id"] = computesID + "/" + name
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// writeJSON answers status with v and the headers.
func writeJSON(w http.ResponseWriter, status int, v any, headers map[string]string) {
	for k, val := range headers {
		w.Header().Set(k, val)
	}
	if v == nil {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// armError is ARM's common error body.
func armError(code, message string) map[string]any {
	return map[string]any{"error": map[string]any{"code": code, "message": message}}
}

type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{ResponseWriter: w, status: 200}
	principal := s.route(rec, r)
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, At: time.Now(), Status: rec.status, Principal: principal})
	s.mu.Unlock()
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) (principal string) {
	if strings.Contains(r.URL.Path, "/oauth2/v2.0/token") || strings.Contains(r.URL.Path, "/.well-known/openid-configuration") {
		s.identity(w, r)
		return ""
	}
	s.mu.Lock()
	for key, n := range s.throttle {
		method, suffix, _ := strings.Cut(key, " ")
		if n > 0 && r.Method == method && strings.HasSuffix(r.URL.Path, suffix) {
			s.throttle[key] = n - 1
			s.mu.Unlock()
			writeJSON(w, http.StatusTooManyRequests, armError("TooManyRequests", "The request is being throttled; retry after the interval in Retry-After."), map[string]string{"Retry-After": "1"})
			return ""
		}
	}
	s.mu.Unlock()
	if v := r.URL.Query().Get("api-version"); v != APIVersion {
		writeJSON(w, http.StatusBadRequest, armError("InvalidApiVersionParameter", fmt.Sprintf("The api-version '%s' is invalid. The supported versions are '%s'.", v, APIVersion)), nil)
		return ""
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	principal, known := s.tokens[tok]
	refused := s.forbidden[principal]
	s.mu.Unlock()
	if !ok || !known {
		writeJSON(w, http.StatusUnauthorized, armError("AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing or invalid."), nil)
		return ""
	}
	if strings.HasPrefix(r.URL.Path, "/replay/operations/") || strings.HasPrefix(r.URL.Path, "/replay/results/") {
		s.operationStatus(w, r)
		return principal
	}
	seg := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	// subscriptions/S/providers/Microsoft.MachineLearningServices/locations/L/{vmSizes|usages|quotas}:
	// the examples, verbatim (they are per subscription and region).
	if len(seg) == 7 && seg[0] == "subscriptions" && seg[4] == "locations" && r.Method == http.MethodGet {
		file := map[string]string{"vmSizes": "VirtualMachineSize/list.json", "usages": "Usage/list.json", "quotas": "Quota/list.json"}[seg[6]]
		if file != "" {
			writeJSON(w, http.StatusOK, must(nil, file).body("200"), nil)
			return principal
		}
	}
	// subscriptions/S/resourceGroups/RG/providers/Microsoft.MachineLearningServices/workspaces/W/computes[/NAME[/ACTION]]
	if len(seg) < 9 || seg[0] != "subscriptions" || !strings.EqualFold(seg[2], "resourceGroups") || seg[6] != "workspaces" || seg[8] != "computes" {
		writeJSON(w, http.StatusNotFound, armError("InvalidResourceType", "The resource type could not be found in the namespace 'Microsoft.MachineLearningServices' for api version '"+APIVersion+"'."), nil)
		return principal
	}
	computesID := "/" + strings.Join(seg[:9], "/")
	if refused && (r.Method != http.MethodGet && !(len(seg) == 11 && seg[10] == "listNodes")) {
		action := "Microsoft.MachineLearningServices/workspaces/computes/write"
		if r.Method == http.MethodDelete {
			action = "Microsoft.MachineLearningServices/workspaces/computes/delete"
		}
		writeJSON(w, http.StatusForbidden, armError("AuthorizationFailed", fmt.Sprintf(
			"The client '%s' with object id '%s' does not have authorization to perform action '%s' over scope '%s' or the scope is invalid. If access was recently granted, please refresh your credentials.",
			principal, principal, action, r.URL.Path)), nil)
		return principal
	}
	switch {
	case len(seg) == 9 && r.Method == http.MethodGet:
		s.list(w, r, computesID)
	case len(seg) == 10:
		s.one(w, r, computesID, seg[9])
	case len(seg) == 11 && seg[10] == "listNodes" && r.Method == http.MethodGet && r.URL.Query().Has("$skiptoken"):
		// The SDK reads the pages after the first with a GET of nextLink.
		s.action(w, r, computesID, seg[9], seg[10])
	case len(seg) == 11 && r.Method == http.MethodPost:
		s.action(w, r, computesID, seg[9], seg[10])
	default:
		writeJSON(w, http.StatusMethodNotAllowed, armError("MethodNotAllowed", r.Method+" is not allowed here."), nil)
	}
	return principal
}

// pageSize is Compute/list.json's: its nextLink asks for $skip=2.
const pageSize = 2

func (s *Server) list(w http.ResponseWriter, r *http.Request, computesID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ws := s.workspace(computesID)
	names := make([]string, 0, len(ws))
	for n := range ws {
		names = append(names, n)
	}
	sort.Strings(names)
	skip, _ := strconv.Atoi(r.URL.Query().Get("$skip"))
	skip = max(0, min(skip, len(names)))
	end := min(skip+pageSize, len(names))
	// An ETag over the whole collection on the first page, and 304 to
	// If-None-Match while nothing changed (RFC 9110 §13.1.2). The list's
	// REST examples show no ETag; this is the conditional-request contract
	// ARM applies where it gives one, so the client's 304 path is tested.
	if skip == 0 {
		etag, err := collectionETag(ws)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, armError("InternalServerError", err.Error()), nil)
			return
		}
		if r.Header.Get("If-None-Match") == etag {
			w.Header().Set("ETag", etag)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
	}
	body := must(nil, "Compute/list.json").body("200")
	value := []any{}
	for _, n := range names[skip:end] {
		value = append(value, ws[n])
	}
	body["value"] = value
	if end < len(names) {
		body["nextLink"] = fmt.Sprintf("%s%s?api-version=%s&$skip=%d", s.URL, r.URL.Path, APIVersion, end)
	} else {
		delete(body, "nextLink")
	}
	writeJSON(w, http.StatusOK, body, nil)
}

// collectionETag is a strong ETag of a workspace's computes: a hash of
// their JSON (encoding/json sorts map keys, so equal states hash equal).
func collectionETag(ws map[string]map[string]any) (string, error) {
	b, err := json.Marshal(ws)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:16]) + `"`, nil
}

func (s *Server) one(w http.ResponseWriter, r *http.Request, computesID, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ws := s.workspace(computesID)
	c, exists := ws[name]
	switch r.Method {
	case http.MethodGet:
		if !exists {
			writeJSON(w, http.StatusNotFound, armError("ResourceNotFound", fmt.Sprintf("The Resource 'Microsoft.MachineLearningServices/workspaces/%s/computes/%s' under resource group '%s' was not found.", pathPart(computesID, 8), name, pathPart(computesID, 4))), nil)
			return
		}
		writeJSON(w, http.StatusOK, c, nil)
	case http.MethodPut:
		s.put(w, r, ws, computesID, name, exists)
	case http.MethodDelete:
		ex := must(nil, "Compute/delete.json")
		if !exists {
			writeJSON(w, http.StatusNoContent, nil, nil)
			return
		}
		c["properties"].(map[string]any)["provisioningState"] = "Deleting"
		id := s.start(func() { delete(ws, name) }, nil)
		writeJSON(w, http.StatusAccepted, nil, s.lroHeaders(ex.Responses["202"].Headers, id))
	case http.MethodPatch:
		if !exists {
			writeJSON(w, http.StatusNotFound, armError("ResourceNotFound", "The compute "+name+" was not found."), nil)
			return
		}
		var req map[string]any
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, armError("InvalidRequestContent", err.Error()), nil)
			return
		}
		props := c["properties"].(map[string]any)
		props["provisioningState"] = "Updating"
		scale := dig(req, "properties", "properties", "scaleSettings")
		id := s.start(func() {
			props["provisioningState"] = "Succeeded"
			if inner, ok := props["properties"].(map[string]any); ok && scale != nil {
				inner["scaleSettings"] = scale
			}
		}, nil)
		ex := must(nil, "Compute/patch.json")
		body := ex.body("200")
		rename(body, computesID, name)
		writeJSON(w, http.StatusOK, body, s.lroHeaders(ex.Responses["200"].Headers, id))
	default:
		writeJSON(w, http.StatusMethodNotAllowed, armError("MethodNotAllowed", r.Method+" is not allowed here."), nil)
	}
}

// put is Compute_CreateOrUpdate: 201 (new) or 200 (existing) with the
// example's body, Creating, and an Azure-AsyncOperation to follow.
func (s *Server) put(w http.ResponseWriter, r *http.Request, ws map[string]map[string]any, computesID, name string, exists bool) {
	var req map[string]any
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, armError("InvalidRequestContent", "The request content was invalid and could not be deserialized: "+err.Error()), nil)
		return
	}
	props, _ := req["properties"].(map[string]any)
	if props == nil || props["computeType"] == nil {
		writeJSON(w, http.StatusBadRequest, armError("BadRequest", "properties.computeType is required."), nil)
		return
	}
	ex := must(nil, "Compute/createOrUpdate/BasicAmlCompute.json")
	status := "201"
	if exists {
		status = "200"
	}
	resp := ex.body(status)
	rename(resp, computesID, name)
	if loc, ok := req["location"].(string); ok {
		resp["location"] = loc
	}
	rprops := resp["properties"].(map[string]any)
	rprops["computeType"] = props["computeType"]
	stored := map[string]any{"id": resp["id"], "name": name, "type": resp["type"], "location": resp["location"]}
	sprops := map[string]any{}
	for k, v := range props {
		sprops[k] = v
	}
	sprops["provisioningState"] = "Creating"
	now := time.Now().UTC().Format(time.RFC3339)
	sprops["createdOn"], sprops["modifiedOn"] = now, now
	inner, _ := sprops["properties"].(map[string]any)
	if inner == nil {
		inner = map[string]any{}
		sprops["properties"] = inner
	}
	delete(inner, "adminUserPassword")
	if creds, ok := inner["userAccountCredentials"].(map[string]any); ok {
		delete(creds, "adminUserPassword")
	}
	if acct, ok := inner["administratorAccount"].(map[string]any); ok {
		// Write-only in ARM: an attached VM's credentials never come back.
		s.adminSecrets[name] = acct["password"] != nil || acct["privateKeyData"] != nil
		delete(acct, "password")
		delete(acct, "privateKeyData")
	}
	instance := props["computeType"] == "ComputeInstance"
	if instance {
		inner["state"] = "Creating"
	}
	stored["properties"] = sprops
	ws[name] = stored
	var failed map[string]any
	if size, _ := inner["vmSize"].(string); s.quota[strings.ToLower(size)] != "" {
		failed = armError("QuotaExceeded", s.quota[strings.ToLower(size)])
	}
	id := s.start(func() {
		sprops["provisioningState"] = "Succeeded"
		if instance {
			inner["state"] = "Running"
		} else if props["computeType"] == "AmlCompute" {
			inner["allocationState"] = "Steady"
			inner["currentNodeCount"], inner["targetNodeCount"] = 0, 0
		}
	}, failed)
	if failed != nil {
		op := s.ops[id]
		op.done = func() {
			sprops["provisioningState"] = "Failed"
			sprops["provisioningErrors"] = []any{failed}
			if instance {
				inner["state"] = "CreateFailed"
			}
		}
	}
	code, _ := strconv.Atoi(status)
	writeJSON(w, code, resp, s.lroHeaders(ex.Responses["201"].Headers, id))
}

// action is Compute_Start/Stop/Restart and Compute_ListNodes.
func (s *Server) action(w http.ResponseWriter, r *http.Request, computesID, name, action string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.workspace(computesID)[name]
	if !ok {
		writeJSON(w, http.StatusNotFound, armError("ResourceNotFound", "The compute "+name+" was not found."), nil)
		return
	}
	props := c["properties"].(map[string]any)
	inner, _ := props["properties"].(map[string]any)
	if action == "listNodes" {
		s.listNodes(w, r)
		return
	}
	file, mid, end := map[string][3]string{
		"start":   {"Compute/stop.json", "Starting", "Running"},
		"stop":    {"Compute/stop.json", "Stopping", "Stopped"},
		"restart": {"Compute/restart.json", "Restarting", "Running"},
	}[action][0], map[string]string{"start": "Starting", "stop": "Stopping", "restart": "Restarting"}[action], map[string]string{"start": "Running", "stop": "Stopped", "restart": "Running"}[action]
	if file == "" {
		writeJSON(w, http.StatusNotFound, armError("InvalidAction", action+" is not an action of computes."), nil)
		return
	}
	if props["computeType"] != "ComputeInstance" || inner == nil {
		writeJSON(w, http.StatusBadRequest, armError("BadRequest", action+" applies to compute instances only."), nil)
		return
	}
	inner["state"] = mid
	id := s.start(func() { inner["state"] = end }, nil)
	writeJSON(w, http.StatusAccepted, nil, s.lroHeaders(must(nil, file).Responses["202"].Headers, id))
}

// listNodes answers Compute/listNodes.json one node a page, so the
// example's nextLink is followed.
func (s *Server) listNodes(w http.ResponseWriter, r *http.Request) {
	body := must(nil, "Compute/listNodes.json").body("200")
	nodes := body["nodes"].([]any)
	page, _ := strconv.Atoi(r.URL.Query().Get("$skiptoken"))
	page = max(0, min(page, len(nodes)-1))
	body["nodes"] = nodes[page : page+1]
	if page+1 < len(nodes) {
		body["nextLink"] = fmt.Sprintf("%s%s?api-version=%s&$skiptoken=%d", s.URL, r.URL.Path, APIVersion, page+1)
	} else {
		delete(body, "nextLink")
	}
	writeJSON(w, http.StatusOK, body, nil)
}

// start records a long-running operation; done is applied when it ends
// (failed: it ends Failed with that error). The caller holds s.mu.
func (s *Server) start(done func(), failed map[string]any) string {
	id := newID()
	s.ops[id] = &operation{left: s.polls, done: done, failed: failed}
	return id
}

// lroHeaders are the example's headers with its placeholder URLs replaced
// by this server's: Azure-AsyncOperation → the operation's status,
// Location → its result.
func (s *Server) lroHeaders(example map[string]string, id string) map[string]string {
	h := map[string]string{}
	for k := range example {
		switch strings.ToLower(k) {
		case "azure-asyncoperation":
			h[k] = fmt.Sprintf("%s/replay/operations/%s?api-version=%s", s.URL, id, APIVersion)
		case "location":
			h[k] = fmt.Sprintf("%s/replay/results/%s?api-version=%s", s.URL, id, APIVersion)
		}
	}
	return h
}

// operationStatus answers a poll: InProgress for the first polls, then
// the end (ARM's asynchronous operation contract: status, and error when
// Failed; a Location poll is 202 until done, then 200, or the error).
func (s *Server) operationStatus(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := pathPart(r.URL.Path, 2)
	op, ok := s.ops[id]
	if !ok {
		writeJSON(w, http.StatusNotFound, armError("OperationNotFound", "No operation "+id+"."), nil)
		return
	}
	async := strings.HasPrefix(r.URL.Path, "/replay/operations/")
	if op.left > 0 || s.held {
		if !s.held {
			op.left--
		}
		h := map[string]string{}
		if s.retryAfter != "" {
			h["Retry-After"] = s.retryAfter
		}
		if async {
			writeJSON(w, http.StatusOK, map[string]any{"id": id, "name": id, "status": "InProgress"}, h)
		} else {
			h["Location"] = s.URL + r.URL.RequestURI()
			writeJSON(w, http.StatusAccepted, nil, h)
		}
		return
	}
	if !op.ended {
		op.ended = true
		op.done()
	}
	switch {
	case op.failed != nil && async:
		writeJSON(w, http.StatusOK, map[string]any{"id": id, "name": id, "status": "Failed", "error": op.failed["error"]}, nil)
	case op.failed != nil:
		writeJSON(w, http.StatusBadRequest, op.failed, nil)
	case async:
		writeJSON(w, http.StatusOK, map[string]any{"id": id, "name": id, "status": "Succeeded"}, nil)
	default:
		writeJSON(w, http.StatusOK, map[string]any{}, nil)
	}
}

func pathPart(p string, i int) string {
	seg := strings.Split(strings.Trim(p, "/"), "/")
	if i < len(seg) {
		return seg[i]
	}
	return ""
}

func dig(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

// identity serves the Microsoft identity platform for the tenant:
// OpenID configuration (which MSAL reads to find the token endpoint) and
// the token endpoint, for the client-credentials grant of the service
// principal above and the refresh-token grant of delegated sign-ins.
func (s *Server) identity(w http.ResponseWriter, r *http.Request) {
	tenant := pathPart(r.URL.Path, 0)
	base := s.URL + "/" + tenant
	if strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration") {
		writeJSON(w, http.StatusOK, map[string]any{
			"issuer": base + "/v2.0", "token_endpoint": base + "/oauth2/v2.0/token",
			"authorization_endpoint": base + "/oauth2/v2.0/authorize", "jwks_uri": base + "/discovery/v2.0/keys",
			"response_types_supported": []string{"code"}, "subject_types_supported": []string{"pairwise"},
			"id_token_signing_alg_values_supported": []string{"RS256"}, "tenant_region_scope": "NA",
		}, nil)
		return
	}
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request"}, nil)
		return
	}
	if tenant != TenantID {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_tenant", "error_description": "AADSTS90002: Tenant '" + tenant + "' not found."}, nil)
		return
	}
	if !strings.Contains(" "+r.PostForm.Get("scope")+" ", " "+Scope+" ") && !strings.Contains(r.PostForm.Get("scope"), "https://management.azure.com/user_impersonation") {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_scope", "error_description": "AADSTS70011: The provided value for scope is not valid."}, nil)
		return
	}
	var principal string
	switch r.PostForm.Get("grant_type") {
	case "client_credentials":
		if r.PostForm.Get("client_id") != ClientID || r.PostForm.Get("client_secret") != ClientSecret {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."}, nil)
			return
		}
		principal = ClientID
	case "refresh_token":
		s.mu.Lock()
		principal = s.refresh[r.PostForm.Get("refresh_token")]
		s.mu.Unlock()
		if principal == "" {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_grant", "error_description": "AADSTS70000: The refresh token is not valid."}, nil)
			return
		}
	default:
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "unsupported_grant_type"}, nil)
		return
	}
	tok := "replay-" + newID()
	s.mu.Lock()
	s.tokens[tok] = principal
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": tok, "scope": r.PostForm.Get("scope")}, map[string]string{"Cache-Control": "no-store"})
}
