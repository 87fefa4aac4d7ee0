package handlers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute/azure/armreplay"
	"github.com/trainyard/trainyard/web/webtest"
)

// TestBackgroundRefreshIsConditional stands on HTTP conditional requests
// (RFC 9110 If-None-Match → 304) as armreplay gives them for the compute
// list: the first read keeps the list's ETag; a background refresh sends
// it back, and on 304 the cache stays, its as-of time moving on; once ARM's
// list changes, the refresh reads it in full again.
func TestBackgroundRefreshIsConditional(t *testing.T) {
	replay := armreplay.New(t)
	o := replay.ServiceOptions()
	o.StaleAfter = time.Nanosecond // every look at the list refreshes it in the background
	env := webtest.New(t, webtest.Options{Azure: replay.Config(), AzureOptions: o, NoController: true, NoDispatcher: true})
	registerReplay(t, env)
	ctx := context.Background()

	type list struct {
		Value []struct {
			Name string `json:"name"`
		} `json:"value"`
		AsOf time.Time `json:"asOf"`
	}
	var first list
	apiJSON(t, env, "GET", "/api/v1/workspaces/replay/computes", nil, http.StatusOK, &first) // never read: read in full now
	etag, err := env.Store.AzureListETag(ctx, "replay")
	if err != nil || etag == "" {
		t.Fatalf("the list's ETag was not kept: %q, %v", etag, err)
	}
	listStatuses := func() map[int]int {
		n := map[int]int{}
		for _, r := range replay.Requests() {
			// First pages only: the list has a second one ($skip), which
			// carries no ETag.
			if r.Method == "GET" && strings.HasSuffix(r.Path, "/computes") && !strings.Contains(r.Query, "skip") {
				n[r.Status]++
			}
		}
		return n
	}

	// The next look starts a background read, which ARM answers 304.
	var later list
	webtest.WaitFor(t, 30*time.Second, "a conditional refresh answered 304", func() bool {
		apiJSON(t, env, "GET", "/api/v1/workspaces/replay/computes", nil, http.StatusOK, &later)
		return listStatuses()[http.StatusNotModified] > 0
	})
	webtest.WaitFor(t, 30*time.Second, "the as-of time to move on after the 304", func() bool {
		apiJSON(t, env, "GET", "/api/v1/workspaces/replay/computes", nil, http.StatusOK, &later)
		return later.AsOf.After(first.AsOf)
	})
	if len(later.Value) != len(first.Value) || len(first.Value) == 0 {
		t.Fatalf("the cache after a 304: %d computes, before %d", len(later.Value), len(first.Value))
	}
	if n := listStatuses()[http.StatusOK]; n != 1 {
		t.Fatalf("%d full reads of the list while it did not change, want 1", n)
	}

	// A change at ARM: the next background read is a full one, and shows it.
	replay.SetPolls(0)
	body := map[string]any{"location": "eastus", "properties": map[string]any{"computeType": "AmlCompute",
		"properties": map[string]any{"vmSize": "STANDARD_NC6", "scaleSettings": map[string]any{"maxNodeCount": 1}}}}
	apiJSON(t, env, "PUT", "/api/v1/workspaces/replay/computes/etag-new", body, http.StatusCreated, nil)
	webtest.WaitFor(t, 30*time.Second, "a full read after the change, with the new ETag kept", func() bool {
		apiJSON(t, env, "GET", "/api/v1/workspaces/replay/computes", nil, http.StatusOK, &later)
		got, err := env.Store.AzureListETag(ctx, "replay")
		return err == nil && got != "" && got != etag && listStatuses()[http.StatusOK] > 1
	})
}
