package local

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// SandboxConfig says how jobs on this machine are contained. A job is a
// tenant, not a guest with the house keys: it sees the system read-only,
// its own working folder read-write, an empty /tmp, and nothing of the
// server (its data folder, its database and secrets key, other runs'
// folders, other instances' workspaces, its home, its processes and their
// environments). See docs/SECURITY.md, "What a run can reach".
type SandboxConfig struct {
	// Off runs jobs as the server's own user, seeing everything it sees.
	// Only `trainyard serve --unsafe-no-sandbox` sets it.
	Off bool
	// Hide are folders no job may see (the server's data folder and home):
	// each is mounted empty in the job's view, and the job's own working
	// folder is mounted again inside it.
	Hide []string
	// Bwrap is bubblewrap's path; "" finds "bwrap" on PATH.
	Bwrap string
	// Setpriv is util-linux's setpriv, used to drop to a job's own uid when
	// the server runs as root; "" finds it on PATH.
	Setpriv string
	// FirstUID is the first uid of the range jobs get when the server runs as
	// root (default DefaultFirstUID); the range is 1<<24 uids wide.
	FirstUID int
}

// DefaultFirstUID starts the range of jobs' uids far above the uids and
// subordinate-uid ranges a distribution hands out (useradd stops at 60000,
// subuid ranges start at 100000 in blocks of 65536).
const DefaultFirstUID = 1 << 24

// jobPath is PATH inside the sandbox: the system's, never the server's
// (which may name folders in the server's home the job cannot read).
const jobPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// sandbox is a SandboxConfig with its programs found.
type sandbox struct {
	cfg SandboxConfig
	// root: the server runs as root, so each job gets a uid of its own;
	// otherwise bubblewrap's user namespace gives the same view as the
	// server's own uid.
	root bool
	// err is why jobs cannot be contained here (bubblewrap missing); Submit
	// refuses with it rather than run a job uncontained.
	err error
}

func newSandbox(cfg SandboxConfig) sandbox {
	s := sandbox{cfg: cfg, root: os.Geteuid() == 0}
	if cfg.Off {
		return s
	}
	if s.cfg.FirstUID <= 0 {
		s.cfg.FirstUID = DefaultFirstUID
	}
	var errs []error
	find := func(p *string, name, pkg string) {
		if *p == "" {
			*p = name
		}
		path, err := exec.LookPath(*p)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s is not installed (Debian package %s): %w", name, pkg, err))
			return
		}
		*p = path
	}
	find(&s.cfg.Bwrap, "bwrap", "bubblewrap")
	if s.root {
		find(&s.cfg.Setpriv, "setpriv", "util-linux")
	}
	s.cfg.Hide = outermost(cfg.Hide)
	if len(errs) > 0 {
		s.err = fmt.Errorf("runs on this machine cannot be sandboxed: %w; install it, or start the server with --unsafe-no-sandbox to run them as the server's own user", errors.Join(errs...))
	}
	return s
}

// CheckSandbox reports why jobs cannot be contained on this machine, if they
// cannot; the server refuses to start rather than run jobs uncontained.
func (b *Backend) CheckSandbox() error { return b.sandbox.err }

// uid is the uid a job runs as when the server is root: one per run, and
// one per instance for its whole life (its files persist across stop and
// start). key is "run/<id>" or "instance/<name>/<created>".
func (s sandbox) uid(key string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return s.cfg.FirstUID + int(h.Sum32()%(1<<24))
}

// jobLang is the locale a job gets when it sets none of its own.
const jobLang = "C.UTF-8"

