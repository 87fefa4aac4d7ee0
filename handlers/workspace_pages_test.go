package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/azure/armreplay"
	"github.com/trainyard/trainyard/web/webtest"
)

// These tests stand on ARM's published contract as armreplay replays it
// (the 2025-12-01 REST examples over HTTPS), through the real app.

// newAzureEnv starts the app against a replay server and registers its
// workspace as "replay" through the API, as an Admin would.
func newAzureEnv(t *testing.T) (*webtest.Env, *armreplay.Server, *http.Client) {
	t.Helper()
	replay := armreplay.New(t)
	env := webtest.New(t, webtest.Options{Azure: replay.Config(), AzureOptions: replay.ServiceOptions()})
	c := env.Browser(t)
	registerReplay(t, env)
	return env, replay, c
}

// registerReplay registers the replay server's workspace as "replay"
// through the API, as an Admin would.
func registerReplay(t *testing.T, env *webtest.Env) {
	t.Helper()
	body := `{"subscriptionId":"` + armreplay.Subscription + `","resourceGroup":"` + armreplay.ResourceGroup + `","workspaceName":"` + armreplay.WorkspaceName + `"}`
	req, _ := http.NewRequest(http.MethodPut, env.URL+"/api/v1/workspaces/replay", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+webtest.Token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("registering the workspace: %d", res.StatusCode)
	}
}

func TestWorkspaceComputePages(t *testing.T) {
	env, _, c := newAzureEnv(t)

	// The local page offers the switcher.
	status, body, _ := webtest.Do(t, c, "GET", env.URL+"/computes", nil, nil)
	d := doc(t, body)
	if status != 200 || d.Find(`nav[aria-label="Workspaces"] a`).Length() != 2 || d.Find(`nav[aria-label="Workspaces"] a[href="/computes?workspace=replay"]`).Length() != 1 {
		t.Fatalf("the local page's switcher: status %d, %q", status, d.Find(`nav[aria-label="Workspaces"]`).Text())
	}

	tests := []struct {
		tab, row string
	}{
		{"clusters", "cpu-cluster"},
		{"instances", "ci-replay"},
		{"attached", "compute1234"}, // AKS, of Compute/list.json
	}
	for _, tc := range tests {
		t.Run(tc.tab, func(t *testing.T) {
			status, body, _ := webtest.Do(t, c, "GET", env.URL+"/computes?workspace=replay&tab="+tc.tab, nil, nil)
			d := doc(t, body)
			if status != 200 || d.Find(`tbody tr[data-name="`+tc.row+`"]`).Length() != 1 {
				t.Fatalf("status %d; rows %q; want %s", status, d.Find("tbody").Text(), tc.row)
			}
			if cur := d.Find(`nav[aria-label="Workspaces"] a[aria-current=page]`).Text(); cur != "replay" {
				t.Errorf("current workspace %q", cur)
			}
			if asOf := d.Find(`[data-testid=as-of]`).Text(); !strings.Contains(asOf, "as of ") {
				t.Errorf("as-of %q", asOf)
			}
			if href := d.Find(`tbody tr[data-name="`+tc.row+`"] a`).AttrOr("href", ""); href != "/computes/"+tc.row+"?workspace=replay" {
				t.Errorf("row link %q", href)
			}
			if ref := d.Find(`[data-testid=refresh]`).AttrOr("href", ""); !strings.Contains(ref, "workspace=replay") || !strings.Contains(ref, "refresh=1") {
				t.Errorf("Refresh %q", ref)
			}
		})
	}

	// Details with cost: the size's price, the node hours recorded since the
	// list was first read (the instance is Running: one billed node).
	_, body, _ = webtest.Do(t, c, "GET", env.URL+"/computes/ci-replay?workspace=replay", nil, nil)
	attrs := doc(t, body).Find(`[data-testid=attributes]`).Text()
	for _, want := range []string{"Price", "$0.90 a node-hour", "Node hours", "Accrued cost", "(estimate)"} {
		if !strings.Contains(attrs, want) {
			t.Errorf("details of ci-replay: %q lacks %q", attrs, want)
		}
	}

	// Details and the Nodes tab (listNodes.json over two pages).
	status, body, _ = webtest.Do(t, c, "GET", env.URL+"/computes/cpu-cluster?workspace=replay&tab=nodes", nil, nil)
	d = doc(t, body)
	if status != 200 || d.Find(`table[data-testid=nodes] tbody tr`).Length() != 2 || !strings.Contains(d.Find(`table[data-testid=nodes]`).Text(), "tvm-3601533753_2-20170719t162906z") {
		t.Fatalf("nodes tab: %d %q", status, d.Find("main").Text())
	}
}

