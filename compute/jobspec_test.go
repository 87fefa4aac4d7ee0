package compute_test

import (
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
)

func TestJobSpecCheck(t *testing.T) {
	dir := t.TempDir()
	good := compute.JobSpec{RunID: "exp_1_a.b-c", Argv: []string{"python3", "train.py", "--lr", "0.1; rm -rf /"},
		Env: map[string]string{"MLFLOW_RUN_ID": "x", "_private": "y"}, WorkDir: dir, NodeCount: 2, MaxDuration: time.Hour}
	if err := good.Check().Err(); err != nil {
		t.Fatalf("a good job is refused: %v", err)
	}
	tests := []struct {
		name  string
		edit  func(s *compute.JobSpec)
		field string
	}{
		{"empty run id", func(s *compute.JobSpec) { s.RunID = "" }, "runId"},
		{"run id with a slash", func(s *compute.JobSpec) { s.RunID = "a/b" }, "runId"},
		{"run id starting with a dot", func(s *compute.JobSpec) { s.RunID = ".hidden" }, "runId"},
		{"no argv", func(s *compute.JobSpec) { s.Argv = nil }, "command"},
		{"empty program", func(s *compute.JobSpec) { s.Argv = []string{""} }, "command"},
		{"NUL in an argument", func(s *compute.JobSpec) { s.Argv = []string{"echo", "a\x00"} }, "command"},
		{"env name with '='", func(s *compute.JobSpec) { s.Env = map[string]string{"A=B": "1"} }, "environmentVariables"},
		{"env name starting with a digit", func(s *compute.JobSpec) { s.Env = map[string]string{"1A": "1"} }, "environmentVariables"},
		{"NUL in an env value", func(s *compute.JobSpec) { s.Env = map[string]string{"A": "\x00"} }, "environmentVariables"},
		{"negative node count", func(s *compute.JobSpec) { s.NodeCount = -1 }, "nodeCount"},
		{"negative time limit", func(s *compute.JobSpec) { s.MaxDuration = -time.Second }, "maxRunDuration"},
		{"relative work dir", func(s *compute.JobSpec) { s.WorkDir = "rel" }, "workDir"},
		{"missing work dir", func(s *compute.JobSpec) { s.WorkDir = dir + "/missing" }, "workDir"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := good
			s.Env = map[string]string{}
			tc.edit(&s)
			v := s.Check()
			if v.Err() == nil || v.For(tc.field) == "" {
				t.Errorf("Check() = %v, want an error naming %s", v.Err(), tc.field)
			}
		})
	}
}

func TestFormatLimit(t *testing.T) {
	for d, want := range map[time.Duration]string{
		2 * time.Hour: "2h", 90 * time.Minute: "1h30m", 45 * time.Second: "45s", 300 * time.Millisecond: "300ms", 61 * time.Second: "1m1s",
	} {
		if got := compute.FormatLimit(d); got != want {
			t.Errorf("FormatLimit(%s) = %q, want %q", d, got, want)
		}
	}
}
