package runconfig

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
)

// Kind is the kind of a configuration file.
type Kind string

// The kinds Check recognises.
const (
	KindUnknown    Kind = ""
	KindRunConfig  Kind = "runconfig"
	KindCommandJob Kind = "command job"
	KindSweepJob   Kind = "sweep job"
	KindHDConfig   Kind = "hdconfig"
	KindOtherJob   Kind = "v2 job"
)

// Result is what Check understood of a valid file.
type Result struct {
	File    string `json:"file"`
	Kind    Kind   `json:"kind"`
	Summary string `json:"summary"`
	// RunConfig or Job is set, by kind.
	RunConfig *RunConfig  `json:"-"`
	Job       *CommandJob `json:"-"`
	HDConfig  *HDConfig   `json:"-"`
	Sweep     *SweepJob   `json:"-"`
	// Warnings are shown but do not make the file invalid (e.g. Bayesian
	// sampling with fewer than 20 trials per parameter).
	Warnings []string `json:"warnings,omitempty"`
	// Notes are the az CLI preview forms the file uses and what Trainyard
	// does with each; like warnings they do not make the file invalid.
	Notes []Note `json:"notes,omitempty"`
}

// CheckFile reads path and checks it as Check does.
func CheckFile(path string) (*Result, error) {
	data, err := readLimited(path)
	if err != nil {
		if _, ok := err.(*Error); ok {
			return nil, err
		}
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, &Error{File: path, Message: pe.Err.Error(), Err: err}
		}
		return nil, &Error{File: path, Message: err.Error(), Err: err}
	}
	return Check(path, data)
}

// Check reads a configuration file of any kind Trainyard knows, tells which
// kind it is, parses and validates it, and returns a one-line summary, or
// the first problem as an *Error. Sweep jobs get the rules of
// POST /api/v1/sweeps (see SweepRules). Kinds recognised but not read
// (other v2 job types) give an *Error wrapping ErrNotSupported.
func Check(file string, data []byte) (*Result, error) {
	root, err := parseTree(file, data)
	if err != nil {
		return nil, err
	}
	kind, why := detect(file, root)
	switch kind {
	case KindRunConfig:
		rc, err := decodeRunConfig(file, root)
		if err != nil {
			return nil, err
		}
		if err := rc.Validate(); err != nil {
			return nil, err
		}
		return &Result{File: file, Kind: kind, Summary: rc.Summary(), RunConfig: rc}, nil
	case KindCommandJob:
		j, err := decodeJob(file, root)
		if err != nil {
			return nil, err
		}
		if err := j.Validate(); err != nil {
			return nil, err
		}
		return &Result{File: file, Kind: kind, Summary: j.Summary(), Job: j, Notes: j.Notes}, nil
	case KindSweepJob:
		j, err := decodeSweepJob(file, root)
		if err != nil {
			return nil, err
		}
		w, err := j.Validate()
		if err != nil {
			return nil, err
		}
		return &Result{File: file, Kind: kind, Summary: j.Summary(), Sweep: j, Warnings: w, Notes: j.Notes}, nil
	case KindHDConfig:
		h, err := decodeHDConfig(file, root)
		if err != nil {
			return nil, err
		}
		if err := h.Validate(); err != nil {
			return nil, err
		}
		return &Result{File: file, Kind: kind, Summary: h.Summary(), HDConfig: h}, nil
	case KindOtherJob:
		t := root.get("type")
		return nil, &Error{File: file, Line: why, Field: "type", Message: fmt.Sprintf("%q jobs are not supported; Trainyard reads type: command and type: sweep", t.text), Err: ErrNotSupported}
	}
	return nil, &Error{File: file, Line: root.line, Message: "cannot tell what this file is: expected a run configuration (script, target, environment, …), a v2 job (type: command or sweep) or an hdconfig (sampling, policy, primary_metric_name, …)"}
}

