package runconfig

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func mustParse(t *testing.T, text string) *RunConfig {
	t.Helper()
	rc, err := Parse("x.runconfig", []byte(text))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return rc
}

// TestRealFiles reads files shaped like the ones the SDK and az ml write.
func TestRealFiles(t *testing.T) {
	tests := []struct {
		file    string
		check   func(t *testing.T, rc *RunConfig)
		summary string
	}{
		{"testdata/sdk-generated.runconfig", func(t *testing.T, rc *RunConfig) {
			if want := []string{"--data-path", "/data", "--epochs", "10", "--lr", "0.010", "--flag", "true"}; !reflect.DeepEqual(rc.Arguments, want) {
				t.Errorf("arguments %q, want %q (flow style, numbers as written)", rc.Arguments, want)
			}
			if rc.Framework != "Python" || rc.Communicator != "None" || rc.Target != "cpu-cluster" {
				t.Errorf("framework %q communicator %q target %q", rc.Framework, rc.Communicator, rc.Target)
			}
			if rc.MaxRunDurationSeconds != nil || rc.NodeCount == nil || *rc.NodeCount != 1 {
				t.Errorf("maxRunDurationSeconds %v nodeCount %v", rc.MaxRunDurationSeconds, rc.NodeCount)
			}
			if rc.AmlCompute == nil || rc.AmlCompute.ClusterMaxNodeCount == nil || *rc.AmlCompute.ClusterMaxNodeCount != 1 {
				t.Errorf("lower-case amlcompute not read: %+v", rc.AmlCompute)
			}
			if rc.Hdi == nil || rc.Hdi.YarnDeployMode != "Cluster" {
				t.Errorf("hdi %+v", rc.Hdi)
			}
			if rc.Spark.Configuration["spark.yarn.maxAppAttempts"] != "1" {
				t.Errorf("spark %+v", rc.Spark)
			}
			if py := rc.Environment.Python; py.UserManagedDependencies || py.CondaDependenciesFile != "aml_config/conda_dependencies.yml" {
				t.Errorf("python %+v", py)
			}
			if rc.Line("environment.docker.baseImage") != 37 || rc.Line("amlCompute.vmSize") != 107 {
				t.Errorf("lines: baseImage %d, amlCompute.vmSize %d", rc.Line("environment.docker.baseImage"), rc.Line("amlCompute.vmSize"))
			}
		}, "runconfig, script train.py, 8 arguments, target cpu-cluster, framework Python, 1 node, conda dependencies from aml_config/conda_dependencies.yml, docker mcr.microsoft.com/azureml/base:0.2.4, 1 environment variable"},
		{"testdata/mnist-dataset.runconfig", func(t *testing.T, rc *RunConfig) {
			if rc.Arguments[1] != "DatasetConsumptionConfig:mnist_data" || rc.Arguments[3] != "0.5" {
				t.Errorf("arguments %q", rc.Arguments)
			}
			if rc.Environment.EnvironmentVariables["AZUREML_COMPUTE_USE_COMMON_RUNTIME"] != "true" {
				t.Errorf("env %v", rc.Environment.EnvironmentVariables)
			}
			deps, _ := json.Marshal(rc.Environment.Python.CondaDependencies)
			if !strings.Contains(string(deps), `"scikit-learn==0.24.1"`) {
				t.Errorf("conda dependencies %s", deps)
			}
			if rc.AmlCompute.VMPriority != "lowpriority" || rc.AmlCompute.VMSize != "STANDARD_D2_V2" {
				t.Errorf("amlcompute %+v", rc.AmlCompute)
			}
			if rc.Data["mnist_data"] == nil {
				t.Errorf("data %v", rc.Data)
			}
		}, "runconfig, script train.py, 4 arguments, target gpu-cluster, framework Python, 2 nodes, max 3600 s, conda dependencies, docker mcr.microsoft.com/azureml/openmpi3.1.2-ubuntu18.04:20210615.v1, 1 environment variable"},
		{"testdata/json.runconfig", func(t *testing.T, rc *RunConfig) {
			if !reflect.DeepEqual(rc.Arguments, []string{"--epochs", "5", "--lr", "0.01"}) {
				t.Errorf("arguments %q", rc.Arguments)
			}
			if rc.Framework != "PyTorch" || rc.Communicator != "Gloo" || rc.PyTorch.CommunicationBackend != "gloo" {
				t.Errorf("%+v %+v", rc, rc.PyTorch)
			}
			if rc.Environment.EnvironmentVariables["OMP_NUM_THREADS"] != "1" || rc.Environment.Python.InterpreterPath != "/usr/bin/python3" {
				t.Errorf("environment %+v", rc.Environment)
			}
			if rc.Line("environment.python.interpreterPath") != 10 {
				t.Errorf("JSON line %d", rc.Line("environment.python.interpreterPath"))
			}
		}, "runconfig, script src/train.py, 4 arguments, target local, framework PyTorch, communicator Gloo, 1 node, user-managed Python (/usr/bin/python3), 1 environment variable"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			res, err := CheckFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if res.Kind != KindRunConfig || res.Summary != tc.summary {
				t.Errorf("kind %q summary\n%s\nwant\n%s", res.Kind, res.Summary, tc.summary)
			}
			tc.check(t, res.RunConfig)
			// The parsed file marshals to what the runs API keeps, without secrets.
			data, err := json.Marshal(res.RunConfig)
			if err != nil || strings.Contains(string(data), "password") {
				t.Errorf("marshal: %v %s", err, data)
			}
		})
	}
}

