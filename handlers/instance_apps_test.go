package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/web/jupyter"
	"github.com/trainyard/trainyard/web/webtest"
)

// TestInstanceApplications: the Applications column and section list what
// this server serves (the Terminal, and Jupyter where it is installed), as links for the instance's
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
	want := map[string]app{compute.AppTerminal: {href: "/computes/ci-alice/terminal"}}
	wantAPI := []string{"Terminal " + env.URL + "/computes/ci-alice/terminal"}
	if jupyter.Installed() {
		want[compute.AppJupyter] = app{href: "/computes/ci-alice/apps/jupyter/tree"}
		wantAPI = append([]string{"Jupyter " + env.URL + "/computes/ci-alice/apps/jupyter/tree"}, wantAPI...)
	}
	for _, where := range []struct{ path, sel string }{{"/computes?tab=instances", row}, {"/computes/ci-alice", section}} {
		if got := apps(alice, where.path, where.sel); !reflect.DeepEqual(got, want) {
			t.Errorf("alice on %s: apps %+v; want %+v", where.path, got, want)
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
	var gotAPI []string
	for _, a := range p.Applications {
		gotAPI = append(gotAPI, a.DisplayName+" "+a.EndpointURI)
	}
	if !reflect.DeepEqual(gotAPI, wantAPI) {
		t.Errorf("applications in the API: %q; want %q", gotAPI, wantAPI)
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
