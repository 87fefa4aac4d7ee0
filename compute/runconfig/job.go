package runconfig

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// CommandJob is an Azure ML v2 command job YAML (type: command), read as far
// as `trainyard validate` needs it.
type CommandJob struct {
	Schema               string               `json:"$schema,omitempty"`
	Type                 string               `json:"type"`
	Name                 string               `json:"name,omitempty"`
	DisplayName          string               `json:"displayName,omitempty"`
	ExperimentName       string               `json:"experimentName,omitempty"`
	Description          string               `json:"description,omitempty"`
	Command              string               `json:"command"`
	Code                 string               `json:"code,omitempty"`
	Environment          string               `json:"environment,omitempty"` // a reference (azureml:name:version), or "(inline)"
	EnvironmentInline    map[string]any       `json:"environmentInline,omitempty"`
	Compute              string               `json:"compute,omitempty"` // without the azureml: prefix
	Inputs               map[string]JobInput  `json:"inputs,omitempty"`
	Outputs              map[string]JobOutput `json:"outputs,omitempty"`
	EnvironmentVariables map[string]string    `json:"environmentVariables,omitempty"`
	InstanceCount        *int                 `json:"instanceCount,omitempty"`
	Distribution         *Distribution        `json:"distribution,omitempty"`
	Timeout              *int64               `json:"timeout,omitempty"` // limits.timeout, seconds
	Tags                 map[string]string    `json:"tags,omitempty"`

	// Notes are the az CLI preview forms the file uses, each with what
	// Trainyard does with it (shown as warnings; the file is valid).
	Notes []Note `json:"-"`

	// File is the name errors give for the file.
	File  string `json:"-"`
	lines map[string]int
}

// JobInput is one input: a literal value, or a typed data input with a path.
type JobInput struct {
	Literal bool   `json:"literal,omitempty"`
	Value   string `json:"value,omitempty"`
	Type    string `json:"type,omitempty"`
	Path    string `json:"path,omitempty"`
	Mode    string `json:"mode,omitempty"`
}

// JobOutput is one output.
type JobOutput struct {
	Type string `json:"type,omitempty"`
	Path string `json:"path,omitempty"`
	Mode string `json:"mode,omitempty"`
}

// Distribution is a command job's distribution section.
type Distribution struct {
	Type                    string `json:"type"`
	ProcessCountPerInstance *int   `json:"processCountPerInstance,omitempty"`
	WorkerCount             *int   `json:"workerCount,omitempty"`
	ParameterServerCount    *int   `json:"parameterServerCount,omitempty"`
}

// InputTypes are the v2 input types.
var InputTypes = []string{"uri_file", "uri_folder", "mltable", "mlflow_model", "custom_model", "triton_model", "integer", "number", "string", "boolean"}

// DistributionTypes are the v2 distribution types.
var DistributionTypes = []string{"mpi", "pytorch", "tensorflow", "ray"}

// ParseJob reads a v2 command job from YAML. file names the file in errors.
func ParseJob(file string, data []byte) (*CommandJob, error) {
	root, err := parseTree(file, data)
	if err != nil {
		return nil, err
	}
	return decodeJob(file, root)
}