func TestWorkspaceActionsFollowTheOperation(t *testing.T) {
	env, replay, c := newAzureEnv(t)
	const quota = "Operation could not be completed as it results in exceeding approved standardNCFamily Cores quota."
	replay.ExceedQuota("Standard_NC24s_v3", quota)

	// Stop from the page: Stopping while ARM's operation runs, then Stopped.
	status, _, h := webtest.Do(t, c, "POST", env.URL+"/computes/ci-replay/stop?workspace=replay", url.Values{}, nil)
	if status != http.StatusSeeOther || h.Get("Location") != "/computes/ci-replay?workspace=replay" {
		t.Fatalf("stop: %d %s", status, h.Get("Location"))
	}
	webtest.WaitFor(t, 10*time.Second, "ci-replay to be Stopped", func() bool {
		_, body, _ := webtest.Do(t, c, "GET", env.URL+"/computes/ci-replay?workspace=replay", nil, nil)
		return strings.Contains(doc(t, body).Find("#compute-live").Text(), "Stopped")
	})

	// A DataScientist may not stop an instance assigned to someone else.
	tok := env.TokenFor(t, "tid/ds", compute.RoleDataScientist)
	status, _, _ = webtest.Do(t, env.Client(), "POST", env.URL+"/api/v1/workspaces/replay/computes/ci-replay/start", nil, map[string]string{"Authorization": "Bearer " + tok})
	if status != http.StatusForbidden {
		t.Errorf("a DataScientist starting another's instance: %d, want 403", status)
	}

	// Create a cluster with the wizard; over quota it ends Failed with
	// ARM's message on its page, verbatim.
	v := url.Values{"vmPriority": {"Dedicated"}, "vmType": {"GPU"}, "vmSize": {"Standard_NC24s_v3"}, "location": {"eastus"},
		"name": {"big-one"}, "minNodes": {"0"}, "maxNodes": {"2"}, "idleSeconds": {"120"}, "step": {"2"}}
	status, body, h := webtest.Do(t, c, "POST", env.URL+"/computes/new/cluster?workspace=replay", v, nil)
	if status != http.StatusSeeOther || h.Get("Location") != "/computes/big-one?workspace=replay" {
		t.Fatalf("create: %d %s %q", status, h.Get("Location"), doc(t, body).Find(`[id^=err-]`).Text())
	}
	if _, ok := replay.Compute("big-one"); !ok {
		t.Fatal("the wizard's create did not reach ARM")
	}
	webtest.WaitFor(t, 10*time.Second, "big-one to fail on quota", func() bool {
		_, body, _ := webtest.Do(t, c, "GET", env.URL+"/computes/big-one?workspace=replay", nil, nil)
		return strings.Contains(doc(t, body).Find(`[data-testid=provisioning-errors]`).Text(), quota)
	})

	// Delete from the list: gone once ARM's operation ends.
	status, _, _ = webtest.Do(t, c, "POST", env.URL+"/computes/cpu-cluster/delete?workspace=replay", url.Values{}, nil)
	if status != http.StatusSeeOther {
		t.Fatalf("delete: %d", status)
	}
	webtest.WaitFor(t, 10*time.Second, "cpu-cluster to be gone", func() bool {
		_, body, _ := webtest.Do(t, c, "GET", env.URL+"/computes?workspace=replay&tab=clusters", nil, nil)
		return doc(t, body).Find(`tbody tr[data-name="cpu-cluster"]`).Length() == 0
	})
}

// TestWizardShowsQuotaBeforeCreate stands on the VirtualMachineSize, Usage
// and Quota examples (2025-12-01): Standard_DS3_v2 has 4 vCPUs; the region
// has 2 of 24 DSv2 and 14 of 24 dedicated vCPUs in use.
func TestWizardShowsQuotaBeforeCreate(t *testing.T) {
	env, _, c := newAzureEnv(t)
	webtest.Do(t, c, "GET", env.URL+"/computes?workspace=replay", nil, nil) // the list, as a person comes from it
	review := func(maxNodes string) (int, string, string) {
		v := url.Values{"vmPriority": {"Dedicated"}, "vmType": {"CPU"}, "vmSize": {"Standard_DS3_v2"}, "location": {"local"},
			"name": {"quota-check"}, "minNodes": {"0"}, "maxNodes": {maxNodes}, "idleSeconds": {"120"}, "step": {"1"}, "nav": {"next"}}
		status, body, _ := webtest.Do(t, c, "POST", env.URL+"/computes/new/cluster?workspace=replay", v, nil)
		d := doc(t, body)
		return status, d.Find(`[data-testid=quota]`).Text(), d.Find(`[data-testid=quota-warning]`).Text()
	}
	status, panel, warning := review("2")
	if status != 200 || !strings.Contains(panel, "Standard DSv2 Family Cluster Dedicated vCPUs in eastus") || !strings.Contains(panel, "2 used, limit 24") || !strings.Contains(panel, "up to 8 vCPUs") || !strings.Contains(panel, "a node-hour") || warning != "" {
		t.Fatalf("review of 2 nodes: %d %q %q; want the usage and no warning", status, panel, warning)
	}
	_, _, warning = review("4")
	if !strings.Contains(warning, "16 more vCPUs would exceed the regional Dedicated vCPU limit in eastus: 14 of 24 are in use.") {
		t.Fatalf("review of 4 nodes: warning %q", warning)
	}
}
