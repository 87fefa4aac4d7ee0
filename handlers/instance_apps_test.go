package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/web/webtest"
)

// TestInstanceApplications: the Applications column and section list what
// this server serves (here: the Terminal), as links for the instance's
// user, greyed out with the reason for others and while it is stopped; the
// API lists them as ARM does, with absolute addresses.
func TestInstanceApplications(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true})
	const aliceID = "tid-1/oid-alice"
	env.RunningInstance(t, "ci-alice", aliceID)
	alice := env.TokenFor(t, aliceID, compute.RoleDataScientist)
	bob := env.TokenFor(t, "tid-1/oid-bob", compute.RoleDataScientist)

	type app struct{ href, reason string }
	apps := func(token, path, sel string) map[string]app {
		t.Helper()
		st, body := bearer(t, env, token, "GET", path)
		if st != http.StatusOK {
			t.Fatalf("GET %s: %d", path, st)
		}
		out := map[string]app{}
		doc(t, body).Find(sel + ` [data-app]`).Each(func(_ int, s *goquerySelection) {
			out[s.AttrOr("data-app", "")] = app{s.AttrOr("href", ""), s.AttrOr("data-reason", "")}
		})
		return out
	}
	const row, section = `tr[data-name=ci-alice]`, `[data-testid=applications]`
	for _, where := range []struct{ path, sel string }{{"/computes?tab=instances", row}, {"/computes/ci-alice", section}} {
		got := apps(alice, where.path, where.sel)
		if got[compute.AppTerminal] != (app{href: "/computes/ci-alice/terminal"}) || len(got) != 1 {
			t.Errorf("alice on %s: apps %+v; want the Terminal link only", where.path, got)
		}
		if got := apps(bob, where.path, where.sel); got[compute.AppTerminal].href != "" || got[compute.AppTerminal].reason == "" {
			t.Errorf("bob on %s: apps %+v; want the Terminal greyed out with the reason", where.path, got)
		}
	}

	_, body := bearer(t, env, alice, "GET", "/api/v1/computes/ci-alice")
	var res struct {
		Properties struct {
			Properties struct {
				Applications []struct {
					DisplayName string `json:"displayName"`
					EndpointURI string `json:"endpointUri"`
				} `json:"applications"`
				ConnectivityEndpoints *struct{} `json:"connectivityEndpoints"`
			} `json:"properties"`
		} `json:"properties"`
	}
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		t.Fatal(err)
	}
	p := res.Properties.Properties
	if len(p.Applications) != 1 || p.Applications[0].DisplayName != "Terminal" || p.Applications[0].EndpointURI != env.URL+"/computes/ci-alice/terminal" {
		t.Errorf("applications in the API: %+v; want Terminal at %s/computes/ci-alice/terminal", p.Applications, env.URL)
	}
	if p.ConnectivityEndpoints != nil {
		t.Errorf("connectivityEndpoints without SSH: %+v; want none", p.ConnectivityEndpoints)
	}

	if _, err := env.Store.UpdateTarget(context.Background(), "ci-alice", func(tg *compute.Target) error {
		tg.Instance.State = compute.InstanceStopped
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := apps(alice, "/computes/ci-alice", section)[compute.AppTerminal]; got.href != "" || got.reason == "" {
		t.Errorf("alice's Terminal while stopped: %+v; want it greyed out with the reason", got)
	}
}