// detect tells the kind of a parsed file and the line that shows it.
func detect(file string, root *node) (Kind, int) {
	if root.kind != mapNode {
		if strings.EqualFold(filepath.Ext(file), ".runconfig") {
			return KindRunConfig, root.line
		}
		return KindUnknown, root.line
	}
	if t := root.get("type"); t != nil && t.kind == scalarNode {
		switch strings.ToLower(strings.TrimSpace(t.text)) {
		case "command":
			return KindCommandJob, t.line
		case "sweep":
			return KindSweepJob, t.line
		default:
			return KindOtherJob, t.line
		}
	}
	if s := root.get("$schema"); s != nil && s.kind == scalarNode {
		l := strings.ToLower(s.text)
		switch {
		case strings.Contains(l, "commandjob"):
			return KindCommandJob, s.line
		case strings.Contains(l, "sweepjob"):
			return KindSweepJob, s.line
		}
	}
	for _, k := range []string{"sampling", "primary_metric_name", "primary_metric_goal", "max_total_runs", "max_concurrent_runs", "policy"} {
		if root.has(k) {
			return KindHDConfig, keyLine(root, k)
		}
	}
	if strings.EqualFold(filepath.Ext(file), ".runconfig") {
		return KindRunConfig, root.line
	}
	for _, k := range []string{"script", "framework", "communicator", "target", "arguments", "nodeCount", "maxRunDurationSeconds", "history"} {
		if root.has(k) {
			return KindRunConfig, keyLine(root, k)
		}
	}
	if root.has("command") && (root.has("compute") || root.has("code") || root.has("environment") || root.has("inputs")) {
		return KindCommandJob, keyLine(root, "command")
	}
	if root.has("environment") {
		return KindRunConfig, keyLine(root, "environment")
	}
	return KindUnknown, root.line
}

func keyLine(m *node, key string) int {
	for _, k := range m.keys {
		if strings.EqualFold(k.text, key) {
			return k.line
		}
	}
	return m.line
}

// Summary describes the run configuration in one line, e.g.
// "runconfig, script train.py, 2 arguments, target local, framework Python,
// user-managed Python (the target's python3)".
func (rc *RunConfig) Summary() string {
	parts := []string{"runconfig", "script " + rc.Script}
	switch n := len(rc.Arguments); n {
	case 0:
	case 1:
		parts = append(parts, "1 argument")
	default:
		parts = append(parts, strconv.Itoa(n)+" arguments")
	}
	parts = append(parts, "target "+rc.EffectiveTarget())
	fw := rc.Framework
	if fw == "" {
		fw = "Python"
	}
	parts = append(parts, "framework "+fw)
	if rc.Communicator != "" && rc.Communicator != "None" {
		parts = append(parts, "communicator "+rc.Communicator)
	}
	if rc.NodeCount != nil {
		parts = append(parts, plural(*rc.NodeCount, "node"))
	}
	if rc.MaxRunDurationSeconds != nil {
		parts = append(parts, "max "+strconv.FormatInt(*rc.MaxRunDurationSeconds, 10)+" s")
	}
	parts = append(parts, rc.EnvironmentSummary())
	return strings.Join(parts, ", ")
}

// EnvironmentSummary describes the Python environment and Docker image.
func (rc *RunConfig) EnvironmentSummary() string {
	var s string
	switch py := rc.pythonSection(); {
	case py == nil || (py.UserManagedDependencies && py.InterpreterPath == ""):
		s = "user-managed Python (the target's python3)"
	case py.UserManagedDependencies:
		s = "user-managed Python (" + py.InterpreterPath + ")"
	case py.CondaDependenciesFile != "":
		s = "conda dependencies from " + py.CondaDependenciesFile
	default:
		s = "conda dependencies"
	}
	if env := rc.Environment; env != nil && env.Docker != nil && env.Docker.Enabled {
		img := env.Docker.BaseImage
		if img == "" {
			img = "the default image"
		}
		s += ", docker " + img
	}
	if env := rc.Environment; env != nil && len(env.EnvironmentVariables) > 0 {
		s += ", " + plural(len(env.EnvironmentVariables), "environment variable")
	}
	return s
}

func (rc *RunConfig) pythonSection() *Python {
	if rc.Environment == nil {
		return nil
	}
	return rc.Environment.Python
}

// Summary describes the job in one line.
func (j *CommandJob) Summary() string {
	cmd := strings.Join(strings.Fields(j.Command), " ")
	if r := []rune(cmd); len(r) > 60 {
		cmd = string(r[:60]) + "…"
	}
	parts := []string{"command job", "command " + strconv.Quote(cmd), "compute " + j.EffectiveCompute(), "environment " + j.Environment}
	if j.Code != "" {
		parts = append(parts, "code "+j.Code)
	}
	if n := len(j.Inputs); n > 0 {
		parts = append(parts, plural(n, "input"))
	}
	if j.InstanceCount != nil {
		parts = append(parts, plural(*j.InstanceCount, "instance"))
	}
	if j.Distribution != nil {
		parts = append(parts, "distribution "+j.Distribution.Type)
	}
	if j.Timeout != nil {
		parts = append(parts, "timeout "+strconv.FormatInt(*j.Timeout, 10)+" s")
	}
	return strings.Join(parts, ", ")
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}
