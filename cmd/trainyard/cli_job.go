package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/trainyard/trainyard/compute/hyperdrive"
	"github.com/trainyard/trainyard/compute/runconfig"
)

const jobUsage = `Usage: trainyard job <command> [flags]

Submit and inspect v2 jobs, as 'az ml job' does.

Commands:
  create -f FILE   submit a v2 job YAML: type: command (a script run) or type: sweep (a HyperDrive sweep)
  show -n RUN_ID   show a run (as 'trainyard run show -r RUN_ID')
  list             list runs (as 'trainyard run list'; --parent RUN_ID lists a sweep's trials)

Run 'trainyard job <command> --help' for a command's flags.
`

func (c *cli) job(args []string) error {
	return c.dispatchVerb(args, jobUsage, "job needs a command", func(verb string) string {
		return fmt.Sprintf("unknown command %q for trainyard job", verb)
	}, "trainyard job --help", map[string]func([]string) error{
		"create": c.jobCreate,
		"show":   c.jobShow,
		"list":   c.runList,
	})
}

// jobShow is 'run show' with az ml job's -n/--name for the run ID.
func (c *cli) jobShow(args []string) error {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-n" || a == "--name" || a == "-name":
			out = append(out, "-r")
		case strings.HasPrefix(a, "--name=") || strings.HasPrefix(a, "-n="):
			out = append(out, "-r="+a[strings.IndexByte(a, '=')+1:])
		default:
			out = append(out, a)
		}
	}
	return c.runShow(out)
}

const jobCreateAbout = `Submit a v2 job YAML, as 'az ml job create -f FILE' does.

type: command runs its command, which must be python SCRIPT [ARGS...] (split as a shell would split it, then run as an argv, never through a shell), with ${{inputs.NAME}} replaced by the input's value or path and ${{outputs.NAME}} by outputs/NAME.

type: sweep starts a HyperDrive sweep (sampling_algorithm, search_space, objective, early_termination, limits) whose trials run trial.command with ${{search_space.NAME}} replaced by each trial's value, in place (a parameter the command does not mention is not passed).

code (trial.code for a sweep) is the folder that is snapshotted and run in, relative to the YAML file; without it, the YAML file's folder. Only files the server does not have yet are uploaded (.amlignore, else .gitignore). compute is azureml:NAME or NAME (default local); the environment is recorded but runs use the target's python3 with environment_variables set. The experiment is experiment_name, else -e, else the name of the current folder.

Files written for the az CLI's preview are read too (code: {local_path: DIR}; an input's data: azureml:NAME:VERSION, file: or folder:, passed to the script as written): each such form gets a FILE:LINE: warning: line saying what Trainyard does with it.

The file is checked first with the server's rules; a problem is reported as FILE:LINE: FIELD: MESSAGE. Prints the run (for a sweep, the parent run): -o json gives the server's run JSON with runId and status. --stream waits for the run to end (a command job's log is printed as it is written) and exits 1 unless it Completed.`

