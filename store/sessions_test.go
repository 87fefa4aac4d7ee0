package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
)

func TestSessions(t *testing.T) {
	const (
		ttl  = 8 * time.Hour
		idle = 30 * time.Minute
	)
	alice := compute.User{ID: "tid/oid-alice", Name: "Alice", Role: compute.RoleComputeOperator}
	tests := []struct {
		name   string
		steps  func(t *testing.T, s *Store, clk *clock, token string)
		wantOK bool
	}{
		{"fresh", func(*testing.T, *Store, *clock, string) {}, true},
		{"active within idle window", func(t *testing.T, s *Store, clk *clock, token string) {
			// Keep it alive past the idle window by using it every 20 minutes.
			for range 5 {
				clk.Advance(20 * time.Minute)
				if _, err := s.LookupSession(context.Background(), token, idle); err != nil {
					t.Fatalf("lookup while active: %v", err)
				}
			}
		}, true},
		{"idle too long", func(_ *testing.T, _ *Store, clk *clock, _ string) { clk.Advance(idle + time.Millisecond) }, false},
		{"exactly idle limit", func(_ *testing.T, _ *Store, clk *clock, _ string) { clk.Advance(idle) }, true},
		{"absolute expiry despite activity", func(t *testing.T, s *Store, clk *clock, token string) {
			for range int(ttl / (20 * time.Minute)) {
				clk.Advance(20 * time.Minute)
				s.LookupSession(context.Background(), token, idle)
			}
		}, false},
		{"revoked", func(t *testing.T, s *Store, _ *clock, token string) {
			if err := s.RevokeSession(context.Background(), token); err != nil {
				t.Fatal(err)
			}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := MustOpen(t)
			clk := newClock(s)
			token, err := s.CreateSession(context.Background(), alice, ttl)
			if err != nil {
				t.Fatal(err)
			}
			tt.steps(t, s, clk, token)
			u, err := s.LookupSession(context.Background(), token, idle)
			if tt.wantOK {
				if err != nil || u == nil || *u != alice {
					t.Fatalf("LookupSession = %+v, %v; want %+v", u, err, alice)
				}
				return
			}
			if !errors.Is(err, compute.ErrUnauthenticated) || u != nil {
				t.Fatalf("LookupSession = %+v, %v; want ErrUnauthenticated", u, err)
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("error quotes the token: %v", err)
			}
		})
	}
}

func TestSessionTokens(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	u := compute.User{ID: "local", Name: "Local admin", Role: compute.RoleAdmin}
	a, err := s.CreateSession(ctx, u, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.CreateSession(ctx, u, time.Hour)
	if a == b || len(a) != 43 || strings.ContainsAny(a, "+/=") {
		t.Errorf("tokens %q, %q: want distinct 43-character base64url", a, b)
	}
	// Only the hash is stored.
	var n int
	if err := s.reader.QueryRow(`SELECT COUNT(*) FROM sessions WHERE id_hash = ? OR CAST(id_hash AS TEXT) = ?`, []byte(a), a).Scan(&n); err != nil || n != 0 {
		t.Errorf("token stored in clear (n=%d, err=%v)", n, err)
	}
	for _, bad := range []string{"", "short", a + "x", strings.Repeat("A", 43)} {
		if _, err := s.LookupSession(ctx, bad, 0); !errors.Is(err, compute.ErrUnauthenticated) {
			t.Errorf("LookupSession(%q) err = %v", bad, err)
		}
	}
	// Revoking one session leaves the other; revoking twice or an unknown token is fine.
	for range 2 {
		if err := s.RevokeSession(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RevokeSession(ctx, "nope"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LookupSession(ctx, b, 0); err != nil {
		t.Errorf("other session: %v", err)
	}
	for _, bad := range []struct {
		u   compute.User
		ttl time.Duration
	}{{compute.User{}, time.Hour}, {u, 0}, {u, -time.Second}} {
		if _, err := s.CreateSession(ctx, bad.u, bad.ttl); !errors.Is(err, compute.ErrInvalid) {
			t.Errorf("CreateSession(%+v, %v) err = %v, want ErrInvalid", bad.u, bad.ttl, err)
		}
	}
}

func TestSessionLastSeenAndCleanup(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	clk := newClock(s)
	u := compute.User{ID: "u1", Name: "U", Role: compute.RoleReader}
	short, _ := s.CreateSession(ctx, u, time.Hour)
	long, _ := s.CreateSession(ctx, u, 48*time.Hour)
	revoked, _ := s.CreateSession(ctx, u, 48*time.Hour)
	s.RevokeSession(ctx, revoked)

	clk.Advance(10 * time.Minute)
	if _, err := s.LookupSession(ctx, long, 0); err != nil {
		t.Fatal(err)
	}
	var lastSeen int64
	s.reader.QueryRow(`SELECT last_seen FROM sessions WHERE id_hash = ?`, hashToken(long)).Scan(&lastSeen)
	if !fromMS(lastSeen).Equal(clk.Now()) {
		t.Errorf("last_seen = %v, want %v", fromMS(lastSeen), clk.Now())
	}

	clk.Advance(2 * time.Hour)
	n, err := s.DeleteExpiredSessions(ctx)
	if err != nil || n != 2 {
		t.Fatalf("DeleteExpiredSessions = %d, %v; want 2 (expired + revoked)", n, err)
	}
	if _, err := s.LookupSession(ctx, short, 0); !errors.Is(err, compute.ErrUnauthenticated) {
		t.Errorf("expired session: %v", err)
	}
	if _, err := s.LookupSession(ctx, long, 0); err != nil {
		t.Errorf("live session removed: %v", err)
	}
}

// A signed-in read writes nothing while last_seen is fresh: only a lookup
// after lastSeenEvery (or a tenth of the idle limit) moves it.
func TestLookupSessionWritesLastSeenSeldom(t *testing.T) {
	s := MustOpen(t)
	clk := newClock(s)
	ctx := context.Background()
	u := compute.User{ID: "tid/oid-bob", Name: "Bob", Role: compute.RoleReader}
	token, err := s.CreateSession(ctx, u, 8*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	created := clk.Now()
	lastSeen := func() time.Time {
		t.Helper()
		infos, err := s.ListSessions(ctx, u.ID)
		if err != nil || len(infos) != 1 {
			t.Fatalf("ListSessions = %v, %v", infos, err)
		}
		return infos[0].LastSeen
	}
	const idle = time.Hour
	clk.Advance(30 * time.Second)
	if _, err := s.LookupSession(ctx, token, idle); err != nil {
		t.Fatal(err)
	}
	if got := lastSeen(); !got.Equal(created) {
		t.Errorf("a lookup 30 s after the last wrote last_seen %v (was %v)", got, created)
	}
	clk.Advance(31 * time.Second)
	if _, err := s.LookupSession(ctx, token, idle); err != nil {
		t.Fatal(err)
	}
	if got := lastSeen(); !got.Equal(clk.Now()) {
		t.Errorf("a lookup 61 s after the last: last_seen %v, want %v", got, clk.Now())
	}
	// With a short idle limit, last_seen follows closely enough to keep an
	// active session alive.
	clk.Advance(7 * time.Second)
	if _, err := s.LookupSession(ctx, token, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := lastSeen(); !got.Equal(clk.Now()) {
		t.Errorf("idle 60 s, lookup after 7 s: last_seen %v, want %v", got, clk.Now())
	}
}