func decodeJob(file string, root *node) (*CommandJob, error) {
	d := newDecoder(file)
	if root.kind != mapNode {
		return nil, d.errf(root, "", "a job is a mapping of keys (type, command, environment, …), not %s", root.kind)
	}
	d.lines[""] = root.line
	j := &CommandJob{File: file}
	var errs []error
	add := func(e error) { errs = append(errs, e) }
	var e error
	j.Schema, e = d.str(root.get("$schema"), "$schema")
	add(e)
	j.Type, e = d.str(root.get("type"), "type")
	add(e)
	j.Type = strings.ToLower(strings.TrimSpace(j.Type))
	j.Name, e = d.str(root.get("name"), "name")
	add(e)
	j.DisplayName, e = d.str(root.get("display_name"), "display_name")
	add(e)
	j.ExperimentName, e = d.str(root.get("experiment_name"), "experiment_name")
	add(e)
	j.Description, e = d.str(root.get("description"), "description")
	add(e)
	j.Command, e = d.str(root.get("command"), "command")
	add(e)
	j.EnvironmentVariables, e = d.strMap(root.get("environment_variables"), "environment_variables")
	add(e)
	j.Tags, e = d.strMap(root.get("tags"), "tags")
	add(e)
	if err := firstErr(errs...); err != nil {
		return nil, err
	}
	// code: a path, or (preview files) {local_path: …}
	if c := root.get("code"); c != nil && c.kind == mapNode {
		d.see(c, "code")
		j.Code, e = d.str(c.get("local_path"), "code.local_path")
		if e == nil {
			d.note(c.get("local_path"), "code.local_path", previewCodeNote, j.Code)
		}
	} else {
		j.Code, e = d.str(c, "code")
	}
	if e != nil {
		return nil, e
	}
	if env := root.get("environment"); env != nil && env.kind == mapNode {
		d.see(env, "environment")
		v, err := d.freeform(env, "environment")
		if err != nil {
			return nil, err
		}
		j.EnvironmentInline, _ = v.(map[string]any)
		j.Environment = "(inline)"
	} else if j.Environment, e = d.str(env, "environment"); e != nil {
		return nil, e
	}
	if j.Compute, e = d.str(root.get("compute"), "compute"); e != nil {
		return nil, e
	}
	j.Compute = strings.TrimSpace(j.Compute)
	if c, ok := cutFold(j.Compute, "azureml:"); ok {
		j.Compute = c
		if strings.TrimSpace(c) == "" {
			return nil, d.errf(root.get("compute"), "compute", "azureml: needs a compute name after it (e.g. azureml:cpu-cluster)")
		}
	}
	if j.Inputs, e = decodeInputs(d, root.get("inputs")); e != nil {
		return nil, e
	}
	if j.Outputs, e = decodeOutputs(d, root.get("outputs")); e != nil {
		return nil, e
	}
	if r, err := d.object(root.get("resources"), "resources"); err != nil {
		return nil, err
	} else if r != nil {
		if j.InstanceCount, e = d.int32v(r.get("instance_count"), "resources.instance_count"); e != nil {
			return nil, e
		}
	}
	if l, err := d.object(root.get("limits"), "limits"); err != nil {
		return nil, err
	} else if l != nil {
		if j.Timeout, e = d.integer(l.get("timeout"), "limits.timeout"); e != nil {
			return nil, e
		}
	}
	if o, err := d.object(root.get("distribution"), "distribution"); err != nil {
		return nil, err
	} else if o != nil {
		ds := &Distribution{}
		var errs [4]error
		ds.Type, errs[0] = d.enum(o.get("type"), "distribution.type", DistributionTypes...)
		ds.ProcessCountPerInstance, errs[1] = d.int32v(o.get("process_count_per_instance"), "distribution.process_count_per_instance")
		ds.WorkerCount, errs[2] = d.int32v(o.get("worker_count"), "distribution.worker_count")
		ds.ParameterServerCount, errs[3] = d.int32v(o.get("parameter_server_count"), "distribution.parameter_server_count")
		if e := firstErr(errs[:]...); e != nil {
			return nil, e
		}
		j.Distribution = ds
	}
	j.lines, j.Notes = d.lines, d.notes
	return j, nil
}

// previewCodeNote is the note on code: {local_path: DIR} (%s is DIR).
const previewCodeNote = "{local_path: …} is the az CLI preview form of code; Trainyard uploads the folder %q from this machine and runs in it, as for code: %[1]s"

func decodeInputs(d *decoder, n *node) (map[string]JobInput, error) {
	m, err := d.object(n, "inputs")
	if err != nil || m == nil {
		return nil, err
	}
	out := map[string]JobInput{}
	for i, k := range m.keys {
		f := "inputs." + k.text
		v := m.vals[i]
		d.see(v, f)
		if v.kind != mapNode {
			s, err := d.str(v, f)
			if err != nil {
				return nil, err
			}
			out[k.text] = JobInput{Literal: true, Value: s}
			continue
		}
		var in JobInput
		var errs [4]error
		in.Type, errs[0] = d.enum(v.get("type"), f+".type", InputTypes...)
		in.Path, errs[1] = d.str(v.get("path"), f+".path")
		in.Mode, errs[2] = d.str(v.get("mode"), f+".mode")
		if in.Path == "" {
			// preview files: file: / folder: / data: (a registered data
			// asset, azureml:<name>:<version>, or {path: …} / {local_path: …})
			if p := v.get("file"); p != nil {
				if in.Path, errs[3] = d.str(p, f+".file"); errs[3] == nil {
					d.note(p, f+".file", "file: is the az CLI preview form of a data input; Trainyard reads it as path: %s and passes it to the script as written", in.Path)
				}
			} else if p := v.get("folder"); p != nil {
				if in.Path, errs[3] = d.str(p, f+".folder"); errs[3] == nil {
					d.note(p, f+".folder", "folder: is the az CLI preview form of a data input; Trainyard reads it as path: %s and passes it to the script as written", in.Path)
				}
			} else if p := v.get("data"); p != nil {
				in.Path, errs[3] = previewData(d, p, f+".data")
			}
		}
		if v.has("default") && in.Path == "" {
			var e error
			in.Value, e = d.str(v.get("default"), f+".default")
			errs[3] = firstErr(errs[3], e)
		}
		if e := firstErr(errs[:]...); e != nil {
			return nil, e
		}
		out[k.text] = in
	}
	return out, nil
}

