// Package runconfig reads the configuration files users bring from Azure ML:
// v1 run configurations (.azureml/*.runconfig, YAML or JSON) and v2 command
// job YAML. It reads them as leniently as real files need: keys and enum
// values match case-insensitively (amlcompute, framework: python), unknown
// keys are ignored, numbers and booleans in string lists are kept as
// written, and every error names the file, the line and the field.
package runconfig

import (
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"slices"
	"strings"
)

// RunConfig is a v1 run configuration (the runconfig schema of Azure ML
// SDK/CLI v1). JSON field names follow the schema, so the value marshals
// into what the runs API keeps as "runConfiguration".
type RunConfig struct {
	Script                   string                   `json:"script"`
	Arguments                []string                 `json:"arguments"`
	Command                  []string                 `json:"command,omitempty"`
	SourceDirectoryDataStore string                   `json:"sourceDirectoryDataStore,omitempty"`
	Framework                string                   `json:"framework,omitempty"`
	Communicator             string                   `json:"communicator,omitempty"`
	Target                   string                   `json:"target"`
	DataReferences           map[string]DataReference `json:"dataReferences,omitempty"`
	Data                     map[string]any           `json:"data,omitempty"`
	JobName                  string                   `json:"jobName,omitempty"`
	AutoPrepareEnvironment   *bool                    `json:"autoPrepareEnvironment,omitempty"`
	MaxRunDurationSeconds    *int64                   `json:"maxRunDurationSeconds,omitempty"`
	NodeCount                *int                     `json:"nodeCount,omitempty"`
	Environment              *Environment             `json:"environment,omitempty"`
	History                  *History                 `json:"history,omitempty"`
	Spark                    *Spark                   `json:"spark,omitempty"`
	AmlCompute               *AmlCompute              `json:"amlCompute,omitempty"`
	TensorFlow               *TensorFlow              `json:"tensorflow,omitempty"`
	Mpi                      *Mpi                     `json:"mpi,omitempty"`
	PyTorch                  *PyTorch                 `json:"pyTorch,omitempty"`
	Hdi                      *Hdi                     `json:"hdi,omitempty"`
	ContainerInstance        *ContainerInstance       `json:"containerInstance,omitempty"`
	Docker                   *DockerRuntime           `json:"docker,omitempty"`
	ExposedPorts             []int                    `json:"exposedPorts,omitempty"`
	PrepareEnvironment       *bool                    `json:"prepareEnvironment,omitempty"`

	// File is the name errors give for the file (as the user typed it).
	File string `json:"-"`

	lines map[string]int // field path → line
}

// Environment is the environment section: variables, Python and Docker.
type Environment struct {
	Name                    string            `json:"name,omitempty"`
	Version                 string            `json:"version,omitempty"`
	EnvironmentVariables    map[string]string `json:"environmentVariables,omitempty"`
	Python                  *Python           `json:"python,omitempty"`
	Docker                  *Docker           `json:"docker,omitempty"`
	Spark                   *EnvSpark         `json:"spark,omitempty"`
	Databricks              any               `json:"databricks,omitempty"`
	InferencingStackVersion string            `json:"inferencingStackVersion,omitempty"`
}

// Python is environment.python. InterpreterPath is used only when
// UserManagedDependencies is true; empty means the target's python3.
type Python struct {
	InterpreterPath         string `json:"interpreterPath,omitempty"`
	UserManagedDependencies bool   `json:"userManagedDependencies"`
	CondaDependencies       any    `json:"condaDependencies,omitempty"`
	CondaDependenciesFile   string `json:"condaDependenciesFile,omitempty"`
	BaseCondaEnvironment    string `json:"baseCondaEnvironment,omitempty"`
}

// Docker is environment.docker.
type Docker struct {
	Enabled           bool      `json:"enabled"`
	BaseImage         string    `json:"baseImage,omitempty"`
	BaseDockerfile    string    `json:"baseDockerfile,omitempty"`
	SharedVolumes     *bool     `json:"sharedVolumes,omitempty"`
	GpuSupport        bool      `json:"gpuSupport,omitempty"`
	ShmSize           string    `json:"shmSize,omitempty"`
	Arguments         []string  `json:"arguments,omitempty"`
	BaseImageRegistry *Registry `json:"baseImageRegistry,omitempty"`
}

