package handlers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/store"
	"github.com/trainyard/trainyard/web/webtest"
)

// TestTerminalOnlyForItsUser: an instance's terminal is its assigned user's
// alone (not another data scientist's, not an operator's, not an Admin's),
// every refusal is audited, a stopped instance has none, and a page on
// another origin cannot open its WebSocket with the user's credentials.
func TestTerminalOnlyForItsUser(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true})
	const aliceID = "tid-1/oid-alice"
	env.RunningInstance(t, "ci-alice", aliceID)
	tokens := map[string]string{
		"alice":    env.TokenFor(t, aliceID, compute.RoleDataScientist),
		"bob":      env.TokenFor(t, "tid-1/oid-bob", compute.RoleDataScientist),
		"reader":   env.TokenFor(t, "tid-1/oid-reader", compute.RoleReader),
		"operator": env.TokenFor(t, "tid-1/oid-op", compute.RoleComputeOperator),
		"admin":    env.TokenFor(t, "tid-1/oid-admin", compute.RoleAdmin),
	}
	tests := []struct {
		who, path string
		want      int
	}{
		{"alice", "/computes/ci-alice/terminal", http.StatusOK},
		{"bob", "/computes/ci-alice/terminal", http.StatusForbidden},
		{"reader", "/computes/ci-alice/terminal", http.StatusForbidden},
		{"operator", "/computes/ci-alice/terminal", http.StatusForbidden},
		{"admin", "/computes/ci-alice/terminal", http.StatusForbidden},
		{"bob", "/computes/ci-alice/terminal/socket", http.StatusForbidden},
		{"admin", "/computes/ci-alice/terminal/socket", http.StatusForbidden},
		{"alice", "/computes/nope/terminal", http.StatusNotFound},
	}
	for _, tc := range tests {
		if st, body := bearer(t, env, tokens[tc.who], "GET", tc.path); st != tc.want {
			t.Errorf("%s GET %s: %d, want %d (%s)", tc.who, tc.path, st, tc.want, body)
		}
	}
	events, _, err := env.Store.ListAudit(context.Background(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	denied := 0
	for _, e := range events {
		// Refused by the route's role (reader, operator) or by the instance's rule.
		if strings.Contains(e.Action, "terminal") && e.Outcome == store.AuditDenied && strings.Contains(e.Object, "ci-alice") {
			denied++
		}
	}
	if denied < 6 {
		t.Errorf("audited refusals of the terminal: %d, want one per refused request (6)", denied)
	}

	dial := func(origin string) (*websocket.Conn, int, error) {
		h := http.Header{"Authorization": {"Bearer " + tokens["alice"]}}
		if origin != "" {
			h.Set("Origin", origin)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(env.URL, "http")+"/computes/ci-alice/terminal/socket", &websocket.DialOptions{HTTPHeader: h})
		st := 0
		if resp != nil {
			st = resp.StatusCode
		}
		return c, st, err
	}
	if c, st, err := dial("https://evil.example"); err == nil || st != http.StatusForbidden {
		if c != nil {
			c.CloseNow()
		}
		t.Errorf("WebSocket from another origin: status %d, %v; want 403", st, err)
	}
	c, _, err := dial(env.URL)
	if err != nil {
		t.Fatalf("alice's own terminal socket: %v", err)
	}
	ctx := context.Background()
	if err := c.Write(ctx, websocket.MessageBinary, []byte("echo $((40+2))ok; exit\n")); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for !strings.Contains(out.String(), "42ok") {
		_, data, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("reading the terminal: %v; got %q", err, out.String())
		}
		out.Write(data)
	}
	c.CloseNow()

	// Stopped: no terminal (409), for its own user too.
	if _, err := env.Store.UpdateTarget(ctx, "ci-alice", func(tg *compute.Target) error {
		tg.Instance.State = compute.InstanceStopped
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if st, body := bearer(t, env, tokens["alice"], "GET", "/computes/ci-alice/terminal"); st != http.StatusConflict {
		t.Errorf("terminal of a stopped instance: %d, want 409 (%s)", st, body)
	}
}
