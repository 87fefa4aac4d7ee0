package handlers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/web/webtest"
)

// TestIdleShutdownFromActivity: an instance whose user types in its
// terminal stays up past its idle time; once the typing stops it stops by
// itself — not before its idle time after the last keystroke — ending the
// terminal, and its page says when and why. (One idle "minute" is 100 ms
// here; the instance's idle shutdown is Studio's minimum, 15 of them.)
func TestIdleShutdownFromActivity(t *testing.T) {
	t.Parallel()
	const minute = 100 * time.Millisecond
	env := webtest.New(t, webtest.Options{IdleMinute: minute})
	const aliceID = "tid-1/oid-alice"
	env.RunningInstanceWith(t, "ci-idle", aliceID, func(in *compute.InstanceSpec) { in.IdleShutdownMinutes = 15 })
	limit := 15 * minute
	alice := env.TokenFor(t, aliceID, compute.RoleDataScientist)
	ctx := context.Background()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(env.URL, "http")+"/computes/ci-idle/terminal/socket",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + alice}}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	readErr := make(chan error, 1)
	go func() {
		for {
			if _, _, err := conn.Read(ctx); err != nil {
				readErr <- err
				return
			}
		}
	}()
	state := func() *compute.Target {
		tg, err := env.Store.GetTarget(ctx, "ci-idle")
		if err != nil {
			t.Fatal(err)
		}
		return tg
	}

	// Typing for three idle times: it stays Running throughout.
	var lastKey time.Time
	for typedFor := time.Duration(0); typedFor < 3*limit; typedFor += limit / 5 {
		lastKey = time.Now()
		if err := conn.Write(ctx, websocket.MessageBinary, []byte("true\n")); err != nil {
			t.Fatal(err)
		}
		if st := state().Instance.State; st != compute.InstanceRunning {
			t.Fatalf("after %s of typing the instance is %s; want Running (typing is activity)", typedFor, st)
		}
		time.Sleep(limit / 5)
	}

	// Then nothing: it stops by itself.
	var tg *compute.Target
	webtest.WaitFor(t, 10*limit, "the idle instance to stop", func() bool {
		tg = state()
		return tg.Instance.State == compute.InstanceStopped
	})
	if tg.LastOperation.Trigger != "IdleShutdown" || !strings.Contains(tg.Instance.StopReason, "Stopped by idle shutdown at ") {
		t.Errorf("stopped with %+v, reason %q; want the IdleShutdown trigger and the reason", tg.LastOperation, tg.Instance.StopReason)
	}
	if began := tg.LastOperation.Time; began.Before(lastKey.Add(limit)) {
		t.Errorf("idle shutdown began %s after the last keystroke; want at least the idle time (%s)", began.Sub(lastKey), limit)
	}
	select {
	case <-readErr:
	case <-time.After(10 * time.Second):
		t.Error("the terminal is still open after idle shutdown stopped the instance")
	}
	_, page := bearer(t, env, alice, "GET", "/computes/ci-idle")
	if reason := doc(t, page).Find(`[data-testid=stop-reason]`).Text(); !strings.Contains(reason, "no terminal, Jupyter or SSH activity") {
		t.Errorf("details page: stop reason %q", reason)
	}
}
