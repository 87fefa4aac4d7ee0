package compute

import (
	"strings"
	"testing"
	"time"
)

func TestRunStatusTransitions(t *testing.T) {
	path := []RunStatus{RunNotStarted, RunQueued, RunPreparing, RunStarting, RunRunning, RunFinalizing, RunCompleted}
	for i := 0; i+1 < len(path); i++ {
		if !path[i].CanMoveTo(path[i+1]) {
			t.Errorf("%s → %s refused", path[i], path[i+1])
		}
	}
	for _, ok := range [][2]RunStatus{
		{RunStarting, RunQueued}, {RunRunning, RunCancelRequested}, {RunCancelRequested, RunCanceled},
		{RunQueued, RunCanceled}, {RunPreparing, RunFailed}, {RunRunning, RunCompleted},
		{RunQueued, RunStarting}, {RunRunning, RunQueued}, // a job waiting in Slurm's queue; a requeued job
	} {
		if !ok[0].CanMoveTo(ok[1]) {
			t.Errorf("%s → %s refused", ok[0], ok[1])
		}
	}
	for _, bad := range [][2]RunStatus{
		{RunCompleted, RunRunning}, {RunFailed, RunCanceled}, {RunCanceled, RunQueued}, {RunFinalizing, RunQueued},
		{RunQueued, RunRunning}, {RunFinalizing, RunRunning}, {RunRunning, RunRunning}, {RunRunning, "Paused"},
	} {
		if bad[0].CanMoveTo(bad[1]) {
			t.Errorf("%s → %s allowed", bad[0], bad[1])
		}
	}
	terminal := 0
	for _, s := range RunStatuses() {
		if s.Terminal() {
			terminal++
		}
		if s.Active() == s.Terminal() {
			t.Errorf("%s: Active and Terminal agree", s)
		}
	}
	if terminal != 3 || RunStatus("Paused").Valid() {
		t.Error("Completed, Failed and Canceled are the terminal statuses")
	}
}

func TestNewRunID(t *testing.T) {
	now := time.Unix(1764250000, 0)
	id := NewRunID("exp", now)
	parts := strings.Split(id, "_")
	if len(parts) != 3 || parts[0] != "exp" || parts[1] != "1764250000" || len(parts[2]) != 8 || !ValidRunID(id) {
		t.Fatalf("NewRunID = %q", id)
	}
	if NewRunID("exp", now) == id {
		t.Fatal("two IDs in the same second collide")
	}
	for _, exp := range []string{strings.Repeat("a", 255), "a b/c", ".hidden", ""} {
		if id := NewRunID(exp, now); !ValidRunID(id) {
			t.Errorf("NewRunID(%q) = %q is not a valid run ID", exp, id)
		}
	}
	for _, bad := range []string{"", "../x", "a/b", ".x", strings.Repeat("a", 201)} {
		if ValidRunID(bad) {
			t.Errorf("ValidRunID(%q)", bad)
		}
	}
}

func TestValidateExperimentName(t *testing.T) {
	for _, ok := range []string{"exp", "My_exp-1.2", "0x", strings.Repeat("a", 255)} {
		if msg := ValidateExperimentName(ok); msg != "" {
			t.Errorf("%q: %s", ok, msg)
		}
	}
	for _, bad := range []string{"", "-x", ".x", "a b", "a/b", strings.Repeat("a", 256), "é"} {
		if ValidateExperimentName(bad) == "" {
			t.Errorf("%q accepted", bad)
		}
	}
}