// Registry is environment.docker.baseImageRegistry. The password is read
// so the rules can be checked, but it never marshals: it is not sent to the
// server nor printed.
type Registry struct {
	Address  string `json:"address,omitempty"`
	Username string `json:"username,omitempty"`
	Password string `json:"-"`
}

// EnvSpark is environment.spark.
type EnvSpark struct {
	Repositories     []string `json:"repositories,omitempty"`
	Packages         any      `json:"packages,omitempty"`
	PrecachePackages *bool    `json:"precachePackages,omitempty"`
}

// DataReference is one entry of dataReferences.
type DataReference struct {
	DataStoreName   string `json:"dataStoreName,omitempty"`
	Mode            string `json:"mode,omitempty"`
	PathOnDataStore string `json:"pathOnDataStore,omitempty"`
	PathOnCompute   string `json:"pathOnCompute,omitempty"`
	Overwrite       *bool  `json:"overwrite,omitempty"`
}

// History is the history section.
type History struct {
	OutputCollection   *bool    `json:"outputCollection,omitempty"`
	DirectoriesToWatch []string `json:"directoriesToWatch,omitempty"`
	SnapshotProject    *bool    `json:"snapshotProject,omitempty"`
}

// Spark is the top-level spark section.
type Spark struct {
	Configuration map[string]string `json:"configuration,omitempty"`
}

// AmlCompute is the amlCompute section (real files spell it amlcompute),
// used when target is the run-based "amlcompute".
type AmlCompute struct {
	Name                string `json:"name,omitempty"`
	VMSize              string `json:"vmSize,omitempty"`
	VMPriority          string `json:"vmPriority,omitempty"`
	RetainCluster       *bool  `json:"retainCluster,omitempty"`
	ClusterMaxNodeCount *int   `json:"clusterMaxNodeCount,omitempty"`
}

// TensorFlow is the tensorflow section.
type TensorFlow struct {
	WorkerCount          *int `json:"workerCount,omitempty"`
	ParameterServerCount *int `json:"parameterServerCount,omitempty"`
}

// Mpi is the mpi section.
type Mpi struct {
	ProcessCountPerNode *int `json:"processCountPerNode,omitempty"`
}

// PyTorch is the pyTorch section of newer SDKs.
type PyTorch struct {
	CommunicationBackend string `json:"communicationBackend,omitempty"`
	ProcessCount         *int   `json:"processCount,omitempty"`
}

// Hdi is the hdi section.
type Hdi struct {
	YarnDeployMode string `json:"yarnDeployMode,omitempty"`
}

// ContainerInstance is the containerInstance section.
type ContainerInstance struct {
	Region   string   `json:"region,omitempty"`
	CPUCores *float64 `json:"cpuCores,omitempty"`
	MemoryGB *float64 `json:"memoryGb,omitempty"`
}

// DockerRuntime is the top-level docker section of newer SDKs (how to run
// the container), not environment.docker (what image).
type DockerRuntime struct {
	UseDocker     *bool    `json:"useDocker,omitempty"`
	SharedVolumes *bool    `json:"sharedVolumes,omitempty"`
	ShmSize       string   `json:"shmSize,omitempty"`
	Arguments     []string `json:"arguments,omitempty"`
}

// Frameworks are the framework values, canonically spelled.
var Frameworks = []string{"Python", "PySpark", "Cntk", "TensorFlow", "PyTorch", "TensorFlowParameterServer", "PythonMpi", "PythonIntelMpi", "PySparkInteractive"}

// Communicators are the communicator values, canonically spelled. Nccl is
// not in the v1 schema but newer SDKs write it for PyTorch runs.
var Communicators = []string{"None", "ParameterServer", "OpenMpi", "IntelMpi", "Gloo", "Mpi", "Nccl"}

// Targets with a fixed meaning.
const (
	// LocalTarget is the default target: the machine the server runs on.
	LocalTarget = "local"
	// RunBasedAmlCompute is the target that asks for a cluster made for the run.
	RunBasedAmlCompute = "amlcompute"
	// ContainerInstanceTarget is the Azure Container Instance target.
	ContainerInstanceTarget = "containerinstance"
)

