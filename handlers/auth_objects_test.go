package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/store"
	"github.com/trainyard/trainyard/web/webtest"
)

// TestInstanceIsSingleUser: a compute instance is used (started, stopped,
// restarted) by its assigned user only — operators and admins excepted —
// and the buttons appear only for those who may press them.
func TestInstanceIsSingleUser(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true})
	ctx := context.Background()
	const aliceID = "tid-1/oid-alice"
	now := time.Now()
	for _, name := range []string{"ci-alice", "ci-alice2"} {
		err := env.Store.CreateTarget(ctx, &compute.Target{Name: name, Kind: compute.KindInstance, ProvisioningState: compute.ProvisioningSucceeded,
			CreatedBy: "Bob Lookalike", CreatedAt: now, ModifiedAt: now, StateSince: now,
			Instance: &compute.InstanceSpec{VMSize: "Standard_DS3_v2", State: compute.InstanceRunning, AssignedUser: aliceID}}, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	tokens := map[string]string{
		"alice":    env.TokenFor(t, aliceID, compute.RoleDataScientist),
		"bob":      env.TokenFor(t, "tid-1/oid-bob", compute.RoleDataScientist),
		"reader":   env.TokenFor(t, "tid-1/oid-reader", compute.RoleReader),
		"operator": env.TokenFor(t, "tid-1/oid-op", compute.RoleComputeOperator),
	}
	// The display name "Bob Lookalike" as creator gives Bob nothing: only IDs count.
	if err := env.Store.RecordSignIn(ctx, storeUser("tid-1/oid-bob", "Bob Lookalike", compute.RoleDataScientist)); err != nil {
		t.Fatal(err)
	}

	buttons := func(who string) string {
		_, body := bearer(t, env, tokens[who], "GET", "/computes?tab=instances")
		var out []string
		doc(t, body).Find(`tr[data-name=ci-alice] button`).Each(func(_ int, s *goquerySelection) { out = append(out, strings.TrimSpace(s.Text())) })
		return strings.Join(out, ",")
	}
	for who, want := range map[string]string{"alice": "Stop,Restart", "bob": "", "reader": "", "operator": "Stop,Restart,Delete"} {
		if got := buttons(who); got != want {
			t.Errorf("%s sees buttons %q, want %q", who, got, want)
		}
	}
	_, details := bearer(t, env, tokens["bob"], "GET", "/computes/ci-alice")
	if doc(t, details).Find(`button:contains("Stop")`).Length() != 0 {
		t.Error("bob sees Stop on the details page")
	}

	tests := []struct {
		who, method, path string
		want              int
	}{
		{"bob", "POST", "/api/v1/computes/ci-alice/stop", http.StatusForbidden},
		{"bob", "POST", "/computes/ci-alice/restart", http.StatusForbidden},
		{"reader", "POST", "/api/v1/computes/ci-alice/stop", http.StatusForbidden},
		{"alice", "DELETE", "/api/v1/computes/ci-alice", http.StatusForbidden},
		{"alice", "POST", "/computes/ci-alice/delete", http.StatusForbidden},
		{"alice", "POST", "/api/v1/computes/ci-alice/stop", http.StatusAccepted},
		{"operator", "POST", "/computes/ci-alice2/stop", http.StatusSeeOther},
	}
	for _, tc := range tests {
		if st, body := bearer(t, env, tokens[tc.who], tc.method, tc.path); st != tc.want {
			t.Errorf("%s %s %s: %d, want %d (%s)", tc.who, tc.method, tc.path, st, tc.want, body)
		}
	}

	// An instance an operator creates without assigning it is the operator's.
	const body = `{"properties":{"computeType":"ComputeInstance","properties":{"vmSize":"Standard_DS3_v2"}}}`
	req, _ := http.NewRequest("PUT", env.URL+"/api/v1/computes/ci-op", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tokens["operator"])
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created map[string]any
	json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	tg, err := env.Store.GetTarget(ctx, "ci-op")
	if resp.StatusCode != http.StatusCreated || err != nil || tg.Instance.AssignedUser != "tid-1/oid-op" {
		t.Fatalf("create instance: %d %v %+v", resp.StatusCode, err, tg)
	}
}

type goquerySelection = goquery.Selection

func storeUser(id, name string, role compute.Role) store.UserRecord {
	return store.UserRecord{ID: id, Name: name, Role: role}
}
