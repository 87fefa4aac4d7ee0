package local

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// TestSetupScripts: the creation script runs once at create and the startup
// script at create and every start, both as the instance's user in its
// home; a failing creation script fails the create with its last lines, a
// failing startup script only warns, and a script over its time is stopped.
func TestSetupScripts(t *testing.T) {
	tests := []struct {
		name, setup, startup string
		wantErr              string // in Provision's error; "" = none
		wantWarning          string // in StartupWarning
		wantFiles            map[string]string
	}{
		{name: "both run in the home", setup: `echo made >created.txt; echo "setup as $(id -u)"`, startup: `echo "$((1+1))" >>started.txt; echo started`,
			wantFiles: map[string]string{"created.txt": "made\n", "started.txt": "2\n"}},
		{name: "creation fails", setup: "echo line one\necho 'the last words' >&2\nexit 7", startup: "echo never >started.txt",
			wantErr: "The creation script exited with code 7. Its last lines:\nline one\nthe last words"},
		{name: "startup fails", startup: "echo cannot mount >&2; exit 3",
			wantWarning: "The startup script exited with code 3. Its last lines:\ncannot mount"},
		{name: "time limit", setup: "echo waiting; sleep 600",
			wantErr: "The creation script did not finish within 1.5s. Its last lines:\nwaiting"},
		{name: "a script's shell words stay words", setup: `printf '%s\n' "$(echo '$(rm -rf ~)')" >quoted.txt`,
			wantFiles: map[string]string{"quoted.txt": "$(rm -rf ~)\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.ScriptTimeout = 1500 * time.Millisecond
			b := New(cfg)
			tgt := &compute.Target{Name: "ci-scripts", Kind: compute.KindInstance, CreatedAt: time.Now(),
				Instance: &compute.InstanceSpec{VMSize: "Standard_DS3_v2", State: compute.InstanceCreating, SetupScript: tt.setup, StartupScript: tt.startup}}
			t.Cleanup(func() { b.EndSessions(context.Background(), tgt.Name) })
			err := b.Provision(context.Background(), tgt)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr) {
				t.Fatalf("Provision: %v\nwant error %q", err, tt.wantErr)
			}
			var sf *compute.ScriptFailure
			if tt.wantErr != "" && (!errors.As(err, &sf) || !errors.Is(err, compute.ErrInvalid)) {
				t.Errorf("Provision's error %T is no ScriptFailure matching ErrInvalid", err)
			}
			if tgt.Instance.StartupWarning != tt.wantWarning {
				t.Errorf("StartupWarning = %q, want %q", tgt.Instance.StartupWarning, tt.wantWarning)
			}
			home := filepath.Join(cfg.DataDir, "instances", tgt.Name)
			for name, want := range tt.wantFiles {
				if got, err := os.ReadFile(filepath.Join(home, name)); err != nil || string(got) != want {
					t.Errorf("%s in the home: %q, %v; want %q", name, got, err, want)
				}
			}
			if tt.wantFiles["created.txt"] != "" && !strings.HasPrefix(tgt.Instance.SetupLog, "setup as ") {
				t.Errorf("SetupLog = %q; want the creation script's output", tgt.Instance.SetupLog)
			}
		})
	}
}

// TestStartupScriptAtEveryStart: a start runs the startup script again.
func TestStartupScriptAtEveryStart(t *testing.T) {
	b := New(testConfig(t))
	tgt := &compute.Target{Name: "ci-restart", Kind: compute.KindInstance, CreatedAt: time.Now(),
		Instance: &compute.InstanceSpec{VMSize: "Standard_DS3_v2", State: compute.InstanceCreating, StartupScript: "echo run >>runs.txt"}}
	ctx := context.Background()
	if err := b.Provision(ctx, tgt); err != nil {
		t.Fatal(err)
	}
	for _, a := range []compute.PowerAction{compute.ActionStop, compute.ActionStart, compute.ActionRestart} {
		if err := b.Power(ctx, tgt, a); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := os.ReadFile(filepath.Join(tgt.Instance.WorkDir, "runs.txt"))
	if string(got) != "run\nrun\nrun\n" {
		t.Errorf("runs.txt = %q; want one line for the create, the start and the restart", got)
	}
}