// ReadFile reads and parses a run configuration file. Errors name path as
// given.
func ReadFile(path string) (*RunConfig, error) {
	data, err := readLimited(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

func readLimited(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, &Error{File: name, Message: "is a directory, not a file"}
	}
	if st.Size() > MaxFileBytes {
		return nil, &Error{File: name, Line: 1, Message: fmt.Sprintf("the file is larger than %d bytes", MaxFileBytes)}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	return data, nil
}

// Parse reads a run configuration from YAML or JSON. file names the file in
// errors. It checks the shape (types, enum values); Validate checks the
// rules between fields.
func Parse(file string, data []byte) (*RunConfig, error) {
	root, err := parseTree(file, data)
	if err != nil {
		return nil, err
	}
	return decodeRunConfig(file, root)
}

func decodeRunConfig(file string, root *node) (*RunConfig, error) {
	d := newDecoder(file)
	if root.kind != mapNode {
		return nil, d.errf(root, "", "a run configuration is a mapping of keys (script, target, environment, …), not %s", root.kind)
	}
	d.lines[""] = root.line
	rc := &RunConfig{File: file}
	var err error
	must := func(e error) bool {
		if e != nil && err == nil {
			err = e
		}
		return err == nil
	}
	var e error
	rc.Script, e = d.str(root.get("script"), "script")
	must(e)
	rc.Arguments, e = d.strList(root.get("arguments"), "arguments")
	must(e)
	if c := root.get("command"); !c.isNull() {
		if c.kind == scalarNode {
			if strings.TrimSpace(c.text) != "" {
				rc.Command = []string{c.text}
			}
			d.see(c, "command")
		} else {
			rc.Command, e = d.strList(c, "command")
			must(e)
		}
	}
	rc.SourceDirectoryDataStore, e = d.str(root.get("sourceDirectoryDataStore"), "sourceDirectoryDataStore")
	must(e)
	rc.Framework, e = d.enum(root.get("framework"), "framework", Frameworks...)
	must(e)
	rc.Communicator, e = d.enum(root.get("communicator"), "communicator", Communicators...)
	must(e)
	rc.Target, e = d.str(root.get("target"), "target")
	must(e)
	rc.Target = strings.TrimSpace(rc.Target)
	rc.JobName, e = d.str(root.get("jobName"), "jobName")
	must(e)
	rc.AutoPrepareEnvironment, e = d.boolean(root.get("autoPrepareEnvironment"), "autoPrepareEnvironment")
	must(e)
	rc.PrepareEnvironment, e = d.boolean(root.get("prepareEnvironment"), "prepareEnvironment")
	must(e)
	rc.MaxRunDurationSeconds, e = d.integer(root.get("maxRunDurationSeconds"), "maxRunDurationSeconds")
	must(e)
	rc.NodeCount, e = d.int32v(root.get("nodeCount"), "nodeCount")
	must(e)
	rc.ExposedPorts, e = d.intList(root.get("exposedPorts"), "exposedPorts")
	must(e)
	if err != nil {
		return nil, err
	}
	if rc.DataReferences, err = decodeDataReferences(d, root.get("dataReferences")); err != nil {
		return nil, err
	}
	if rc.Data, err = decodeData(d, root.get("data")); err != nil {
		return nil, err
	}
	if rc.Environment, err = decodeEnvironment(d, root.get("environment"), "environment"); err != nil {
		return nil, err
	}
	if rc.History, err = decodeHistory(d, root.get("history")); err != nil {
		return nil, err
	}
	if err = decodeSections(d, root, rc); err != nil {
		return nil, err
	}
	rc.lines = d.lines
	return rc, nil
}

func decodeDataReferences(d *decoder, n *node) (map[string]DataReference, error) {
	m, err := d.object(n, "dataReferences")
	if err != nil || m == nil {
		return nil, err
	}
	out := map[string]DataReference{}
	for i, k := range m.keys {
		f := "dataReferences." + k.text
		o, err := d.object(m.vals[i], f)
		if err != nil {
			return nil, err
		}
		var r DataReference
		var errs [6]error
		r.DataStoreName, errs[0] = d.str(o.get("dataStoreName"), f+".dataStoreName")
		r.Mode, errs[1] = d.enum(o.get("mode"), f+".mode", "Mount", "Download", "Upload")
		r.PathOnDataStore, errs[2] = d.str(o.get("pathOnDataStore"), f+".pathOnDataStore")
		r.PathOnCompute, errs[3] = d.str(o.get("pathOnCompute"), f+".pathOnCompute")
		r.Overwrite, errs[4] = d.boolean(o.get("overwrite"), f+".overwrite")
		if e := firstErr(errs[:]...); e != nil {
			return nil, e
		}
		out[k.text] = r
	}
	return out, nil
}

// decodeData keeps the data section (dataset inputs) as it is written.
func decodeData(d *decoder, n *node) (map[string]any, error) {
	m, err := d.object(n, "data")
	if err != nil || m == nil {
		return nil, err
	}
	out := map[string]any{}
	for i, k := range m.keys {
		v, err := d.freeform(m.vals[i], "data."+k.text)
		if err != nil {
			return nil, err
		}
		out[k.text] = v
	}
	return out, nil
}

func decodeEnvironment(d *decoder, n *node, field string) (*Environment, error) {
	m, err := d.object(n, field)
	if err != nil || m == nil {
		return nil, err
	}
	env := &Environment{}
	var errs [6]error
	env.Name, errs[0] = d.str(m.get("name"), field+".name")
	env.Version, errs[1] = d.str(m.get("version"), field+".version")
	env.EnvironmentVariables, errs[2] = d.strMap(m.get("environmentVariables"), field+".environmentVariables")
	env.Databricks, errs[3] = d.freeform(m.get("databricks"), field+".databricks")
	env.InferencingStackVersion, errs[4] = d.str(m.get("inferencingStackVersion"), field+".inferencingStackVersion")
	if e := firstErr(errs[:]...); e != nil {
		return nil, e
	}
	if p, err := d.object(m.get("python"), field+".python"); err != nil {
		return nil, err
	} else if p != nil {
		f := field + ".python"
		py := &Python{}
		var um *bool
		var errs [5]error
		py.InterpreterPath, errs[0] = d.str(p.get("interpreterPath"), f+".interpreterPath")
		um, errs[1] = d.boolean(p.get("userManagedDependencies"), f+".userManagedDependencies")
		py.CondaDependencies, errs[2] = d.freeform(p.get("condaDependencies"), f+".condaDependencies")
		py.CondaDependenciesFile, errs[3] = d.str(p.get("condaDependenciesFile"), f+".condaDependenciesFile")
		py.BaseCondaEnvironment, errs[4] = d.str(p.get("baseCondaEnvironment"), f+".baseCondaEnvironment")
		if e := firstErr(errs[:]...); e != nil {
			return nil, e
		}
		py.UserManagedDependencies = um != nil && *um
		py.InterpreterPath = strings.TrimSpace(py.InterpreterPath)
		env.Python = py
	}
	if o, err := d.object(m.get("docker"), field+".docker"); err != nil {
		return nil, err
	} else if o != nil {
		f := field + ".docker"
		dk := &Docker{}
		var en, gpu *bool
		var errs [8]error
		en, errs[0] = d.boolean(o.get("enabled"), f+".enabled")
		dk.BaseImage, errs[1] = d.str(o.get("baseImage"), f+".baseImage")
		dk.BaseDockerfile, errs[2] = d.str(o.get("baseDockerfile"), f+".baseDockerfile")
		dk.SharedVolumes, errs[3] = d.boolean(o.get("sharedVolumes"), f+".sharedVolumes")
		gpu, errs[4] = d.boolean(o.get("gpuSupport"), f+".gpuSupport")
		dk.ShmSize, errs[5] = d.str(o.get("shmSize"), f+".shmSize")
		dk.Arguments, errs[6] = d.strList(o.get("arguments"), f+".arguments")
		if e := firstErr(errs[:]...); e != nil {
			return nil, e
		}
		dk.Enabled = en != nil && *en
		dk.GpuSupport = gpu != nil && *gpu
		if r, err := d.object(o.get("baseImageRegistry"), f+".baseImageRegistry"); err != nil {
			return nil, err
		} else if r != nil {
			rf := f + ".baseImageRegistry"
			reg := &Registry{}
			var errs [3]error
			reg.Address, errs[0] = d.str(r.get("address"), rf+".address")
			reg.Username, errs[1] = d.str(r.get("username"), rf+".username")
			reg.Password, errs[2] = d.str(r.get("password"), rf+".password")
			if e := firstErr(errs[:]...); e != nil {
				return nil, e
			}
			dk.BaseImageRegistry = reg
		}
		env.Docker = dk
	}
	if o, err := d.object(m.get("spark"), field+".spark"); err != nil {
		return nil, err
	} else if o != nil {
		f := field + ".spark"
		sp := &EnvSpark{}
		var errs [3]error
		sp.Repositories, errs[0] = d.strList(o.get("repositories"), f+".repositories")
		sp.Packages, errs[1] = d.freeform(o.get("packages"), f+".packages")
		sp.PrecachePackages, errs[2] = d.boolean(o.get("precachePackages"), f+".precachePackages")
		if e := firstErr(errs[:]...); e != nil {
			return nil, e
		}
		env.Spark = sp
	}
	return env, nil
}

func decodeHistory(d *decoder, n *node) (*History, error) {
	m, err := d.object(n, "history")
	if err != nil || m == nil {
		return nil, err
	}
	h := &History{}
	var errs [3]error
	h.OutputCollection, errs[0] = d.boolean(m.get("outputCollection"), "history.outputCollection")
	h.DirectoriesToWatch, errs[1] = d.strList(m.get("directoriesToWatch"), "history.directoriesToWatch")
	h.SnapshotProject, errs[2] = d.boolean(m.get("snapshotProject"), "history.snapshotProject")
	return h, firstErr(errs[:]...)
}

// decodeSections reads the framework- and target-specific sections.
func decodeSections(d *decoder, root *node, rc *RunConfig) error {
	var errs []error
	add := func(e error) { errs = append(errs, e) }
	if o, err := d.object(root.get("spark"), "spark"); err != nil {
		return err
	} else if o != nil {
		sp := &Spark{}
		var e error
		sp.Configuration, e = d.strMap(o.get("configuration"), "spark.configuration")
		add(e)
		rc.Spark = sp
	}
	if o, err := d.object(root.get("amlCompute"), "amlCompute"); err != nil {
		return err
	} else if o != nil {
		a := &AmlCompute{}
		var e error
		a.Name, e = d.str(o.get("name"), "amlCompute.name")
		add(e)
		a.VMSize, e = d.str(o.get("vmSize"), "amlCompute.vmSize")
		add(e)
		a.VMPriority, e = d.enum(o.get("vmPriority"), "amlCompute.vmPriority", "dedicated", "lowpriority")
		add(e)
		a.RetainCluster, e = d.boolean(o.get("retainCluster"), "amlCompute.retainCluster")
		add(e)
		a.ClusterMaxNodeCount, e = d.int32v(o.get("clusterMaxNodeCount"), "amlCompute.clusterMaxNodeCount")
		add(e)
		rc.AmlCompute = a
	}
	if o, err := d.object(root.get("tensorflow"), "tensorflow"); err != nil {
		return err
	} else if o != nil {
		t := &TensorFlow{}
		var e error
		t.WorkerCount, e = d.int32v(o.get("workerCount"), "tensorflow.workerCount")
		add(e)
		t.ParameterServerCount, e = d.int32v(o.get("parameterServerCount"), "tensorflow.parameterServerCount")
		add(e)
		rc.TensorFlow = t
	}
	if o, err := d.object(root.get("mpi"), "mpi"); err != nil {
		return err
	} else if o != nil {
		m := &Mpi{}
		var e error
		m.ProcessCountPerNode, e = d.int32v(o.get("processCountPerNode"), "mpi.processCountPerNode")
		add(e)
		rc.Mpi = m
	}
	if o, err := d.object(root.get("pyTorch"), "pyTorch"); err != nil {
		return err
	} else if o != nil {
		p := &PyTorch{}
		var e error
		p.CommunicationBackend, e = d.enum(o.get("communicationBackend"), "pyTorch.communicationBackend", "nccl", "gloo")
		add(e)
		p.ProcessCount, e = d.int32v(o.get("processCount"), "pyTorch.processCount")
		add(e)
		rc.PyTorch = p
	}
	if o, err := d.object(root.get("hdi"), "hdi"); err != nil {
		return err
	} else if o != nil {
		h := &Hdi{}
		var e error
		h.YarnDeployMode, e = d.enum(o.get("yarnDeployMode"), "hdi.yarnDeployMode", "None", "Client", "Cluster")
		add(e)
		rc.Hdi = h
	}
	if o, err := d.object(root.get("containerInstance"), "containerInstance"); err != nil {
		return err
	} else if o != nil {
		c := &ContainerInstance{}
		var e error
		c.Region, e = d.str(o.get("region"), "containerInstance.region")
		add(e)
		c.CPUCores, e = d.number(o.get("cpuCores"), "containerInstance.cpuCores")
		add(e)
		c.MemoryGB, e = d.number(o.get("memoryGb"), "containerInstance.memoryGb")
		add(e)
		rc.ContainerInstance = c
	}
	if o, err := d.object(root.get("docker"), "docker"); err != nil {
		return err
	} else if o != nil {
		dr := &DockerRuntime{}
		var e error
		dr.UseDocker, e = d.boolean(o.get("useDocker"), "docker.useDocker")
		add(e)
		dr.SharedVolumes, e = d.boolean(o.get("sharedVolumes"), "docker.sharedVolumes")
		add(e)
		dr.ShmSize, e = d.str(o.get("shmSize"), "docker.shmSize")
		add(e)
		dr.Arguments, e = d.strList(o.get("arguments"), "docker.arguments")
		add(e)
		rc.Docker = dr
	}
	return firstErr(errs...)
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// line returns the line of field, or of its closest recorded parent, or 1.
func (rc *RunConfig) line(field string) int {
	for f := field; ; {
		if l := rc.lines[f]; l > 0 {
			return l
		}
		i := strings.LastIndexByte(f, '.')
		if i < 0 {
			break
		}
		f = f[:i]
	}
	if l := rc.lines[""]; l > 0 {
		return l
	}
	return 1
}

// Line returns the line field (a dotted path such as
// environment.python.interpreterPath) is on, or that of the closest section
// around it that the file has; 1 when there is none.
func (rc *RunConfig) Line(field string) int { return rc.line(field) }

// EffectiveTarget is the target the run goes to: Target, or local when the
// file leaves it empty.
func (rc *RunConfig) EffectiveTarget() string {
	if rc == nil || rc.Target == "" {
		return LocalTarget
	}
	return rc.Target
}

// UserManaged reports whether the run uses the target's Python as it is:
// environment.python.userManagedDependencies is true, or the file has no
// environment.python section (Trainyard's default; it builds no conda
// environments).
func (rc *RunConfig) UserManaged() bool {
	return rc.Environment == nil || rc.Environment.Python == nil || rc.Environment.Python.UserManagedDependencies
}

// Validate checks the rules between fields that the schema documents and
// returns the first problem in file order as an *Error, or nil:
//   - script is required, a relative path inside the source directory;
//     command is not supported;
//   - framework PySpark needs spark, TensorFlow needs tensorflow;
//     communicator Mpi needs mpi;
//   - target amlcompute needs amlCompute with a vmSize; target
//     containerinstance needs containerInstance;
//   - nodeCount and maxRunDurationSeconds are at least 1;
//   - environment.python with userManagedDependencies false needs
//     condaDependencies or condaDependenciesFile (with true, a missing
//     interpreterPath means the target's python3);
//   - a docker registry username needs a password;
//   - environment variable names are not empty and hold no "=";
//   - DatasetConsumptionConfig:<name> arguments name an entry of data.
func (rc *RunConfig) Validate() error {
	var probs []*Error
	add := func(field, format string, args ...any) {
		probs = append(probs, &Error{File: rc.File, Line: rc.line(field), Field: field, Message: fmt.Sprintf(format, args...)})
	}
	switch s := strings.TrimSpace(rc.Script); {
	case s == "":
		add("script", "required: the script to run, relative to the source directory (e.g. train.py)")
	default:
		if msg := checkRelPath(s); msg != "" {
			add("script", "%s", msg)
		}
	}
	if len(rc.Command) > 0 {
		add("command", "command runs are not supported; give script and arguments instead")
	}
	for i, a := range rc.Arguments {
		if strings.ContainsRune(a, 0) {
			add(fmt.Sprintf("arguments[%d]", i), "contains a NUL byte, which no program argument can hold")
		}
		if name, ok := strings.CutPrefix(a, "DatasetConsumptionConfig:"); ok && !hasKeyFold(rc.Data, name) {
			add(fmt.Sprintf("arguments[%d]", i), "%q names no entry of data", a)
		}
	}
	switch rc.Framework {
	case "PySpark":
		if rc.Spark == nil {
			add("framework", "framework PySpark needs a spark section")
		}
	case "TensorFlow":
		if rc.TensorFlow == nil {
			add("framework", "framework TensorFlow needs a tensorflow section")
		}
	}
	if rc.Communicator == "Mpi" && rc.Mpi == nil {
		add("communicator", "communicator Mpi needs an mpi section")
	}
	switch strings.ToLower(rc.Target) {
	case RunBasedAmlCompute:
		if rc.AmlCompute == nil || strings.TrimSpace(rc.AmlCompute.VMSize) == "" {
			add("target", "target amlcompute (a cluster made for the run) needs an amlCompute section with a vmSize")
		}
	case ContainerInstanceTarget:
		if rc.ContainerInstance == nil {
			add("target", "target containerinstance needs a containerInstance section")
		}
	}
	if rc.NodeCount != nil && *rc.NodeCount < 1 {
		add("nodeCount", "must be at least 1, not %d", *rc.NodeCount)
	}
	if rc.MaxRunDurationSeconds != nil && *rc.MaxRunDurationSeconds < 1 {
		add("maxRunDurationSeconds", "must be at least 1 second (leave it out for no limit), not %d", *rc.MaxRunDurationSeconds)
	}
	if a := rc.AmlCompute; a != nil && a.ClusterMaxNodeCount != nil && *a.ClusterMaxNodeCount < 1 {
		add("amlCompute.clusterMaxNodeCount", "must be at least 1, not %d", *a.ClusterMaxNodeCount)
	}
	if t := rc.TensorFlow; t != nil {
		if t.WorkerCount != nil && *t.WorkerCount < 1 {
			add("tensorflow.workerCount", "must be at least 1, not %d", *t.WorkerCount)
		}
		if t.ParameterServerCount != nil && *t.ParameterServerCount < 0 {
			add("tensorflow.parameterServerCount", "must not be negative")
		}
	}
	if m := rc.Mpi; m != nil && m.ProcessCountPerNode != nil && *m.ProcessCountPerNode < 1 {
		add("mpi.processCountPerNode", "must be at least 1, not %d", *m.ProcessCountPerNode)
	}
	if p := rc.PyTorch; p != nil && p.ProcessCount != nil && *p.ProcessCount < 1 {
		add("pyTorch.processCount", "must be at least 1, not %d", *p.ProcessCount)
	}
	if env := rc.Environment; env != nil {
		for _, k := range slices.Sorted(maps.Keys(env.EnvironmentVariables)) {
			f := "environment.environmentVariables." + k
			switch {
			case strings.TrimSpace(k) == "":
				add(f, "an environment variable needs a name")
			case strings.ContainsAny(k, "=\x00"):
				add(f, "an environment variable name cannot contain '=' or NUL")
			case strings.ContainsRune(env.EnvironmentVariables[k], 0):
				add(f, "the value contains a NUL byte")
			}
		}
		if py := env.Python; py != nil && !py.UserManagedDependencies && py.CondaDependencies == nil && strings.TrimSpace(py.CondaDependenciesFile) == "" {
			add("environment.python.userManagedDependencies",
				"false (the default) needs condaDependencies or condaDependenciesFile; set userManagedDependencies: true to use the target's Python as it is")
		}
		if dk := env.Docker; dk != nil && dk.BaseImageRegistry != nil {
			if r := dk.BaseImageRegistry; strings.TrimSpace(r.Username) != "" && r.Password == "" {
				add("environment.docker.baseImageRegistry.password", "required when a username is given")
			}
		}
	}
	if h := rc.History; h != nil {
		for i, dir := range h.DirectoriesToWatch {
			if msg := checkRelPath(dir); msg != "" {
				add(fmt.Sprintf("history.directoriesToWatch[%d]", i), "%s", msg)
			}
		}
	}
	if len(probs) == 0 {
		return nil
	}
	slices.SortStableFunc(probs, func(a, b *Error) int { return a.Line - b.Line })
	return probs[0]
}

// checkRelPath returns why p is not a clean relative path inside the
// source directory, or "".
func checkRelPath(p string) string {
	if strings.ContainsRune(p, 0) {
		return "contains a NUL byte"
	}
	s := strings.ReplaceAll(p, "\\", "/")
	if strings.HasPrefix(s, "/") || (len(s) >= 2 && s[1] == ':') {
		return fmt.Sprintf("%q must be relative to the source directory, not absolute", p)
	}
	c := path.Clean(s)
	if c == ".." || strings.HasPrefix(c, "../") {
		return fmt.Sprintf("%q leaves the source directory", p)
	}
	return ""
}

func hasKeyFold(m map[string]any, key string) bool {
	for k := range m {
		if strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}