// env is a job's whole environment inside the sandbox: PATH and HOME chosen
// here, then the job's own variables (the per-run ones and the user's),
// nothing from the server. LANG is the job's own or jobLang; when it is
// jobLang, a contained job gets it from argv (see there), not from here.
func (s sandbox) env(workDir string, extra map[string]string) map[string]string {
	env := map[string]string{"PATH": jobPath, "HOME": workDir}
	if s.cfg.Off {
		env["LANG"] = jobLang
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// argv wraps a job's argv so it runs contained, under bubblewrap with PID,
// IPC, UTS and cgroup namespaces of its own (the network stays shared: runs
// reach the tracking API and package mirrors), the system read-only, /dev
// and /proc of its own, an empty /tmp, the hidden folders empty, and workDir
// read-write as its working folder. --die-with-parent ends the sandbox with
// the wrapper that waits for it; no --new-session, so the job stays in the
// wrapper's session and process group, where Status and Cancel find it.
//
// When the server is root, bubblewrap runs as root (so it can mount workDir,
// whose parents only root may enter) with no user namespace, and setpriv,
// inside, drops to the job's uid with no capabilities, no bounding set and
// no_new_privs before it runs the job. Otherwise a user namespace gives the
// server's own uid the same view, unprivileged.
//
// env is the environment the programs of the chain start with (from
// sandbox.env). When it sets no LANG, the job's LANG=jobLang is one of env's
// arguments instead: bubblewrap, setpriv and env then start in the C locale,
// which spares each of them loading a dozen locale files and setpriv its
// message catalogues, about 2.5 ms of CPU per launch (docs/BENCHMARKS.md).
//
// files are laid read-only over files of the system's view (an instance's
// /etc/passwd naming its user); bubblewrap reads their sources from the
// host's view, so they may live in the hidden data folder.
func (s sandbox) argv(uid int, workDir string, env map[string]string, argv []string, files ...fileBind) []string {
	a := []string{s.cfg.Bwrap, "--die-with-parent"}
	if s.root {
		a = append(a, "--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try",
			"--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID")
	} else {
		a = append(a, "--unshare-all", "--share-net")
	}
	a = append(a, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp")
	for _, f := range files {
		a = append(a, "--ro-bind", f.src, f.dst)
	}
	var hidden []string
	for _, h := range s.cfg.Hide {
		// A folder that is not there has nothing to hide, and bubblewrap
		// could not make its mount point in the read-only root.
		if fi, err := os.Stat(h); err == nil && fi.IsDir() {
			a = append(a, "--tmpfs", h)
			hidden = append(hidden, h)
		}
	}
	// The folders above workDir that the hiding emptied are made again,
	// enterable by the job's uid (bubblewrap makes mount points 0700).
	var above []string
	for p := filepath.Dir(workDir); p != "/" && p != "."; p = filepath.Dir(p) {
		above = append(above, p)
	}
	for i := len(above) - 1; i >= 0; i-- {
		a = append(a, "--perms", "0755", "--dir", above[i])
	}
	a = append(a, "--bind", workDir, workDir)
	// The empty folders stay empty: in a user namespace their owner is the
	// job's own uid, which could otherwise write in them (the bind of
	// workDir inside is a mount of its own, and stays writable). When
	// bubblewrap runs as root they belong to root, mode 0755, and the job's
	// uid cannot write in them already; a remount there would only cost a
	// read of the whole mount table, a tenth of bubblewrap's time
	// (docs/BENCHMARKS.md).
	if !s.root {
		for _, h := range hidden {
			a = append(a, "--remount-ro", h)
		}
	}
	a = append(a, "--chdir", workDir, "--")
	if s.root {
		u := strconv.Itoa(uid)
		a = append(a, s.cfg.Setpriv, "--reuid="+u, "--regid="+u, "--clear-groups",
			"--bounding-set=-all", "--inh-caps=-all", "--no-new-privs", "--")
	}
	// The wrapper had bubblewrap ignore these; the job handles them as
	// any program does (coreutils' env execs it, found on the job's PATH,
	// so a shell builtin is never argv[0]).
	a = append(a, "/usr/bin/env", "--default-signal=HUP,INT,TERM", "--")
	if _, set := env["LANG"]; !set {
		a = append(a, "LANG="+jobLang)
	}
	return append(a, argv...)
}

// fileBind is a file shown read-only at dst inside the sandbox.
type fileBind struct{ src, dst string }

// own gives dir and everything in it to uid, so a job running as that uid
// can write its outputs; links are changed themselves, never followed.
func own(dir string, uid int) error {
	return filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, uid)
	})
}

// outermost returns the absolute forms of dirs without those inside
// another of them (hiding the outer one hides them already, and a mount
// inside it would be made on a folder the outer mount removed), sorted.
func outermost(dirs []string) []string {
	var abs []string
	for _, d := range dirs {
		if a, err := filepath.Abs(d); err == nil && a != "/" {
			abs = append(abs, a)
		}
	}
	slices.Sort(abs)
	var out []string
	for _, a := range abs {
		if n := len(out); n > 0 && (a == out[n-1] || strings.HasPrefix(a, out[n-1]+"/")) {
			continue
		}
		out = append(out, a)
	}
	return out
}
