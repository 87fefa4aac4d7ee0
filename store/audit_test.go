package store

import (
	"context"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/compute"
)

func TestAuditLog(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	clk := newClock(s)
	events := []AuditEvent{
		{UserID: "t/a", UserName: "Alice", Role: compute.RoleComputeOperator, Action: "compute.create", Object: "cpu-cluster", Outcome: AuditSucceeded, Remote: "127.0.0.1"},
		{UserID: "t/b", UserName: "Bob", Role: compute.RoleReader, Action: "compute.delete", Object: "cpu-cluster", Outcome: AuditDenied, Detail: "needs ComputeOperator"},
		{UserID: "t/a", UserName: "Alice", Role: compute.RoleComputeOperator, Action: "compute.start", Object: "ci_100%", Outcome: AuditFailed},
		{Action: "signin", Outcome: AuditDenied, Object: strings.Repeat("é", 400)},
	}
	for _, e := range events {
		if err := s.AppendAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
		clk.Advance(1)
	}
	if err := s.AppendAudit(ctx, AuditEvent{Action: "x"}); err == nil {
		t.Error("event without outcome accepted")
	}
	tests := []struct {
		name    string
		f       AuditFilter
		want    []string // objects, newest first
		wantAll int
	}{
		{"all", AuditFilter{}, []string{"long", "ci_100%", "cpu-cluster", "cpu-cluster"}, 4},
		{"denied", AuditFilter{Outcome: AuditDenied}, []string{"long", "cpu-cluster"}, 2},
		{"by user", AuditFilter{Query: "bob"}, []string{"cpu-cluster"}, 1},
		{"like wildcards are literal", AuditFilter{Query: "_100%"}, []string{"ci_100%"}, 1},
		{"percent alone", AuditFilter{Query: "%"}, []string{"ci_100%"}, 1},
		{"paged", AuditFilter{Limit: 2, Offset: 1}, []string{"ci_100%", "cpu-cluster"}, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, total, err := s.ListAudit(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var objs []string
			for _, e := range got {
				o := e.Object
				if strings.HasPrefix(o, "é") {
					o = "long"
					if !strings.HasSuffix(e.Object, "…") || len(e.Object) > auditFieldMax+len("…") {
						t.Errorf("long object not clipped: %d bytes", len(e.Object))
					}
				}
				objs = append(objs, o)
			}
			if strings.Join(objs, ",") != strings.Join(tc.want, ",") || total != tc.wantAll {
				t.Fatalf("got %v (total %d), want %v (%d)", objs, total, tc.want, tc.wantAll)
			}
		})
	}
	got, _, _ := s.ListAudit(ctx, AuditFilter{Query: "Alice", Limit: 1})
	if e := got[0]; e.UserName != "Alice" || e.Role != compute.RoleComputeOperator || e.At.IsZero() || e.Action != "compute.start" {
		t.Errorf("event fields: %+v", e)
	}
}