func TestLenient(t *testing.T) {
	rc := mustParse(t, `SCRIPT: train.py
Target: gpu-cluster
FrameWork: PYTORCH
communicator: openmpi
nodecount: "3"
MaxRunDurationSeconds: 1.2e3
arguments:
- --lr
- 1e-3
- ~flag
- 'quoted: yes'
unknownKey: [1, 2, {a: b}]
environment:
  PYTHON:
    usermanageddependencies: yes
    InterpreterPath: python3
  Docker: {Enabled: On, BASEIMAGE: img}
history: {outputcollection: False}
`)
	if rc.Script != "train.py" || rc.Target != "gpu-cluster" || rc.Framework != "PyTorch" || rc.Communicator != "OpenMpi" {
		t.Errorf("%+v", rc)
	}
	if *rc.NodeCount != 3 || *rc.MaxRunDurationSeconds != 1200 {
		t.Errorf("nodeCount %d max %d", *rc.NodeCount, *rc.MaxRunDurationSeconds)
	}
	if !reflect.DeepEqual(rc.Arguments, []string{"--lr", "1e-3", "~flag", "quoted: yes"}) {
		t.Errorf("arguments %q", rc.Arguments)
	}
	if !rc.Environment.Python.UserManagedDependencies || !rc.Environment.Docker.Enabled || *rc.History.OutputCollection {
		t.Errorf("booleans: %+v %+v %+v", rc.Environment.Python, rc.Environment.Docker, rc.History)
	}
	if err := rc.Validate(); err != nil {
		t.Error(err)
	}
}

func TestAnchorsAndMerge(t *testing.T) {
	rc := mustParse(t, `base: &env
  python: {userManagedDependencies: true}
  environmentVariables: {A: "1"}
script: train.py
environment:
  <<: *env
  environmentVariables: {B: "2"}
arguments: &args [a, b]
`)
	if !rc.Environment.Python.UserManagedDependencies || rc.Environment.EnvironmentVariables["B"] != "2" || rc.Environment.EnvironmentVariables["A"] != "" {
		t.Errorf("merge: %+v", rc.Environment)
	}
}

