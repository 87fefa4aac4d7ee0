package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/store"
	"github.com/trainyard/trainyard/web/webtest"
)

// TestAuditLog: actions and refusals land in the audit log, once each, with
// who, what and how it ended; only admins see the page; no secret is in it.
func TestAuditLog(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true})
	ctx := context.Background()
	admin := env.Browser(t)
	reader := env.TokenFor(t, "t/reader", compute.RoleReader)
	operator := env.TokenFor(t, "t/op", compute.RoleComputeOperator)
	scientist := env.TokenFor(t, "t/ds", compute.RoleDataScientist)
	const secret = "audit-never-shows-this-password"

	// Succeeded: create, attach (with a secret), delete, detach.
	cluster := `{"properties":{"computeType":"AmlCompute","properties":{"vmSize":"STANDARD_D2_V2","scaleSettings":{"maxNodeCount":2}}}}`
	vm := `{"properties":{"computeType":"VirtualMachine","properties":{"address":"10.0.0.4","sshPort":22,"administratorAccount":{"username":"u","password":"` + secret + `"}}}}`
	for _, r := range []struct{ token, method, path, body string }{
		{operator, "PUT", "/api/v1/computes/cpu-a", cluster},
		{operator, "PUT", "/api/v1/computes/vm-a", vm},
		{operator, "DELETE", "/api/v1/computes/cpu-a", ""},
		{reader, "PUT", "/api/v1/computes/cpu-b", cluster}, // denied by the route's role
	} {
		req, _ := http.NewRequest(r.method, env.URL+r.path, strings.NewReader(r.body))
		req.Header.Set("Authorization", "Bearer "+r.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	// Denied in a handler (a Reader may not delete from the page's route
	// either), by cross-origin protection, and without a session.
	webtest.Do(t, admin, "POST", env.URL+"/computes/vm-a/detach", url.Values{}, nil) // admin: succeeded
	readerPage := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	webtest.Do(t, readerPage, "POST", env.URL+"/computes/local/start", url.Values{}, map[string]string{"Authorization": "Bearer " + reader})
	webtest.Do(t, readerPage, "POST", env.URL+"/computes/local/delete", url.Values{}, map[string]string{"Authorization": "Bearer " + scientist})
	webtest.Do(t, admin, "POST", env.URL+"/computes/local/delete", url.Values{}, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"})
	webtest.Do(t, readerPage, "POST", env.URL+"/computes/local/delete", url.Values{}, nil)
	webtest.Do(t, readerPage, "GET", env.URL+"/api/v1/computes", nil, nil) // a read without sign-in: not audited

	events, _, err := env.Store.ListAudit(ctx, store.AuditFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ who, action, object, outcome string }
	got := map[key]int{}
	for _, e := range events {
		got[key{e.UserID, e.Action, e.Object, e.Outcome}]++
		if strings.Contains(e.Detail+e.Object+e.Action, secret) {
			t.Fatalf("audit event holds the secret: %+v", e)
		}
	}
	want := []key{
		{"local", "signin", "user/local", store.AuditSucceeded},
		{"t/op", "create", "compute/cpu-a", store.AuditSucceeded},
		{"t/op", "attach", "compute/vm-a", store.AuditSucceeded},
		{"t/op", "delete", "compute/cpu-a", store.AuditSucceeded},
		{"t/reader", "PUT /api/v1/computes/{name}", "/api/v1/computes/cpu-b", store.AuditDenied},
		{"local", "detach", "compute/vm-a", store.AuditSucceeded},
		{"t/reader", "POST /computes/{name}/{action}", "/computes/local/start", store.AuditDenied},
		{"t/ds", "delete", "compute/local", store.AuditDenied},
		{"", "POST /computes/local/delete", "/computes/local/delete", store.AuditDenied},
		{"", "POST /computes/{name}/{action}", "/computes/local/delete", store.AuditDenied},
	}
	for _, k := range want {
		if got[k] != 1 {
			t.Errorf("audit has %d × %+v, want 1", got[k], k)
		}
	}
	if len(events) != len(want) {
		for _, e := range events {
			t.Logf("%s %s %s %s %s", e.UserID, e.Action, e.Object, e.Outcome, e.Detail)
		}
		t.Fatalf("%d events, want %d", len(events), len(want))
	}

	// The page: Admin only, and the nav link only for admins.
	status, body, _ := webtest.Do(t, admin, "GET", env.URL+"/audit?outcome=denied", nil, nil)
	d := doc(t, body)
	if status != 200 || d.Find(`[data-testid=audit] tbody tr[data-outcome=denied]`).Length() != 5 || d.Find(`[data-testid=audit] tbody tr[data-outcome=succeeded]`).Length() != 0 {
		t.Fatalf("audit page: %d, %d denied rows", status, d.Find(`[data-testid=audit] tbody tr[data-outcome=denied]`).Length())
	}
	if d.Find(`nav[aria-label=Main] a[href="/audit"]`).Length() != 1 {
		t.Error("no Audit log link for the admin")
	}
	_, body, _ = webtest.Do(t, admin, "GET", env.URL+"/audit?q=cpu-a", nil, nil)
	if n := doc(t, body).Find(`[data-testid=audit] tbody tr[data-outcome]`).Length(); n != 2 {
		t.Errorf("filter q=cpu-a: %d rows, want 2", n)
	}
	for _, tok := range []string{reader, operator} {
		if st, body := bearer(t, env, tok, "GET", "/audit"); st != http.StatusForbidden {
			t.Errorf("non-admin opens the audit log: %d", st)
		} else if doc(t, body).Find(`a[href="/audit"]`).Length() != 0 {
			t.Error("non-admin sees the Audit log link")
		}
	}
}

// TestAdminEndsSessions: an admin sees live sessions and ends one.
func TestAdminEndsSessions(t *testing.T) {
	env := oidcEnv(t, nil)
	admin := env.SignInOIDC(t, webtest.Login{OID: "33333333-3333-3333-3333-333333333333", Name: "Ada Admin", Roles: []string{"Admin"}})
	victim := env.SignInOIDC(t, alice("DataScientist"))
	if st, _, _ := webtest.Do(t, victim, "GET", env.URL+"/audit/sessions", nil, nil); st != http.StatusForbidden {
		t.Fatalf("DataScientist opens sessions: %d", st)
	}
	_, body, _ := webtest.Do(t, admin, "GET", env.URL+"/audit/sessions", nil, nil)
	row := doc(t, body).Find(`[data-testid=sessions] tr[data-session]:contains("Alice Example")`)
	action, ok := row.Find("form").Attr("action")
	if row.Length() != 1 || !ok {
		t.Fatalf("alice's session row: %d", row.Length())
	}
	if st, _, _ := webtest.Do(t, admin, "POST", env.URL+action, url.Values{}, nil); st != http.StatusSeeOther {
		t.Fatalf("end session: %d", st)
	}
	if st, _, _ := webtest.Do(t, victim, "GET", env.URL+"/api/v1/computes", nil, nil); st != http.StatusUnauthorized {
		t.Fatalf("ended session still works: %d", st)
	}
	if st, _, _ := webtest.Do(t, admin, "GET", env.URL+"/api/v1/computes", nil, nil); st != http.StatusOK {
		t.Fatalf("admin's own session ended: %d", st)
	}
}
