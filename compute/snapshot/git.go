package snapshot

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"
)

// gitTimeout bounds each git command GitInfo runs.
const gitTimeout = 10 * time.Second

// GitInfo returns the repository, branch, commit and dirty flag of the git
// checkout dir is in, or nil when it is not in one or git is not installed.
// It runs git as an argv (never through a shell) with hooks such as
// core.fsmonitor turned off, and drops any credentials from the remote URL.
func GitInfo(ctx context.Context, dir string) *Git {
	gitPath, err := exec.LookPath("git")
	if err != nil {
		return nil
	}
	run := func(args ...string) (string, bool) {
		ctx, cancel := context.WithTimeout(ctx, gitTimeout)
		defer cancel()
		argv := append([]string{"-C", dir, "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null"}, args...)
		cmd := exec.CommandContext(ctx, gitPath, argv...)
		cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_OPTIONAL_LOCKS=0", "LC_ALL=C")
		var out bytes.Buffer
		cmd.Stdout = &out
		if cmd.Run() != nil {
			return "", false
		}
		return strings.TrimSpace(out.String()), true
	}
	if inside, ok := run("rev-parse", "--is-inside-work-tree"); !ok || inside != "true" {
		return nil
	}
	g := &Git{}
	if u, ok := run("remote", "get-url", "origin"); ok {
		g.Repository = redactURL(u)
	}
	if b, ok := run("symbolic-ref", "--short", "-q", "HEAD"); ok {
		g.Branch = b
	}
	if c, ok := run("rev-parse", "--verify", "-q", "HEAD"); ok {
		g.Commit = c
	}
	if st, ok := run("status", "--porcelain"); ok {
		g.Dirty = st != ""
	}
	return g
}

// redactURL removes a password or token from a remote URL
// (https://user:token@host/repo → https://host/repo); scp-like SSH remotes
// (git@host:repo) carry none and are kept.
func redactURL(raw string) string {
	if !strings.Contains(raw, "://") {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	if u.User != nil {
		if _, hasPassword := u.User.Password(); hasPassword || u.Scheme == "http" || u.Scheme == "https" {
			u.User = nil
		}
	}
	return u.String()
}