// TestErrors checks that each problem names the file, line and field.
func TestErrors(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"syntax: unclosed flow list", "script: train.py\ntarget: [unclosed\n", "x.runconfig:2: "},
		{"syntax: bad indentation", "script: a.py\nenvironment:\n  python:\n    userManagedDependencies: true\n   interpreterPath: x\n", "x.runconfig:5: "},
		{"empty", "", "x.runconfig:1: the file is empty"},
		{"comment only", "# nothing\n", "x.runconfig:1: the file is empty"},
		{"not a mapping", "- a\n- b\n", "x.runconfig:1: a run configuration is a mapping"},
		{"two documents", "script: a.py\n---\nscript: b.py\n", "x.runconfig:3: the file holds more than one YAML document"},
		{"script missing", "target: local\nenvironment:\n  python: {userManagedDependencies: true}\n", "x.runconfig:1: script: required"},
		{"script absolute", "target: local\nscript: /etc/passwd\n", "x.runconfig:2: script: \"/etc/passwd\" must be relative"},
		{"script leaves", "script: ../../x.py\n", "x.runconfig:1: script: \"../../x.py\" leaves the source directory"},
		{"arguments not a list", "script: a.py\narguments: --lr 0.1\n", "x.runconfig:2: arguments: must be a list"},
		{"argument a mapping", "script: a.py\narguments:\n- --x\n- {a: b}\n", "x.runconfig:4: arguments[1]: must be a string, not a mapping"},
		{"framework", "script: a.py\nframework: scikit\n", `x.runconfig:2: framework: "scikit" is not one of Python, PySpark`},
		{"communicator Mpi needs mpi", "script: a.py\ncommunicator: mpi\n", "x.runconfig:2: communicator: communicator Mpi needs an mpi section"},
		{"PySpark needs spark", "script: a.py\nframework: pyspark\n", "x.runconfig:2: framework: framework PySpark needs a spark section"},
		{"nodeCount word", "script: a.py\nnodeCount: two\n", `x.runconfig:2: nodeCount: must be a whole number, not "two"`},
		{"nodeCount zero", "script: a.py\nnodeCount: 0\n", "x.runconfig:2: nodeCount: must be at least 1"},
		{"max duration negative", "script: a.py\n\nmaxRunDurationSeconds: -5\n", "x.runconfig:3: maxRunDurationSeconds: must be at least 1 second"},
		{"bool", "script: a.py\nenvironment:\n  docker:\n    enabled: sometimes\n", `x.runconfig:4: environment.docker.enabled: must be true or false, not "sometimes"`},
		{"conda needed", "script: a.py\nenvironment:\n  python:\n    userManagedDependencies: false\n", "x.runconfig:4: environment.python.userManagedDependencies: false (the default) needs condaDependencies"},
		{"conda needed, flag absent", "script: a.py\nenvironment:\n  python:\n    interpreterPath: python3\n", "x.runconfig:3: environment.python.userManagedDependencies: false (the default)"},
		{"registry password", "script: a.py\nenvironment:\n  python: {userManagedDependencies: true}\n  docker:\n    baseImageRegistry:\n      address: acr.io\n      username: bob\n", "x.runconfig:5: environment.docker.baseImageRegistry.password: required when a username is given"},
		{"amlcompute target", "script: a.py\ntarget: AmlCompute\n", "x.runconfig:2: target: target amlcompute (a cluster made for the run) needs an amlCompute section with a vmSize"},
		{"env var name", "script: a.py\nenvironment:\n  environmentVariables:\n    \"A=B\": x\n", "x.runconfig:4: environment.environmentVariables.A=B: an environment variable name cannot contain '='"},
		{"env var list", "script: a.py\nenvironment:\n  environmentVariables:\n    A: [1]\n", "x.runconfig:4: environment.environmentVariables.A: must be a string, not a list"},
		{"dataset token", "script: a.py\narguments: [--data, 'DatasetConsumptionConfig:nope']\n", `x.runconfig:2: arguments[1]: "DatasetConsumptionConfig:nope" names no entry of data`},
		{"command", "script: a.py\ncommand: [python, a.py]\n", "x.runconfig:2: command: command runs are not supported"},
		{"duplicate key, other case", "script: a.py\nScript: b.py\n", `x.runconfig:2: key "Script" is given twice (also as "script" on line 1`},
		{"first error in file order", "nodeCount: 0\nscript: /abs.py\n", "x.runconfig:1: nodeCount:"},
		{"unknown alias", "script: *nope\n", "x.runconfig:1: "},
		{"deep nesting", "script: " + strings.Repeat("[", 500) + "\n", "x.runconfig:1: lists and mappings are nested more than 200 deep"},
		{"NUL byte", "script: a.py\n\x00", "x.runconfig:2: the file contains a NUL byte"},
		{"environment not a mapping", "script: a.py\nenvironment: python3\n", "x.runconfig:2: environment: must be a mapping"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := Parse("x.runconfig", []byte(tc.text))
			if err == nil {
				err = rc.Validate()
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			var e *Error
			if !errors.As(err, &e) || e.Line < 1 {
				t.Errorf("not an *Error with a line: %#v", err)
			}
			if !strings.HasPrefix(err.Error(), tc.want) && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error\n%s\nwant it to start with\n%s", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "x.runconfig:") {
				t.Errorf("error does not start with file:line: %s", err)
			}
		})
	}
}

