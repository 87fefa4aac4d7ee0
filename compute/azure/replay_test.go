package azure_test

import (
	"context"
	"crypto/x509"
	"net/http"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/azure"
	"github.com/trainyard/trainyard/compute/azure/armreplay"
)

// These tests stand on the published contract of Azure Resource Manager
// for Microsoft.MachineLearningServices, api-version 2025-12-01: the REST
// examples replayed over real HTTPS by armreplay (testdata/README.md there
// lists them), ARM's asynchronous-operation and throttling conventions
// (Azure-AsyncOperation / Location polling, 429 + Retry-After), and the
// Microsoft identity platform's client-credentials grant, all through the
// official SDK exactly as the server calls it.

// replayConfig points the service-principal configuration at srv, which is
// both the ARM endpoint and the authority.
func replayConfig(srv *armreplay.Server) azure.Config {
	return azure.Config{Endpoint: srv.URL, AuthorityHost: srv.URL, TenantID: armreplay.TenantID,
		ClientID: armreplay.ClientID, ClientSecret: armreplay.ClientSecret}
}

// trusting is azure.NewHTTPClient trusting srv's certificate, as
// SSL_CERT_FILE=srv.CAFile would make it in a server process.
func trusting(srv *armreplay.Server) *http.Client {
	hc := azure.NewHTTPClient()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	hc.Transport.(*http.Transport).TLSClientConfig.RootCAs = pool
	return hc
}

// newClient is the service principal's client of the examples' workspace.
func newClient(t *testing.T, srv *armreplay.Server) *azure.Client {
	t.Helper()
	cfg := replayConfig(srv)
	hc := trusting(srv)
	cred, err := azure.ServicePrincipal(cfg, hc)
	if err != nil {
		t.Fatal(err)
	}
	c, err := azure.NewClient(cfg, armreplay.Workspace("replay"), cred, hc, azure.ClientOptions{PollEvery: 10 * time.Millisecond, RetryDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func cluster(name, size string) *compute.Target {
	return &compute.Target{Name: name, Kind: compute.KindCluster, Location: "eastus", ProvisioningState: compute.ProvisioningCreating,
		Cluster: &compute.ClusterSpec{VMSize: size, VMPriority: compute.Dedicated, MinNodes: 0, MaxNodes: 2, IdleSecondsBeforeScaleDown: 120}}
}

func TestCreateFollowsTheLongRunningOperation(t *testing.T) {
	srv := armreplay.New(t)
	b := azure.New(armreplay.Workspace("replay"), newClient(t, srv))
	tgt := cluster("gpu-cluster", "STANDARD_NC6")
	if err := b.Provision(context.Background(), tgt); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	c, ok := srv.Compute("gpu-cluster")
	if !ok || c["properties"].(map[string]any)["provisioningState"] != "Succeeded" {
		t.Fatalf("after Provision ARM holds %v; want gpu-cluster Succeeded", c)
	}
	var put, polls int
	for _, r := range srv.Requests() {
		switch {
		case r.Method == http.MethodPut:
			put++
			if r.Status != http.StatusCreated {
				t.Errorf("PUT answered %d, want 201 (BasicAmlCompute.json)", r.Status)
			}
		case r.Method == http.MethodGet && len(r.Path) > 18 && r.Path[:18] == "/replay/operations":
			polls++
		}
	}
	if put != 1 || polls < 3 {
		t.Errorf("PUTs %d, status polls %d; want one PUT followed through Azure-AsyncOperation until Succeeded (2 InProgress, then the end)", put, polls)
	}
}

func TestQuotaErrorIsShownVerbatim(t *testing.T) {
	srv := armreplay.New(t)
	const msg = "Operation results in exceeding quota limits of Core. Maximum allowed: 24, Current in use: 12, Additional requested: 24."
	srv.ExceedQuota("Standard_NC24", msg)
	b := azure.New(armreplay.Workspace("replay"), newClient(t, srv))
	err := b.Provision(context.Background(), cluster("big", "Standard_NC24"))
	var coded *compute.CodedError
	if !asCoded(err, &coded) || coded.Code != "QuotaExceeded" || coded.Message != msg {
		t.Fatalf("Provision over quota: %v; want ARM's QuotaExceeded and its message verbatim", err)
	}
	raw, err := newClient(t, srv).Get(context.Background(), "big")
	if err != nil {
		t.Fatal(err)
	}
	got, err := azure.ToTarget(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got.ProvisioningState != compute.ProvisioningFailed || len(got.ProvisioningErrors) != 1 || got.ProvisioningErrors[0] != "QuotaExceeded: "+msg {
		t.Errorf("the compute after the failed create: %s %q; want Failed with the error verbatim", got.ProvisioningState, got.ProvisioningErrors)
	}
	if err := b.Provision(context.Background(), cluster("big", "Standard_NC24")); err == nil || err.Error() != "QuotaExceeded: "+msg {
		t.Errorf("Provision of the Failed compute again: %v; want its provisioning error", err)
	}
}

func TestListFollowsNextLinkAndWaitsOutRetryAfter(t *testing.T) {
	srv := armreplay.New(t)
	srv.Throttle(http.MethodGet, "/computes", 1)
	all, err := newClient(t, srv).List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 {
		t.Fatalf("List = %d computes; want the 4 of the examples' workspace over 2 pages", len(all))
	}
	var throttled, pages []armreplay.Request
	for _, r := range srv.Requests() {
		if r.Method == http.MethodGet && len(r.Path) > 9 && r.Path[len(r.Path)-9:] == "/computes" {
			if r.Status == http.StatusTooManyRequests {
				throttled = append(throttled, r)
			} else {
				pages = append(pages, r)
			}
		}
	}
	if len(throttled) != 1 || len(pages) != 2 {
		t.Fatalf("list requests: %d throttled, %d answered; want 1 and 2 (two pages)", len(throttled), len(pages))
	}
	if gap := pages[0].At.Sub(throttled[0].At); gap < time.Second {
		t.Errorf("the retry came %s after the 429; want at least its Retry-After (1 s)", gap)
	}
}

func TestStopIsNotRetriedAfterAnAmbiguousAnswer(t *testing.T) {
	srv := armreplay.New(t)
	c := newClient(t, srv)
	srv.Throttle(http.MethodPost, "/ci-replay/stop", 1)
	op, err := c.Power(context.Background(), "ci-replay", compute.ActionStop)
	if err != nil {
		t.Fatalf("stop after one 429: %v; want it retried after Retry-After (a 429 means it was not done)", err)
	}
	if err := op.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c, _ := srv.Compute("ci-replay"); c["properties"].(map[string]any)["properties"].(map[string]any)["state"] != "Stopped" {
		t.Errorf("instance state after stop: %v", c)
	}
}

func TestForbiddenByAzureRBACIsShownAsSuch(t *testing.T) {
	srv := armreplay.New(t)
	srv.Forbid(armreplay.ClientID)
	b := azure.New(armreplay.Workspace("replay"), newClient(t, srv))
	err := b.Provision(context.Background(), cluster("nope", "STANDARD_NC6"))
	var coded *compute.CodedError
	if !asCoded(err, &coded) || coded.Code != "AuthorizationFailed" || !errorsIs(err, compute.ErrForbidden) {
		t.Fatalf("Provision refused by RBAC: %v; want 403 AuthorizationFailed with ARM's message", err)
	}
}
