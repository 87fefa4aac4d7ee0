package web_test

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/web"
	"github.com/trainyard/trainyard/web/webtest"
)

// publicRoutes are the only routes anyone may call without signing in. A
// new public route must be added here on purpose, or this test fails.
var publicRoutes = []string{
	"GET /healthz",
	"GET /static/*",
	"GET /login",
	"GET /signed-out",
	"POST /logout",
	"GET /auth/callback",
}

// definedRoles are the roles users hold (docs/design/security.md §5).
var definedRoles = []compute.Role{compute.RoleReader, compute.RoleDataScientist, compute.RoleComputeOperator, compute.RoleAdmin}

// requirableRoles are what a route may require: a held role, or
// RoleComputeUser (DataScientist or ComputeOperator, object checked in the handler).
var requirableRoles = append([]compute.Role{compute.RoleComputeUser}, definedRoles...)

var paramPattern = regexp.MustCompile(`\{([^}:]+)(:[^}]*)?\}`)

// concretePath fills a route pattern with values that name nothing, so a
// request that passes the role check changes nothing ({action:a|b} takes a).
func concretePath(pattern string) string {
	p := paramPattern.ReplaceAllStringFunc(pattern, func(m string) string {
		sub := paramPattern.FindStringSubmatch(m)
		if sub[2] != "" {
			return strings.SplitN(strings.TrimPrefix(sub[2], ":"), "|", 2)[0]
		}
		return "matrix-none"
	})
	return strings.ReplaceAll(p, "*", "matrix-none")
}

// TestRouteRoleMatrix is generated from the route table: every route has a
// rule; for every route and every role the answer is 401 (or the sign-in
// redirect) without a user, 403 below the route's role, and neither at or
// above it.
func TestRouteRoleMatrix(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true})
	routes := web.Routes(env.Handlers, http.NotFoundHandler())
	tokens := map[compute.Role]string{}
	for _, r := range definedRoles {
		tokens[r] = env.TokenFor(t, "matrix/"+r.String(), r)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	seen := map[string]bool{}
	for _, rt := range routes {
		key := rt.Method + " " + rt.Pattern
		if seen[key] {
			t.Errorf("%s: listed twice", key)
		}
		seen[key] = true
		if rt.Role == compute.RoleNone {
			if !slices.Contains(publicRoutes, key) {
				t.Errorf("%s: public (RoleNone) but not in the allow-list of public routes; give it a role", key)
			}
			continue
		}
		if !slices.Contains(requirableRoles, rt.Role) {
			t.Errorf("%s: role %d is not a defined role", key, rt.Role)
			continue
		}
		path := concretePath(rt.Pattern)
		t.Run(key, func(t *testing.T) {
			status, _, h := webtest.Do(t, noRedirect, rt.Method, env.URL+path, nil, nil)
			signInRedirect := status == http.StatusSeeOther && strings.HasPrefix(h.Get("Location"), "/login?next=")
			if status != http.StatusUnauthorized && !(signInRedirect && rt.Method == "GET" && !strings.HasPrefix(path, "/api/")) {
				t.Errorf("anonymous: %d, want 401 (or the sign-in redirect for a page)", status)
			}
			for _, role := range definedRoles {
				status, body, _ := webtest.Do(t, noRedirect, rt.Method, env.URL+path, nil, map[string]string{"Authorization": "Bearer " + tokens[role]})
				switch {
				case !role.Includes(rt.Role) && status != http.StatusForbidden:
					t.Errorf("%s: %d, want 403 (route needs %s)", role, status, rt.Role)
				case role.Includes(rt.Role) && (status == http.StatusForbidden || status == http.StatusUnauthorized):
					t.Errorf("%s: %d, want neither 401 nor 403 (route needs %s): %.200s", role, status, rt.Role, body)
				}
			}
		})
	}
	for _, p := range publicRoutes {
		if !seen[p] {
			t.Errorf("allow-listed public route %s is not in the table any more; drop it from the list", p)
		}
	}
}

// TestRoleMatrixOfComputeActions pins the per-route roles that
// docs/design/security.md §5 asks for, so a loosened role in the table is
// caught by name.
func TestRoleMatrixOfComputeActions(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true})
	want := map[string]compute.Role{
		"GET /computes":                                    compute.RoleReader,
		"GET /api/v1/computes":                             compute.RoleReader,
		"PUT /api/v1/computes/{name}":                      compute.RoleComputeOperator,
		"DELETE /api/v1/computes/{name}":                   compute.RoleComputeOperator,
		"POST /api/v1/computes/{name}/approveHostKey":      compute.RoleComputeOperator,
		"POST /api/v1/computes/{name}/updateScaleSettings": compute.RoleComputeOperator,
		"POST /computes/{name}/scale-settings":             compute.RoleComputeOperator,
		"POST /computes/new/cluster":                       compute.RoleComputeOperator,
		"POST /computes/new/instance":                      compute.RoleComputeOperator,
		"POST /computes/attach/virtualmachine":             compute.RoleComputeOperator,
		"POST /computes/{name}/{action}":                   compute.RoleComputeUser, // per object in the handler: power needs the assigned user or an operator, delete/detach an operator
		"GET /audit":                                       compute.RoleAdmin,
		"GET /audit/sessions":                              compute.RoleAdmin,
		"POST /audit/sessions/{handle}/revoke":             compute.RoleAdmin,
		"GET /profile":                                     compute.RoleReader,
		"POST /profile/tokens":                             compute.RoleReader,
	}
	got := map[string]compute.Role{}
	for _, rt := range web.Routes(env.Handlers, http.NotFoundHandler()) {
		got[rt.Method+" "+rt.Pattern] = rt.Role
	}
	for k, r := range want {
		if g, ok := got[k]; !ok || g != r {
			t.Errorf("%s: role %s (present %v), want %s", k, g, ok, r)
		}
	}
}
