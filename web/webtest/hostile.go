package webtest

import (
	"encoding/json"
	"fmt"
	"strings"
)

// HostileScript is a training script that tries every way out of its
// sandbox a run has been seen to take, and prints what it reached as JSON.
// It is given the real paths (an attacker would guess them) so that a
// refusal is the sandbox's doing, not the script's ignorance.
const HostileScript = `import json, os, sys
data, other_run, server_pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
reached = {}
def attempt(name, fn):
    try:
        reached[name] = repr(fn())[:120]
    except Exception as e:
        pass
attempt("read secret.key", lambda: open(os.path.join(data, "secret.key"), "rb").read())
attempt("read trainyard.db", lambda: open(os.path.join(data, "trainyard.db"), "rb").read(16))
attempt("write trainyard.db", lambda: open(os.path.join(data, "trainyard.db"), "ab").write(b"x"))
# The folders on the way to its own are there (empty but for that way).
def others(d):
    return [e for e in os.listdir(d) if not os.getcwd().startswith(os.path.join(d, e) + "/")] or None
attempt("list the data folder", lambda: others(data))
attempt("list other runs", lambda: others(os.path.join(data, "runs")))
def plant():
    open(os.path.join(data, "planted"), "w").write("x")
    return os.listdir(data)
attempt("write in the data folder", plant)
attempt("read another run's files", lambda: open(os.path.join(other_run, "marker.txt")).read())
attempt("read the server's environment", lambda: open("/proc/%d/environ" % server_pid, "rb").read(64))
# Another process's environment is a leak when it holds anything the
# run's own does not (the sandbox's own helper may hold the same).
def other_environs():
    own = set(b"%s=%s" % (k, v) for k, v in os.environb.items())
    found = []
    for p in os.listdir("/proc"):
        if p.isdigit() and int(p) != os.getpid():
            try:
                extra = set(open("/proc/%s/environ" % p, "rb").read().split(b"\0")) - own - {b""}
                if extra:
                    found.append("%s: %s" % (p, sorted(extra)[:3]))
            except Exception:
                pass
    return found or None
attempt("read other processes' environments", other_environs)
attempt("see processes outside the run", lambda: [p for p in os.listdir("/proc") if p.isdigit() and int(p) > 64] or None)
attempt("write the system", lambda: open("/etc/trainyard-was-here", "w").write("x"))
names = sorted(k for k in os.environ if k.startswith(("TRAINYARD_", "MLFLOW_")))
print("REPORT " + json.dumps({"reached": {k: v for k, v in reached.items() if v not in ("None", "[]")}, "names": names,
      "uid": os.getuid(), "cwd": os.getcwd(), "home": os.environ.get("HOME")}), flush=True)
`

// HostileReport is what HostileScript printed: the escapes that worked
// (what it saw through each), the TRAINYARD_*/MLFLOW_* names in its
// environment, its uid, working folder and HOME.
type HostileReport struct {
	Reached map[string]string `json:"reached"`
	Names   []string          `json:"names"`
	UID     int               `json:"uid"`
	Cwd     string            `json:"cwd"`
	Home    string            `json:"home"`
}

// ParseHostileReport finds the report in a run's log.
func ParseHostileReport(log string) (HostileReport, error) {
	var r HostileReport
	_, line, ok := strings.Cut(log, "REPORT ")
	if !ok {
		return r, fmt.Errorf("no report in the log:\n%s", log)
	}
	line, _, _ = strings.Cut(line, "\n")
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		return r, fmt.Errorf("report %q: %w", line, err)
	}
	return r, nil
}

// RunVariables are the TRAINYARD_*/MLFLOW_* names every run is given
// (docs/SECURITY.md): the only ones a run may see of that kind unless its
// user set others.
var RunVariables = map[string]bool{"TRAINYARD_RUN_ID": true, "MLFLOW_TRACKING_URI": true, "MLFLOW_RUN_ID": true,
	"MLFLOW_TRACKING_TOKEN": true, "MLFLOW_EXPERIMENT_ID": true}
