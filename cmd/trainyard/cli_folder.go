package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/trainyard/trainyard/compute/arm"
	"github.com/trainyard/trainyard/compute/runconfig"
)

// projectFile records the folder's default experiment in .azureml/.
const projectFile = "project.json"

// projectConfig is .azureml/project.json.
type projectConfig struct {
	ExperimentName string `json:"experimentName"`
}

const folderUsage = `Usage: trainyard folder <command> [flags]

Prepare a source folder for runs, as 'az ml folder' does.

Commands:
  attach   write .azureml/<target>.runconfig templates for every compute target

Run 'trainyard folder attach --help' for its flags.
`

// folder dispatches the folder verbs.
func (c *cli) folder(args []string) error {
	return c.dispatchVerb(args, folderUsage, "folder needs a command", func(verb string) string {
		return fmt.Sprintf("unknown command %q for trainyard folder", verb)
	}, "trainyard folder --help", map[string]func([]string) error{
		"attach": c.folderAttach,
	})
}

func (c *cli) folderAttach(args []string) error {
	var exp, dir string
	var force bool
	f := newFlagSet("trainyard folder attach", "[-e EXPERIMENT] [--path DIR] [--force]",
		"Write run configuration templates into DIR/.azureml/: one <target>.runconfig for each compute target the server lists, "+
			"plus local.runconfig, as 'az ml folder attach' does. Edit them, then submit with "+
			"'trainyard run submit-script -c <target> train.py'. With -e, the experiment is created and recorded in "+
			".azureml/project.json as the folder's default for submit-script. Existing files are kept unless --force is given.")
	f.String(&exp, "experiment-name", "e", "NAME", "", "default experiment for runs from this folder")
	f.String(&dir, "path", "p", "DIR", ".", "the folder to attach")
	f.Bool(&force, "force", "f", "overwrite existing files")
	if err := f.Parse(args, c.stdout); err != nil {
		return err
	}
	if exp != "" {
		if msg := checkExperimentName(exp); msg != "" {
			return f.usageErr("%s", msg)
		}
	}
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("--path: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("--path: %s is not a directory", dir)
	}
	api, err := c.client()
	if err != nil {
		return err
	}
	raws, err := api.listComputes(c.ctx)
	if err != nil {
		return err
	}
	type target struct{ name, kind string }
	targets := map[string]target{runconfig.LocalTarget: {runconfig.LocalTarget, "Local"}}
	for _, raw := range raws {
		var item arm.Compute
		if err := json.Unmarshal(raw, &item); err != nil {
			return fmt.Errorf("the server's compute list is not the JSON the CLI expects: %w", err)
		}
		if !safeFileName(item.Name) {
			fmt.Fprintf(c.stderr, "trainyard: skipping compute %q: its name cannot be a file name\n", item.Name)
			continue
		}
		targets[strings.ToLower(item.Name)] = target{item.Name, item.Properties.ComputeType}
	}
	if exp != "" {
		if _, err := c.createExperiment(api, exp); err != nil {
			return err
		}
	}
	azdir := filepath.Join(dir, ".azureml")
	if err := os.MkdirAll(azdir, 0o755); err != nil {
		return err
	}
	names := make([]string, 0, len(targets))
	for k := range targets {
		names = append(names, k)
	}
	sort.Strings(names)
	type file struct{ name, content string }
	var files []file
	for _, k := range names {
		t := targets[k]
		files = append(files, file{t.name + ".runconfig", runconfigTemplate(t.name, t.kind)})
	}
	if exp != "" {
		data, _ := json.MarshalIndent(projectConfig{ExperimentName: exp}, "", "  ")
		files = append(files, file{projectFile, string(data) + "\n"})
	}
	for _, fl := range files {
		p := filepath.Join(azdir, fl.name)
		shown := filepath.Join(".azureml", fl.name)
		wrote, err := writeNew(p, fl.content, force)
		if err != nil {
			return err
		}
		if wrote {
			fmt.Fprintf(c.stdout, "Wrote %s\n", shown)
		} else {
			fmt.Fprintf(c.stdout, "Kept %s (it exists; --force overwrites it)\n", shown)
		}
	}
	hint := "-e <experiment> "
	if exp != "" {
		hint = ""
	}
	fmt.Fprintf(c.stdout, "Submit a run with: trainyard run submit-script %s-c local train.py\n", hint)
	return nil
}

// safeFileName reports whether a compute name can name a file in .azureml/.
func safeFileName(name string) bool {
	return name != "" && !strings.ContainsAny(name, `/\`+"\x00") && !strings.HasPrefix(name, ".")
}

// writeNew writes content to p unless it exists and force is false; it
// reports whether it wrote.
func writeNew(p, content string, force bool) (bool, error) {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	fh, err := os.OpenFile(p, flags, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if _, err := fh.WriteString(content); err != nil {
		fh.Close()
		return false, err
	}
	return true, fh.Close()
}

// runconfigTemplate is the .runconfig folder attach writes for a target.
func runconfigTemplate(target, kind string) string {
	nodes := "# Number of nodes to run on (each runs the script, with RANK, WORLD_SIZE, MASTER_ADDR… set).\nnodeCount: 1\n"
	return fmt.Sprintf(`# Run configuration for compute target %q (%s), written by 'trainyard folder attach'.
# Submit with: trainyard run submit-script -e <experiment> -c %s train.py [script arguments]
# Options on the command line (--target, --node-count, --max-run-duration-seconds) override this file.
# The script to run, relative to the source directory; the script named on the command line wins.
script: train.py
# Arguments for the script; those given on the command line come after these.
arguments: []
# The compute target to run on.
target: %s
# Framework: Python, PyTorch, TensorFlow, …
framework: Python
# Communicator for distributed runs: None, ParameterServer, OpenMpi, IntelMpi, Gloo, Mpi.
communicator: None
%s# Cancel the run after this many seconds; empty means no limit.
maxRunDurationSeconds:
environment:
  # Environment variables set for the run.
  environmentVariables:
    EXAMPLE_ENV_VAR: EXAMPLE_VALUE
  python:
    # true: run with the target's Python as it is (Trainyard builds no conda environments).
    userManagedDependencies: true
    # The Python interpreter; empty means the target's python3.
    interpreterPath:
    # With userManagedDependencies: false, the conda environment file to record.
    condaDependenciesFile:
  docker:
    # Recorded with the run; Trainyard runs scripts without Docker.
    enabled: false
    baseImage: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04
history:
  # Keep what the script writes to ./outputs and ./logs.
  outputCollection: true
  directoriesToWatch:
  - logs
`, target, dash(kind), target, yamlScalar(target), nodes)
}

// yamlScalar quotes a value for YAML when it is not plain.
func yamlScalar(s string) string {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			b, _ := json.Marshal(s)
			return string(b)
		}
	}
	return s
}
