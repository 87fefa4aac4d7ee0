package store

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
)

func TestWorkspacesAndTheirCache(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	ws := compute.Workspace{Alias: "prod", SubscriptionID: "34adfa4f-cedf-4dc0-ba29-b6d1a69ab345", ResourceGroup: "testrg123", Name: "workspaces123", CreatedBy: "Admin"}
	if _, err := s.AddWorkspace(ctx, ws); err != nil {
		t.Fatal(err)
	}
	dupes := []compute.Workspace{
		ws, // same alias
		{Alias: "again", SubscriptionID: ws.SubscriptionID, ResourceGroup: "TESTRG123", Name: "Workspaces123"}, // same workspace, Azure's names are case-insensitive
	}
	for _, d := range dupes {
		if _, err := s.AddWorkspace(ctx, d); !errors.Is(err, compute.ErrConflict) {
			t.Errorf("AddWorkspace(%+v) = %v, want a conflict", d, err)
		}
	}
	if _, err := s.AddWorkspace(ctx, compute.Workspace{Alias: "Bad Alias"}); !errors.Is(err, compute.ErrInvalid) {
		t.Errorf("a workspace breaking the rules: %v, want ErrInvalid", err)
	}

	snap, err := s.AzureComputes(ctx, "prod")
	if err != nil || !snap.AsOf.IsZero() || len(snap.Computes) != 0 {
		t.Fatalf("before any read: %+v, %v; want nothing, never read", snap, err)
	}
	asOf := time.Date(2026, 12, 7, 12, 4, 31, 0, time.UTC)
	if err := s.ReplaceAzureComputes(ctx, "prod", map[string]json.RawMessage{"a": json.RawMessage(`{"name":"a"}`), "b": json.RawMessage(`{"name":"b"}`)}, asOf, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplaceAzureComputes(ctx, "prod", map[string]json.RawMessage{"b": json.RawMessage(`{"name":"b","v":2}`)}, asOf.Add(time.Minute), ""); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAzureCompute(ctx, "prod", "c", json.RawMessage(`{"name":"c"}`), "QuotaExceeded: over"); err != nil {
		t.Fatal(err)
	}
	snap, err = s.AzureComputes(ctx, "prod")
	if err != nil || !snap.AsOf.Equal(asOf.Add(time.Minute)) || len(snap.Computes) != 2 || string(snap.Computes[0].Body) != `{"name":"b","v":2}` || snap.Computes[1].OpError != "QuotaExceeded: over" {
		t.Fatalf("after two reads and a put: %+v, %v", snap, err)
	}
	if err := s.RefreshFailed(ctx, "prod", "ARM answered 503"); err != nil {
		t.Fatal(err)
	}
	if snap, _ = s.AzureComputes(ctx, "prod"); snap.Error != "ARM answered 503" || snap.AsOf.IsZero() {
		t.Errorf("after a failed read: %+v; want the error and the last good as-of", snap)
	}
	if err := s.DeleteAzureCompute(ctx, "prod", "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AzureCompute(ctx, "prod", "b"); !errors.Is(err, compute.ErrNotFound) {
		t.Errorf("a deleted compute: %v", err)
	}
	if err := s.RemoveWorkspace(ctx, "prod"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AzureCompute(ctx, "prod", "c"); !errors.Is(err, compute.ErrNotFound) {
		t.Errorf("the cache of a removed workspace is still there: %v", err)
	}
	if err := s.RemoveWorkspace(ctx, "prod"); !errors.Is(err, compute.ErrNotFound) {
		t.Errorf("removing twice: %v", err)
	}
}
