package compute

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// envNamePattern is a POSIX portable environment variable name: what every
// shell on every backend (a VM's sshd, a Slurm node's batch script, the
// local wrapper) accepts alike.
var envNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// SafeName reports whether s can be used as one path element: letters,
// digits, '-', '_' and '.', not starting with '.', at most 200 bytes. Run ids
// and target names become folder names (locally, on VMs, in a Slurm shared
// directory), so "..", "/" and NUL must not pass.
func SafeName(s string) bool {
	if s == "" || len(s) > 200 || s[0] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// Check applies the rules every backend holds a job to, so a job refused on
// one target is refused alike on every other: a run id that can name a
// folder, a command, no NUL byte in it or in the environment, POSIX names
// for environment variables, no negative node count or time limit, and a
// working folder (when given) that is an existing absolute path on this
// server. Backends add their own rules to the error it returns (which
// has no fields when the job passes) and return v.Err().
func (s JobSpec) Check() *ValidationError {
	v := &ValidationError{}
	if !SafeName(s.RunID) {
		v.Add("runId", "the run id %q may only hold letters, digits, '-', '_' and '.'", s.RunID)
	}
	if len(s.Argv) == 0 || s.Argv[0] == "" {
		v.Add("command", "the command is empty")
	}
	for _, a := range s.Argv {
		if strings.ContainsRune(a, 0) {
			v.Add("command", "a command argument contains a NUL byte")
			break
		}
	}
	for k, val := range s.Env {
		if !envNamePattern.MatchString(k) || strings.ContainsRune(val, 0) {
			v.Add("environmentVariables", "%q is not a valid environment variable name (letters, digits and '_', not starting with a digit)", k)
		}
	}
	if s.NodeCount < 0 {
		v.Add("nodeCount", "the node count must be at least 1")
	}
	if s.MaxDuration < 0 {
		v.Add("maxRunDuration", "the maximum run duration cannot be negative")
	}
	if s.WorkDir != "" {
		if !filepath.IsAbs(s.WorkDir) {
			v.Add("workDir", "the working folder %q is not an absolute path", s.WorkDir)
		} else if fi, err := os.Stat(s.WorkDir); err != nil || !fi.IsDir() {
			v.Add("workDir", "the working folder %q does not exist", s.WorkDir)
		}
	}
	return v
}

// FormatLimit prints a time limit the way a user wrote it (2h, 1h30m, 45s,
// 300ms), so "exceeded the maximum run duration of …" reads the same on
// every backend.
func FormatLimit(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
