package web

import (
	"testing"
	"time"
)

// TestFailureLimiterWindow: the limit holds until a window from the first
// failure is over, then the client starts again with a clean slate; full
// tables drop windows that are over.
func TestFailureLimiterWindow(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newFailureLimiter(3, time.Minute)
	l.now = func() time.Time { return now }
	for i := range 3 {
		if w := l.blocked("a"); w != 0 {
			t.Fatalf("blocked after %d failures", i)
		}
		l.fail("a")
		now = now.Add(10 * time.Second)
	}
	if w := l.blocked("a"); w != 30*time.Second {
		t.Fatalf("after 3 failures: blocked %s, want 30s (a minute from the first)", w)
	}
	if w := l.blocked("b"); w != 0 {
		t.Fatalf("another client blocked %s", w)
	}
	now = now.Add(30 * time.Second)
	if w := l.blocked("a"); w != 0 {
		t.Fatalf("after the window: blocked %s", w)
	}
	l.fail("a")
	if w := l.blocked("a"); w != 0 {
		t.Fatal("one failure in a new window blocks")
	}

	for i := range maxTrackedClients {
		l.peers[string(rune(i+0x1000))] = &failureWindow{start: now.Add(-2 * time.Minute), n: 1}
	}
	l.fail("new")
	if len(l.peers) > 3 {
		t.Fatalf("%d clients tracked after a sweep", len(l.peers))
	}
}