func (c *cli) jobCreate(args []string) error {
	var file, exp, name, out string
	var stream bool
	f := newFlagSet("trainyard job create", "-f FILE [-e EXPERIMENT] [--stream] [-o json|table]", jobCreateAbout)
	f.String(&file, "file", "f", "FILE", "", "the v2 job YAML (type: command or type: sweep)")
	f.String(&exp, "experiment-name", "e", "NAME", "", "experiment when the file has no experiment_name")
	f.String(&name, "name", "n", "NAME", "", "accepted for az ml compatibility; run IDs are assigned by the server")
	f.Bool(&stream, "stream", "s", "wait until the run ends; a command job's log is printed as it is written")
	f.Output(&out)
	if err := f.Parse(args, c.stdout); err != nil {
		return err
	}
	if err := f.Require("file", file); err != nil {
		return err
	}
	res, err := runconfig.CheckFile(file)
	if err != nil {
		return err
	}
	for _, n := range res.Notes {
		fmt.Fprintln(c.stderr, n)
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(c.stderr, "trainyard: warning: %s\n", w)
	}
	var (
		code, compute, cmd, expName string
		inputs                      map[string]runconfig.JobInput
		outputs                     map[string]runconfig.JobOutput
		envVars                     map[string]string
		nodes                       *int
		maxSeconds                  *int64
		line                        func(string) int
		cmdField                    string
	)
	switch res.Kind {
	case runconfig.KindCommandJob:
		j := res.Job
		code, compute, cmd, expName, inputs, outputs, envVars, nodes, maxSeconds = j.Code, j.EffectiveCompute(), j.Command, j.ExperimentName, j.Inputs, j.Outputs, j.EnvironmentVariables, j.InstanceCount, j.Timeout
		cmdField, line = "command", j.Line
	case runconfig.KindSweepJob:
		j := res.Sweep
		code, compute, cmd, expName, inputs, outputs, envVars, nodes, maxSeconds = j.TrialCode, j.EffectiveCompute(), j.TrialCommand, j.ExperimentName, j.Inputs, j.Outputs, j.TrialEnvironmentVariables, j.TrialInstanceCount, j.Limits.TrialTimeout
		cmdField, line = "trial.command", j.Line
	default:
		return fmt.Errorf("%s is a %s, not a v2 job: submit it with 'trainyard run submit-script' or 'run submit-hyperdrive'", file, res.Kind)
	}
	script, scriptArgs, err := runconfig.ScriptCommand(cmd, inputs, outputs)
	if err != nil {
		return &runconfig.Error{File: file, Line: line(cmdField), Field: cmdField, Message: err.Error(), Err: err}
	}
	if exp == "" || expName != "" {
		exp = expName
	}
	if exp == "" {
		if wd, err := os.Getwd(); err == nil && checkExperimentName(filepath.Base(wd)) == "" {
			exp = filepath.Base(wd)
		} else {
			exp = "Default"
		}
	}
	if msg := checkExperimentName(exp); msg != "" {
		return f.usageErr("%s", msg)
	}
	srcDir := filepath.Dir(file)
	if c := strings.TrimSpace(code); c != "" {
		if strings.Contains(c, "://") || strings.HasPrefix(strings.ToLower(c), "azureml:") {
			return fmt.Errorf("%s: code %q is not a local folder: Trainyard uploads the code from this machine", file, c)
		}
		if filepath.IsAbs(c) {
			srcDir = c
		} else {
			srcDir = filepath.Join(srcDir, filepath.FromSlash(c))
		}
	}
	if script, err = scriptPath(srcDir, script); err != nil {
		return err
	}
	req := submitRequest{ExperimentName: exp, Script: script, Arguments: scriptArgs, Target: compute, NodeCount: 1,
		MaxRunDurationSeconds: maxSeconds, Environment: submitEnvironment{EnvironmentVariables: envVars, Python: submitPython{UserManagedDependencies: true}}}
	if nodes != nil {
		req.NodeCount = *nodes
	}
	var sweep *sweepRequest
	if res.Kind == runconfig.KindSweepJob {
		j := res.Sweep
		// The server's rules again, for the parent's JSON; Check applied them.
		if _, _, err := hyperdrive.FromSweepJob(j, 0); err != nil {
			var fe *hyperdrive.FieldError
			if errors.As(err, &fe) {
				return &runconfig.Error{File: file, Line: j.Line(fe.Field), Field: fe.Field, Message: fe.Message, Err: err}
			}
			return fmt.Errorf("%s: %w", file, err)
		}
		if !hyperdrive.HasTemplate(scriptArgs) {
			fmt.Fprintf(c.stderr, "trainyard: warning: %s: trial.command mentions no ${{search_space.<name>}}: each trial gets its values appended as --name value (the v1 rule)\n", file)
		}
		sweep = &sweepRequest{Sweep: j.HDConfig()}
		if sd := j.Sampling.Seed; sd != nil {
			u := uint64(*sd)
			sweep.Seed = &u
		}
	}

	api, snapID, uploadSummary, err := c.snapshotAndUpload(srcDir, script)
	if err != nil {
		return err
	}
	req.SnapshotID = snapID
	var body any = req
	endpoint := runsPath
	if sweep != nil {
		sweep.submitRequest = req
		body, endpoint = sweep, sweepsPath
	}
	resp, err := api.do(c.ctx, http.MethodPost, endpoint, nil, body, nil)
	if err != nil {
		return err
	}
	var r runInfo
	if err := resp.decode(&r); err != nil {
		return err
	}
	if !stream {
		if out == "json" {
			return printRaw(c.stdout, resp.body)
		}
		fmt.Fprintln(c.stderr, uploadSummary)
		if err := printRunTable(c.stdout, []runInfo{r}, time.Now()); err != nil {
			return err
		}
		fmt.Fprintf(c.stderr, "Follow it with: trainyard job show -n %s\n", r.RunID)
		return nil
	}
	fmt.Fprintf(c.stderr, "Run %s (%s) submitted; waiting for it to end.\n", r.RunID, exp)
	if res.Kind == runconfig.KindCommandJob {
		// monitor-logs returns when the run has ended, with its exit rule.
		err := c.runMonitorLogs([]string{"-r", r.RunID})
		if out == "json" {
			if resp, _, gerr := c.getRun(api, r.RunID, ""); gerr == nil {
				_ = printRaw(c.stdout, resp.body)
			}
		}
		return err
	}
	return c.waitRun(api, r.RunID, out)
}

// sweepRequest is the body of POST /api/v1/sweeps for a v2 sweep job: the
// trials' run, the sweep in the hdconfig's JSON form, and the seed of
// sampling_algorithm.
type sweepRequest struct {
	submitRequest
	Sweep *runconfig.HDConfig `json:"sweep"`
	Seed  *uint64             `json:"seed,omitempty"`
}

// waitRun polls a run until it ends, prints it, and fails unless it
// Completed.
func (c *cli) waitRun(api *apiClient, id, out string) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		resp, r, err := c.getRun(api, id, "")
		if err != nil {
			return err
		}
		if terminalStatus(r.Status) {
			if out == "json" {
				if err := printRaw(c.stdout, resp.body); err != nil {
					return err
				}
			} else if err := printRunTable(c.stdout, []runInfo{r}, time.Now()); err != nil {
				return err
			}
			if r.Status != "Completed" {
				reason := r.StatusReason
				if reason == "" {
					reason = r.Error
				}
				return fmt.Errorf("run %s ended %s: %s", id, r.Status, reason)
			}
			return nil
		}
		select {
		case <-c.ctx.Done():
			return c.ctx.Err()
		case <-tick.C:
		}
	}
}
