package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
)

func TestSessionAdmin(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	clk := newClock(s)
	alice := compute.User{ID: "t/alice", Name: "Alice", Role: compute.RoleDataScientist}
	bob := compute.User{ID: "t/bob", Name: "Bob", Role: compute.RoleAdmin}
	a1, _ := s.CreateSessionWith(ctx, alice, time.Hour, SessionOptions{Method: "oidc", SID: "sid-1", LoginHint: "hint-a"})
	clk.Advance(time.Second)
	a2, _ := s.CreateSession(ctx, alice, time.Hour)
	clk.Advance(time.Second)
	b1, _ := s.CreateSession(ctx, bob, time.Hour)

	all, err := s.ListSessions(ctx, "")
	if err != nil || len(all) != 3 || all[0].UserID != bob.ID || all[2].Method != "oidc" || all[1].Method != "token" {
		t.Fatalf("ListSessions = %+v, %v", all, err)
	}
	if all[2].Handle != SessionHandle(a1) || len(all[2].Handle) != 2*sessionHandleBytes {
		t.Fatalf("handle %q, want %q", all[2].Handle, SessionHandle(a1))
	}
	mine, _ := s.ListSessions(ctx, alice.ID)
	if len(mine) != 2 {
		t.Fatalf("alice's sessions: %+v", mine)
	}

	// EndSession tells sign-out how the session started.
	e, err := s.EndSession(ctx, a1)
	if err != nil || e.Method != "oidc" || e.LoginHint != "hint-a" || e.UserID != alice.ID || e.Role != alice.Role {
		t.Fatalf("EndSession = %+v, %v", e, err)
	}
	if _, err := s.EndSession(ctx, a1); !errors.Is(err, compute.ErrNotFound) {
		t.Fatalf("second EndSession: %v", err)
	}

	// An admin kills a session by handle.
	if who, err := s.RevokeSessionByHandle(ctx, SessionHandle(b1)); err != nil || who != bob.ID {
		t.Fatalf("RevokeSessionByHandle = %q, %v", who, err)
	}
	for _, h := range []string{SessionHandle(b1), "zz", "00"} {
		if _, err := s.RevokeSessionByHandle(ctx, h); !errors.Is(err, compute.ErrNotFound) {
			t.Errorf("RevokeSessionByHandle(%q) = %v, want ErrNotFound", h, err)
		}
	}
	if _, err := s.LookupSession(ctx, b1, 0); !errors.Is(err, compute.ErrUnauthenticated) {
		t.Fatalf("killed session still works: %v", err)
	}

	// Sign out everywhere.
	a3, _ := s.CreateSession(ctx, alice, time.Hour)
	if n, err := s.RevokeUserSessions(ctx, alice.ID); err != nil || n != 2 {
		t.Fatalf("RevokeUserSessions = %d, %v; want 2", n, err)
	}
	for _, tok := range []string{a2, a3} {
		if _, err := s.LookupSession(ctx, tok, 0); !errors.Is(err, compute.ErrUnauthenticated) {
			t.Errorf("session survived sign-out everywhere: %v", err)
		}
	}
	if left, _ := s.ListSessions(ctx, ""); len(left) != 0 {
		t.Errorf("live sessions left: %+v", left)
	}
}

func TestUsers(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	clk := newClock(s)
	if err := s.RecordSignIn(ctx, UserRecord{ID: "t/o", Name: "O", Email: "o@example.com", Role: compute.RoleReader}); err != nil {
		t.Fatal(err)
	}
	first := clk.Now()
	clk.Advance(time.Hour)
	s.RecordSignIn(ctx, UserRecord{ID: "t/o", Name: "O2", Role: compute.RoleAdmin})
	u, err := s.GetUser(ctx, "t/o")
	if err != nil || u.Name != "O2" || u.Role != compute.RoleAdmin || !u.FirstSeen.Equal(first) || !u.LastSignIn.Equal(clk.Now()) {
		t.Fatalf("GetUser = %+v, %v", u, err)
	}
	if _, err := s.GetUser(ctx, "nobody"); !errors.Is(err, compute.ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
	if err := s.RecordSignIn(ctx, UserRecord{}); !errors.Is(err, compute.ErrInvalid) {
		t.Fatalf("empty ID: %v", err)
	}
}
