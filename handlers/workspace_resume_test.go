package handlers_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute/azure/armreplay"
	"github.com/trainyard/trainyard/web/webtest"
)

// TestOperationSurvivesRestart stands on ARM's asynchronous operation
// contract as armreplay replays it (Compute_CreateOrUpdate of the
// 2025-12-01 examples, followed by Azure-AsyncOperation): a create begun
// by one server, stopped while ARM still says InProgress, is followed to
// Succeeded by a new server on the same database, from the resume token
// the first one recorded, and the record goes once it ended.
func TestOperationSurvivesRestart(t *testing.T) {
	replay := armreplay.New(t)
	opts := webtest.Options{DataDir: t.TempDir(), Azure: replay.Config(), AzureOptions: replay.ServiceOptions(),
		AzureLoop: true, NoController: true, NoDispatcher: true}
	env := webtest.New(t, opts)
	registerReplay(t, env)
	ctx := context.Background()

	type state struct {
		Properties struct {
			ProvisioningState string `json:"provisioningState"`
		} `json:"properties"`
	}
	replay.HoldOperations()
	body := map[string]any{"location": "eastus", "properties": map[string]any{"computeType": "AmlCompute",
		"properties": map[string]any{"vmSize": "STANDARD_NC6", "scaleSettings": map[string]any{"maxNodeCount": 1}}}}
	var got state
	apiJSON(t, env, "PUT", "/api/v1/workspaces/replay/computes/resumed", body, http.StatusCreated, &got)
	if got.Properties.ProvisioningState != "Creating" {
		t.Fatalf("after the PUT: %q, want Creating", got.Properties.ProvisioningState)
	}
	if ops, err := env.Store.AzureOperations(ctx); err != nil || len(ops) != 1 || ops[0].Kind != "create" || ops[0].ResumeToken == "" {
		t.Fatalf("operations recorded: %+v, %v", ops, err)
	}

	// The server stops with the operation under way; ARM then finishes it.
	env.Kill()
	replay.ReleaseOperations()
	if c, _ := replay.Compute("resumed"); c["properties"].(map[string]any)["provisioningState"] != "Creating" {
		t.Fatal("the replay server ended the operation before anyone polled it")
	}

	env = webtest.New(t, opts)
	webtest.WaitFor(t, 30*time.Second, "the new server to see the create succeed", func() bool {
		apiJSON(t, env, "GET", "/api/v1/workspaces/replay/computes/resumed", nil, http.StatusOK, &got)
		return got.Properties.ProvisioningState == "Succeeded"
	})
	webtest.WaitFor(t, 30*time.Second, "the ended operation to be forgotten", func() bool {
		ops, err := env.Store.AzureOperations(ctx)
		return err == nil && len(ops) == 0
	})
}
