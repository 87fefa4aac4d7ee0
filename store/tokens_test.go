package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
)

func TestAccessTokens(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	clk := newClock(s)
	alice := compute.User{ID: "tid/alice", Name: "Alice", Role: compute.RoleDataScientist}
	bob := compute.User{ID: "tid/bob", Name: "Bob", Role: compute.RoleReader}
	if err := s.RecordSignIn(ctx, UserRecord{ID: alice.ID, Name: alice.Name, Role: alice.Role}); err != nil {
		t.Fatal(err)
	}

	tok, at, err := s.CreateAccessToken(ctx, alice, " laptop ", 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, AccessTokenPrefix) || len(tok) != accessTokenLen || at.Name != "laptop" || at.UserID != alice.ID {
		t.Fatalf("token %q (%d chars), %+v", tok, len(tok), at)
	}
	// Bob's token: created without a prior sign-in (bearer-only caller).
	bobTok, _, err := s.CreateAccessToken(ctx, bob, "ci", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	// Only the hash is stored.
	var n int
	if err := s.reader.QueryRow(`SELECT COUNT(*) FROM access_tokens WHERE CAST(token_hash AS TEXT) LIKE ? OR id = ?`, "%"+tok[4:]+"%", tok).Scan(&n); err != nil || n != 0 {
		t.Fatalf("token stored in clear (n=%d, err=%v)", n, err)
	}

	u, err := s.ResolveAccessToken(ctx, tok)
	if err != nil || *u != alice {
		t.Fatalf("ResolveAccessToken = %+v, %v; want %+v", u, err, alice)
	}
	list, _ := s.ListAccessTokens(ctx, alice.ID)
	if len(list) != 1 || !list[0].LastUsedAt.Equal(clk.Now()) || !list[0].Active(clk.Now()) {
		t.Fatalf("list after use = %+v", list)
	}

	// The token acts with the role of the user's last sign-in.
	if err := s.RecordSignIn(ctx, UserRecord{ID: alice.ID, Name: "Alice B", Role: compute.RoleReader}); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.ResolveAccessToken(ctx, tok); u == nil || u.Role != compute.RoleReader || u.Name != "Alice B" {
		t.Fatalf("after role change: %+v", u)
	}

	// Someone else cannot revoke it; its owner can, twice without error.
	if _, err := s.RevokeAccessToken(ctx, bob.ID, at.ID); !errors.Is(err, compute.ErrNotFound) {
		t.Fatalf("revoke by another user: %v", err)
	}
	for range 2 {
		if r, err := s.RevokeAccessToken(ctx, alice.ID, at.ID); err != nil || r.RevokedAt.IsZero() {
			t.Fatalf("revoke: %+v %v", r, err)
		}
	}
	if u, err := s.ResolveAccessToken(ctx, bobTok); err != nil || u.ID != bob.ID || u.Role != compute.RoleReader {
		t.Fatalf("bob: %+v %v", u, err)
	}

	bad := []string{"", "tya_", tok, strings.Replace(bobTok, "tya_", "xyz_", 1), bobTok + "x", "tya_" + strings.Repeat("A", 43)}
	for _, b := range bad {
		if _, err := s.ResolveAccessToken(ctx, b); !errors.Is(err, compute.ErrUnauthenticated) {
			t.Errorf("ResolveAccessToken(%.8q…) err = %v, want ErrUnauthenticated", b, err)
		} else if b != "" && strings.Contains(err.Error(), b) {
			t.Errorf("error quotes the token: %v", err)
		}
	}
	// Expiry.
	clk.Advance(24 * time.Hour)
	if _, err := s.ResolveAccessToken(ctx, bobTok); !errors.Is(err, compute.ErrUnauthenticated) {
		t.Fatalf("expired token: %v", err)
	}
	// A user whose role was taken away cannot use old tokens.
	tok2, _, _ := s.CreateAccessToken(ctx, alice, "second", time.Hour*48)
	s.RecordSignIn(ctx, UserRecord{ID: alice.ID, Role: compute.RoleNone})
	if _, err := s.ResolveAccessToken(ctx, tok2); !errors.Is(err, compute.ErrUnauthenticated) {
		t.Fatalf("token of a user without role: %v", err)
	}
}

func TestCreateAccessTokenRejects(t *testing.T) {
	s := MustOpen(t)
	u := compute.User{ID: "u", Name: "U", Role: compute.RoleReader}
	for _, tc := range []struct {
		name string
		u    compute.User
		tok  string
		ttl  time.Duration
	}{
		{"no user", compute.User{}, "x", time.Hour},
		{"no name", u, "  ", time.Hour},
		{"long name", u, strings.Repeat("n", 65), time.Hour},
		{"no ttl", u, "x", 0},
		{"too long", u, "x", MaxAccessTokenTTL + time.Hour},
	} {
		if _, _, err := s.CreateAccessToken(context.Background(), tc.u, tc.tok, tc.ttl); !errors.Is(err, compute.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", tc.name, err)
		}
	}
}

func TestLoginTransactions(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	clk := newClock(s)
	if err := s.BeginLogin(ctx, "state-a", 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	s.BeginLogin(ctx, "state-b", 10*time.Minute)
	if err := s.ConsumeLogin(ctx, "state-a"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, state string }{{"replayed", "state-a"}, {"unknown", "state-x"}, {"empty", ""}} {
		if err := s.ConsumeLogin(ctx, tc.state); !errors.Is(err, compute.ErrUnauthenticated) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	clk.Advance(10 * time.Minute)
	if err := s.ConsumeLogin(ctx, "state-b"); !errors.Is(err, compute.ErrUnauthenticated) {
		t.Errorf("expired: %v", err)
	}
	// Expired rows are swept when the next sign-in begins.
	s.BeginLogin(ctx, "state-c", time.Minute)
	clk.Advance(2 * time.Minute)
	s.BeginLogin(ctx, "state-d", time.Minute)
	var n int
	s.reader.QueryRow(`SELECT COUNT(*) FROM login_transactions`).Scan(&n)
	if n != 1 {
		t.Errorf("%d rows left, want 1", n)
	}
}
