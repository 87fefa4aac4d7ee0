package store

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// TestAzureOperationsAndFresherRows: operations under way are kept per
// compute until the one recorded ends (a newer one is not dropped by the
// older one's end), go with their workspace; and a full list read older
// than a compute's own read does not overwrite it.
func TestAzureOperationsAndFresherRows(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	c := newClock(s)
	ws := compute.Workspace{Alias: "prod", SubscriptionID: "34adfa4f-cedf-4dc0-ba29-b6d1a69ab345", ResourceGroup: "rg", Name: "w1x", CreatedBy: "Admin"}
	if _, err := s.AddWorkspace(ctx, ws); err != nil {
		t.Fatal(err)
	}
	first := compute.PendingOperation{Workspace: "prod", Compute: "gpu", Kind: "create", ResumeToken: `{"t":1}`, UserID: "u1", StartedAt: c.Now()}
	second := first
	second.Kind, second.ResumeToken = "stop", `{"t":2}`
	for _, op := range []compute.PendingOperation{first, second} {
		if err := s.PutAzureOperation(ctx, op); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteAzureOperation(ctx, first); err != nil { // the superseded one ends
		t.Fatal(err)
	}
	ops, err := s.AzureOperations(ctx)
	if err != nil || len(ops) != 1 || ops[0] != second {
		t.Fatalf("after the older one ended: %+v, %v; want only %+v", ops, err, second)
	}

	// A list read begun before the compute was read on its own keeps the
	// compute's row; rows older than the read are replaced or go.
	began := c.Now()
	if err := s.PutAzureCompute(ctx, "prod", "old", json.RawMessage(`{"name":"old"}`), ""); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Second)
	if err := s.PutAzureCompute(ctx, "prod", "gpu", json.RawMessage(`{"name":"gpu","v":"fresh"}`), ""); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplaceAzureComputes(ctx, "prod", map[string]json.RawMessage{"gpu": json.RawMessage(`{"name":"gpu","v":"stale"}`)}, began, ""); err != nil {
		t.Fatal(err)
	}
	snap, err := s.AzureComputes(ctx, "prod")
	if err != nil || len(snap.Computes) != 1 || string(snap.Computes[0].Body) != `{"name":"gpu","v":"fresh"}` {
		t.Fatalf("after a stale list: %+v, %v", snap.Computes, err)
	}

	if err := s.RemoveWorkspace(ctx, "prod"); err != nil {
		t.Fatal(err)
	}
	if ops, err := s.AzureOperations(ctx); err != nil || len(ops) != 0 {
		t.Errorf("a removed workspace's operations: %+v, %v", ops, err)
	}
}