// TestValid checks files that are valid, including the acceptance check's.
func TestValid(t *testing.T) {
	for _, text := range []string{
		"script: train.py\ntarget: local\nframework: Python\nenvironment:\n  python:\n    userManagedDependencies: true\n",
		"script: train.py\n",                  // no environment: the target's Python
		"script: train.py\nenvironment: {}\n", // empty environment
		"script: train.py\nenvironment:\n  python:\n    condaDependenciesFile: env.yml\n",
		"script: train.py\ncommand: []\ncommand_: x\n",
		"script: train.py\ntarget: amlcompute\namlcompute: {vmSize: STANDARD_D2_V2}\n",
		"script: sub/dir/train.py\narguments: []\n",
		"{\"script\": \"train.py\", \"arguments\": null, \"environment\": null}",
	} {
		rc, err := Parse("ok.runconfig", []byte(text))
		if err == nil {
			err = rc.Validate()
		}
		if err != nil {
			t.Errorf("%q: %v", text, err)
		}
	}
}

func TestEffectiveTargetAndUserManaged(t *testing.T) {
	rc := mustParse(t, "script: a.py\n")
	if rc.EffectiveTarget() != "local" || !rc.UserManaged() {
		t.Errorf("%q %v", rc.EffectiveTarget(), rc.UserManaged())
	}
	rc = mustParse(t, "script: a.py\ntarget: gpu\nenvironment: {python: {condaDependencies: {name: x}}}\n")
	if rc.EffectiveTarget() != "gpu" || rc.UserManaged() {
		t.Errorf("%q %v", rc.EffectiveTarget(), rc.UserManaged())
	}
}

func TestCheckKinds(t *testing.T) {
	tests := []struct {
		file        string
		kind        Kind
		wantErr     string
		unsupported bool
	}{
		{"testdata/command-job.yml", KindCommandJob, "", false},
		{"testdata/hdconfig.yml", KindHDConfig, "", false},
		{"testdata/sweep-job.yml", KindSweepJob, "", false},
		{"testdata/nope.yml", "", "testdata/nope.yml: no such file or directory", false},
		{"testdata", "", "testdata: is a directory", false},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			res, err := CheckFile(tc.file)
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				if errors.Is(err, ErrNotSupported) != tc.unsupported {
					t.Errorf("ErrNotSupported: %v", errors.Is(err, ErrNotSupported))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Kind != tc.kind {
				t.Errorf("kind %q", res.Kind)
			}
		})
	}
	if _, err := Check("other.yml", []byte("foo: 1\n")); err == nil || !strings.Contains(err.Error(), "cannot tell what this file is") {
		t.Errorf("unknown kind: %v", err)
	}
	if _, err := Check("p.yml", []byte("type: pipeline\njobs: {}\n")); !errors.Is(err, ErrNotSupported) {
		t.Errorf("pipeline: %v", err)
	}
}

