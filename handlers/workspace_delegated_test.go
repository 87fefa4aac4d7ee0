package handlers_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/azure/armreplay"
	"github.com/trainyard/trainyard/web/webtest"
)

// TestDelegatedAccessActsAsTheUser: with Entra ID sign-in, the app asks
// for https://management.azure.com/user_impersonation (and offline_access),
// keeps each user's refresh token sealed, and calls ARM with that user's
// own token, so Azure RBAC decides per user. Contract: the identity
// platform's authorization-code and refresh-token grants (the test OpenID
// provider of web/webtest) and ARM's 403 AuthorizationFailed (armreplay).
func TestDelegatedAccessActsAsTheUser(t *testing.T) {
	replay := armreplay.New(t)
	provider := webtest.NewProvider(t)
	provider.AccessTokenIssued = func(tok string, l webtest.Login) { replay.AcceptToken(tok, l.OID) }
	env := webtest.New(t, webtest.Options{Provider: provider, Azure: replay.Config(), AzureOptions: replay.ServiceOptions()})

	admin := env.TokenFor(t, webtest.TestTenantID+"/admin", compute.RoleAdmin)
	body := `{"subscriptionId":"` + armreplay.Subscription + `","resourceGroup":"` + armreplay.ResourceGroup + `","workspaceName":"` + armreplay.WorkspaceName + `"}`
	req, _ := http.NewRequest(http.MethodPut, env.URL+"/api/v1/workspaces/replay", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+admin)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("registering the workspace: %d", res.StatusCode)
	}

	alice := env.SignInOIDC(t, webtest.Login{OID: "oid-alice", Name: "Alice", Roles: []string{"ComputeOperator"}})
	bob := env.SignInOIDC(t, webtest.Login{OID: "oid-bob", Name: "Bob", Roles: []string{"ComputeOperator"}})
	if s := provider.Scopes(); len(s) == 0 || !strings.Contains(s[0], "https://management.azure.com/user_impersonation") || !strings.Contains(s[0], "offline_access") {
		t.Fatalf("sign-in asked for %q; want the delegated ARM scope and offline_access", s)
	}

	// Alice's Azure role does not allow deleting: ARM's 403, verbatim.
	replay.Forbid("oid-alice")
	status, page, _ := webtest.Do(t, alice, "POST", env.URL+"/computes/cpu-cluster/delete?workspace=replay", url.Values{}, nil)
	if status != http.StatusForbidden || !strings.Contains(page, "does not have authorization to perform action") {
		t.Fatalf("Alice's delete: %d %.300s; want ARM's 403 AuthorizationFailed shown", status, page)
	}
	// Bob's does: the DELETE reaches ARM as Bob.
	status, _, _ = webtest.Do(t, bob, "POST", env.URL+"/computes/cpu-cluster/delete?workspace=replay", url.Values{}, nil)
	if status != http.StatusSeeOther {
		t.Fatalf("Bob's delete: %d", status)
	}
	var principals []string
	for _, r := range replay.Requests() {
		if r.Method == http.MethodDelete {
			principals = append(principals, r.Principal)
		}
	}
	if !slices.Equal(principals, []string{"oid-alice", "oid-bob"}) {
		t.Errorf("DELETEs reached ARM as %q; want Alice's (refused) then Bob's", principals)
	}

	// The refresh tokens are kept sealed: no file of the data folder holds one.
	rt, err := env.Store.AzureRefreshToken(context.Background(), webtest.TestTenantID+"/oid-bob")
	if err != nil || rt == "" {
		t.Fatalf("Bob's refresh token: %q, %v", rt, err)
	}
	matches, _ := filepath.Glob(filepath.Join(env.DataDir, "trainyard.db*"))
	for _, f := range matches {
		data, _ := os.ReadFile(f)
		if bytes.Contains(data, []byte(rt)) {
			t.Errorf("%s holds a refresh token in the clear", f)
		}
	}
}