// previewData reads an input's data: (the az CLI preview form): a data
// asset reference (azureml:<name>:<version>) or a mapping with path or
// local_path. Trainyard has no data assets to mount, so the reference (or
// path) is passed to the script as written, like a path: of today's form.
func previewData(d *decoder, n *node, field string) (string, error) {
	if n.kind == mapNode {
		d.see(n, field)
		for _, k := range []string{"path", "local_path"} {
			if p := n.get(k); p != nil {
				s, err := d.str(p, field+"."+k)
				if err == nil {
					d.note(p, field+"."+k, "data: {%s: …} is the az CLI preview form of a data input; Trainyard reads it as path: %s and passes it to the script as written", k, s)
				}
				return s, err
			}
		}
		return "", d.errf(n, field, "a data input's data: needs a data asset (azureml:<name>:<version>), path or local_path")
	}
	s, err := d.str(n, field)
	if err != nil || strings.TrimSpace(s) == "" {
		return s, err
	}
	if _, ok := cutFold(strings.TrimSpace(s), "azureml:"); ok {
		d.note(n, field, "data: is the az CLI preview form of a data input; Trainyard reads it as path: %s and passes the reference to the script as written: the data asset is not downloaded or mounted", s)
	} else {
		d.note(n, field, "data: is the az CLI preview form of a data input; Trainyard reads it as path: %s and passes it to the script as written", s)
	}
	return s, nil
}

func decodeOutputs(d *decoder, n *node) (map[string]JobOutput, error) {
	m, err := d.object(n, "outputs")
	if err != nil || m == nil {
		return nil, err
	}
	out := map[string]JobOutput{}
	for i, k := range m.keys {
		f := "outputs." + k.text
		o, err := d.object(m.vals[i], f)
		if err != nil {
			return nil, err
		}
		var jo JobOutput
		var errs [3]error
		jo.Type, errs[0] = d.str(o.get("type"), f+".type")
		jo.Path, errs[1] = d.str(o.get("path"), f+".path")
		jo.Mode, errs[2] = d.str(o.get("mode"), f+".mode")
		if e := firstErr(errs[:]...); e != nil {
			return nil, e
		}
		out[k.text] = jo
	}
	return out, nil
}

func cutFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// exprRe finds ${{ … }} expressions in a command.
var exprRe = regexp.MustCompile(`\$\{\{\s*([^}]*?)\s*\}\}`)

