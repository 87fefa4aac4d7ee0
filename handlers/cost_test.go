package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/store"
	"github.com/trainyard/trainyard/web/webtest"
)

// TestNodeHourPrice: an attached VM (no catalogue size) accrues node hours
// at a price only an Admin may set, from the API or the details page's
// form; Contributors (compute operators) and Readers get 403 from both.
// The details page, the API and the audit log show the outcome.
func TestNodeHourPrice(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true, NoDispatcher: true})
	ctx := context.Background()
	// Ten hours of one node before the target is created here: the sample
	// the store takes at CreateTarget counts them (store.accrueLocal).
	if err := env.Store.AccrueNodes(ctx, compute.LocalWorkspace, "lab", 1, time.Now().Add(-10*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := env.Store.CreateTarget(ctx, &compute.Target{Name: "lab", Kind: compute.KindVirtualMachine,
		ProvisioningState: compute.ProvisioningSucceeded, Attach: &compute.AttachSpec{Address: "10.0.0.9", SSHPort: 22, UserName: "u", Checked: true}}, nil); err != nil {
		t.Fatal(err)
	}
	admin := env.Browser(t) // the login token signs in an Admin
	tokens := map[string]string{
		"Contributor": env.TokenFor(t, "t/op", compute.RoleComputeOperator),
		"Reader":      env.TokenFor(t, "t/reader", compute.RoleReader),
	}

	// Refused below Admin, through the API and the page's form alike.
	plain := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for role, tok := range tokens {
		auth := map[string]string{"Authorization": "Bearer " + tok}
		req, _ := http.NewRequest("POST", env.URL+"/api/v1/computes/lab/updateNodeHourPrice", bytes.NewReader([]byte(`{"pricePerNodeHour":9}`)))
		req.Header.Set("Authorization", auth["Authorization"])
		req.Header.Set("Content-Type", "application/json")
		resp, err := plain.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s via the API: %d, want 403", role, resp.StatusCode)
		}
		if status, _, _ := webtest.Do(t, plain, "POST", env.URL+"/computes/lab/node-hour-price", url.Values{"pricePerNodeHour": {"9"}}, auth); status != http.StatusForbidden {
			t.Errorf("%s via the form: %d, want 403", role, status)
		}
		// Nor do they see the form.
		if _, body, _ := webtest.Do(t, plain, "GET", env.URL+"/computes/lab", nil, auth); doc(t, body).Find(`[data-testid=price-form]`).Length() != 0 {
			t.Errorf("%s sees the price form", role)
		}
	}

	// The Admin sees the form at 0, sets 1.5 a node-hour from it.
	_, body, _ := webtest.Do(t, admin, "GET", env.URL+"/computes/lab", nil, nil)
	if v := doc(t, body).Find(`[data-testid=price-form] input[name=pricePerNodeHour]`).AttrOr("value", ""); v != "0" {
		t.Fatalf("the Admin's price form shows %q, want 0", v)
	}
	if status, _, _ := webtest.Do(t, admin, "POST", env.URL+"/computes/lab/node-hour-price", url.Values{"pricePerNodeHour": {"-2"}}, nil); status != http.StatusSeeOther {
		t.Fatalf("a refused price: %d, want 303 back to the page", status)
	}
	if status, _, _ := webtest.Do(t, admin, "POST", env.URL+"/computes/lab/node-hour-price", url.Values{"pricePerNodeHour": {"1.5"}}, nil); status != http.StatusSeeOther {
		t.Fatalf("setting the price: %d, want 303", status)
	}

	// The details page: price, node hours (10 and a few seconds), $15.00.
	_, body, _ = webtest.Do(t, admin, "GET", env.URL+"/computes/lab", nil, nil)
	attrs := attrMap(doc(t, body).Find(`[data-testid=attributes]`).Text())
	for _, want := range []string{"$1.50 a node-hour (set by an Admin)", "10.00 since", "$15.00"} {
		if !strings.Contains(attrs, want) {
			t.Errorf("the details page does not say %q: %s", want, attrs)
		}
	}

	// The API: properties.trainyardCost.
	var c struct {
		Properties struct {
			Cost compute.Cost `json:"trainyardCost"`
		} `json:"properties"`
	}
	apiJSON(t, env, "GET", "/api/v1/computes/lab", nil, http.StatusOK, &c)
	if got := c.Properties.Cost; got.PricePerNodeHour != 1.5 || got.Source != compute.PriceAdmin || got.Currency != "USD" ||
		got.NodeHours < 10 || got.NodeHours > 10.1 || got.Accrued < 15 || got.Since.IsZero() {
		t.Errorf("trainyardCost = %+v", got)
	}

	// A size the catalogue prices is not the Admin's to price.
	if err := env.Store.CreateTarget(ctx, &compute.Target{Name: "pool", Kind: compute.KindCluster, ProvisioningState: compute.ProvisioningSucceeded,
		Cluster: &compute.ClusterSpec{VMSize: "Standard_DS3_v2", VMPriority: compute.Dedicated, MaxNodes: 2}}, nil); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]float64{"pricePerNodeHour": 3})
	if status, out, _ := apiDo(t, env, "POST", "/api/v1/computes/pool/updateNodeHourPrice", "application/json", b); status != http.StatusConflict {
		t.Errorf("pricing a catalogue size: %d %s, want 409", status, out)
	}

	events, _, err := env.Store.ListAudit(ctx, store.AuditFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	// The Admin's change is recorded as such; the refusals by the route's
	// role under the route (web/routes.go), two per role.
	outcomes := map[string]int{}
	for _, e := range events {
		switch {
		case e.Action == "updateNodeHourPrice":
			outcomes[e.UserID+" "+e.Object+" "+e.Outcome]++
		case strings.Contains(e.Action, "NodeHourPrice") || strings.Contains(e.Action, "node-hour-price"):
			outcomes[e.UserID+" "+e.Outcome]++
		}
	}
	if outcomes["local compute/lab "+store.AuditSucceeded] != 1 || outcomes["t/op "+store.AuditDenied] != 2 || outcomes["t/reader "+store.AuditDenied] != 2 {
		t.Errorf("audit of updateNodeHourPrice: %v", outcomes)
	}
}

// attrMap flattens an attribute list's text for matching.
func attrMap(s string) string { return strings.Join(strings.Fields(s), " ") }