func TestCommandJob(t *testing.T) {
	res, err := CheckFile("testdata/command-job.yml")
	if err != nil {
		t.Fatal(err)
	}
	j := res.Job
	if j.Compute != "cpu-cluster" || j.Code != "src" || *j.InstanceCount != 2 || j.Distribution.Type != "pytorch" || *j.Timeout != 7200 {
		t.Errorf("%+v", j)
	}
	if in := j.Inputs["C"]; !in.Literal || in.Value != "0.8" {
		t.Errorf("literal input %+v", in)
	}
	if j.EnvironmentVariables["AZUREML_ARTIFACTS_DEFAULT_TIMEOUT"] != "600" {
		t.Errorf("env %v", j.EnvironmentVariables)
	}
	want := `command job, command "python train.py --data ${{inputs.iris}} --C ${{inputs.C}} --…", compute cpu-cluster, environment azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest, code src, 2 inputs, 2 instances, distribution pytorch, timeout 7200 s`
	if res.Summary != want {
		t.Errorf("summary\n%s\nwant\n%s", res.Summary, want)
	}

	dir := t.TempDir()
	tests := []struct{ name, text, want string }{
		{"no command", "type: command\nenvironment: azureml:e:1\n", "j.yml:1: command: required"},
		{"no environment", "type: command\ncommand: python a.py\n", "j.yml:1: environment: required"},
		{"undeclared input", "type: command\ncommand: python a.py --x ${{inputs.x}}\nenvironment: azureml:e:1\n", "j.yml:2: command: ${{inputs.x}} names no input"},
		{"undeclared output", "type: command\ncommand: python a.py ${{outputs.m}}\nenvironment: azureml:e:1\n", "j.yml:2: command: ${{outputs.m}} names no output"},
		{"search space", "type: command\ncommand: python a.py ${{search_space.lr}}\nenvironment: azureml:e:1\n", "belongs in a sweep job's trial"},
		{"instance count", "type: command\ncommand: x\nenvironment: azureml:e:1\nresources:\n  instance_count: 0\n", "j.yml:5: resources.instance_count: must be at least 1"},
		{"timeout", "type: command\ncommand: x\nenvironment: azureml:e:1\nlimits: {timeout: abc}\n", `j.yml:4: limits.timeout: must be a whole number, not "abc"`},
		{"distribution", "type: command\ncommand: x\nenvironment: azureml:e:1\ndistribution:\n  type: horovod\n", `j.yml:5: distribution.type: "horovod" is not one of mpi, pytorch, tensorflow, ray`},
		{"input path", "type: command\ncommand: x ${{inputs.d}}\nenvironment: azureml:e:1\ninputs:\n  d:\n    type: uri_folder\n", "j.yml:5: inputs.d.path: required for an input of type uri_folder"},
		{"code missing", "type: command\ncommand: x\nenvironment: azureml:e:1\ncode: ./nothere\n", `j.yml:4: code: "./nothere" does not exist`},
		{"compute prefix only", "type: command\ncommand: x\nenvironment: azureml:e:1\ncompute: 'azureml:'\n", "j.yml:4: compute: azureml: needs a compute name"},
		{"inline environment without image", "type: command\ncommand: x\nenvironment:\n  conda_file: env.yml\n", "j.yml:3: environment: an inline environment needs image"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, "j.yml")
			if err := os.WriteFile(p, []byte(tc.text), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Check("j.yml", []byte(tc.text))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
	// A preview-era file: code.local_path, inputs.x.file, no type (the schema says command).
	old := "$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json\ncode:\n  local_path: testdata/src\ncommand: python train.py --data {inputs.data}\ninputs:\n  data:\n    file: https://example.com/iris.csv\nenvironment: azureml:AzureML-Minimal:1\ncompute: local\n"
	if res, err := Check("old.yml", []byte(old)); err != nil || res.Job.Code != "testdata/src" || res.Job.Inputs["data"].Path == "" {
		t.Errorf("preview file: %v %+v", err, res)
	}
}

// TestPreviewForms: files written for the az CLI ml extension's preview
// are read, and each preview form gets a note at its line saying what
// Trainyard does with it; today's forms get none.
func TestPreviewForms(t *testing.T) {
	const head = "$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json\ncommand: python train.py --data ${{inputs.d}}\nenvironment: azureml:e:1\n"
	tests := []struct {
		name, file, text string
		wantPath         string // inputs.d's (or iris's) path as read
		wantNotes        []string
	}{
		{name: "fixture: code.local_path and a data asset input", file: "testdata/preview-job.yml", wantPath: "azureml:iris-csv:1", wantNotes: []string{
			`testdata/preview-job.yml:6: warning: code.local_path: {local_path: …} is the az CLI preview form of code; Trainyard uploads the folder "src"`,
			"testdata/preview-job.yml:10: warning: inputs.iris.data: data: is the az CLI preview form of a data input; Trainyard reads it as path: azureml:iris-csv:1 and passes the reference to the script as written: the data asset is not downloaded or mounted",
		}},
		{name: "data as a flow mapping", text: head + "inputs:\n  d: {data: 'azureml:mnist:2', mode: mount}\n", wantPath: "azureml:mnist:2",
			wantNotes: []string{"j.yml:5: warning: inputs.d.data: data: is the az CLI preview form"}},
		{name: "data with a local path", text: head + "inputs:\n  d:\n    data:\n      local_path: ./data\n", wantPath: "./data",
			wantNotes: []string{"j.yml:7: warning: inputs.d.data.local_path: data: {local_path: …} is the az CLI preview form of a data input; Trainyard reads it as path: ./data"}},
		{name: "file:", text: head + "inputs:\n  d:\n    file: https://example.com/iris.csv\n", wantPath: "https://example.com/iris.csv",
			wantNotes: []string{"j.yml:6: warning: inputs.d.file: file: is the az CLI preview form"}},
		{name: "folder:", text: head + "inputs:\n  d:\n    folder: azureml:imgs:1\n", wantPath: "azureml:imgs:1",
			wantNotes: []string{"j.yml:6: warning: inputs.d.folder: folder: is the az CLI preview form"}},
		{name: "today's form has no note", text: head + "inputs:\n  d:\n    type: uri_folder\n    path: azureml:imgs:1\n    mode: ro_mount\n", wantPath: "azureml:imgs:1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var res *Result
			var err error
			if tc.file != "" {
				res, err = CheckFile(tc.file)
			} else {
				res, err = Check("j.yml", []byte(tc.text))
			}
			if err != nil {
				t.Fatal(err)
			}
			in, ok := res.Job.Inputs["d"]
			if !ok {
				in = res.Job.Inputs["iris"]
			}
			if in.Path != tc.wantPath {
				t.Errorf("input path %q, want %q", in.Path, tc.wantPath)
			}
			if len(res.Notes) != len(tc.wantNotes) {
				t.Fatalf("notes %q, want %d", res.Notes, len(tc.wantNotes))
			}
			for i, n := range res.Notes {
				if !strings.HasPrefix(n.String(), tc.wantNotes[i]) {
					t.Errorf("note %d:\n%s\nwant it to start\n%s", i, n, tc.wantNotes[i])
				}
			}
		})
	}
	if _, err := Check("j.yml", []byte(head+"inputs:\n  d:\n    data: {mode: mount}\n")); err == nil || !strings.Contains(err.Error(), "j.yml:6: inputs.d.data: a data input's data: needs") {
		t.Errorf("data: without a reference: %v", err)
	}
}

func TestErrorString(t *testing.T) {
	for _, tc := range []struct {
		e    Error
		want string
	}{
		{Error{File: "a", Line: 3, Field: "target", Message: "m"}, "a:3: target: m"},
		{Error{File: "a", Message: "m"}, "a: m"},
		{Error{Line: 2, Message: "m"}, "line 2: m"},
		{Error{Message: "m"}, "m"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("%q, want %q", got, tc.want)
		}
	}
}