// Validate checks a command job and returns the first problem in file order
// as an *Error, or nil: type is command; command and environment are
// required; ${{inputs.X}} and ${{outputs.X}} name declared inputs and
// outputs; data inputs have a known type and a path; resources.instance_count,
// limits.timeout and the distribution's counts are at least 1; a local code
// path exists (relative to the file).
func (j *CommandJob) Validate() error {
	var probs []*Error
	add := func(field, format string, args ...any) {
		probs = append(probs, &Error{File: j.File, Line: j.line(field), Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if j.Type != "" && j.Type != "command" {
		add("type", "%q jobs are not supported here; this reads type: command", j.Type)
	}
	if strings.TrimSpace(j.Command) == "" {
		add("command", "required: the command to run (e.g. python train.py --lr ${{inputs.lr}})")
	}
	if strings.TrimSpace(j.Environment) == "" {
		add("environment", "required: an environment reference (azureml:<name>:<version> or azureml:<name>@latest) or an inline environment with an image")
	} else if j.EnvironmentInline != nil {
		if _, ok := j.EnvironmentInline["image"]; !ok {
			if _, ok := j.EnvironmentInline["build"]; !ok {
				add("environment", "an inline environment needs image (or build)")
			}
		}
	}
	for _, m := range exprRe.FindAllStringSubmatch(j.Command, -1) {
		expr := m[1]
		switch {
		case strings.HasPrefix(expr, "inputs."):
			name := strings.TrimPrefix(expr, "inputs.")
			if _, ok := j.Inputs[name]; !ok {
				add("command", "${{%s}} names no input: declare inputs.%s", expr, name)
			}
		case strings.HasPrefix(expr, "outputs."):
			name := strings.TrimPrefix(expr, "outputs.")
			if _, ok := j.Outputs[name]; !ok {
				add("command", "${{%s}} names no output: declare outputs.%s", expr, name)
			}
		case strings.HasPrefix(expr, "search_space."):
			add("command", "${{%s}} belongs in a sweep job's trial, not in a command job", expr)
		default:
			add("command", "unknown expression ${{%s}}; a command job knows ${{inputs.<name>}} and ${{outputs.<name>}}", expr)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(j.Inputs)) {
		in := j.Inputs[name]
		if in.Literal {
			continue
		}
		f := "inputs." + name
		switch in.Type {
		case "":
			if in.Path == "" {
				add(f, "a data input needs type and path (or give a literal value)")
			}
		case "integer", "number", "string", "boolean":
		default:
			if strings.TrimSpace(in.Path) == "" {
				add(f+".path", "required for an input of type %s", in.Type)
			}
		}
	}
	if j.InstanceCount != nil && *j.InstanceCount < 1 {
		add("resources.instance_count", "must be at least 1, not %d", *j.InstanceCount)
	}
	if j.Timeout != nil && *j.Timeout < 1 {
		add("limits.timeout", "must be at least 1 second, not %d", *j.Timeout)
	}
	if ds := j.Distribution; ds != nil {
		if ds.Type == "" {
			add("distribution.type", "required: one of %s", strings.Join(DistributionTypes, ", "))
		}
		for f, v := range map[string]*int{"process_count_per_instance": ds.ProcessCountPerInstance, "worker_count": ds.WorkerCount} {
			if v != nil && *v < 1 {
				add("distribution."+f, "must be at least 1, not %d", *v)
			}
		}
		if ds.ParameterServerCount != nil && *ds.ParameterServerCount < 0 {
			add("distribution.parameter_server_count", "must not be negative")
		}
	}
	for k := range j.EnvironmentVariables {
		if strings.TrimSpace(k) == "" || strings.ContainsAny(k, "=\x00") {
			add("environment_variables."+k, "not a valid environment variable name")
		}
	}
	if c := strings.TrimSpace(j.Code); c != "" && !strings.Contains(c, "://") && !strings.HasPrefix(strings.ToLower(c), "azureml:") && j.File != "" {
		p := c
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(j.File), filepath.FromSlash(c))
		}
		if _, err := os.Stat(p); err != nil {
			add("code", "%q does not exist (a local code path is relative to the job file)", c)
		}
	}
	if len(probs) == 0 {
		return nil
	}
	slices.SortStableFunc(probs, func(a, b *Error) int { return a.Line - b.Line })
	return probs[0]
}

// line returns the line of field or its closest recorded parent.
func (j *CommandJob) line(field string) int { return fieldLine(j.lines, field) }

// fieldLine looks up a dotted field path (a.b.c) in a decoder's line table:
// the field's own line, else its closest recorded parent's (a.b, then a),
// else the document's, else 1. Command and sweep jobs share it.
func fieldLine(lines map[string]int, field string) int {
	for f := field; ; {
		if l := lines[f]; l > 0 {
			return l
		}
		i := strings.LastIndexByte(f, '.')
		if i < 0 {
			break
		}
		f = f[:i]
	}
	if l := lines[""]; l > 0 {
		return l
	}
	return 1
}

// EffectiveCompute is the compute the job goes to: Compute, or local.
func (j *CommandJob) EffectiveCompute() string {
	if j.Compute == "" {
		return LocalTarget
	}
	return j.Compute
}

// Line is the line of a field in the file (or of its closest parent).
func (j *CommandJob) Line(field string) int { return j.line(field) }
