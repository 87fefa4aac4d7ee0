package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/trainyard/trainyard/compute/snapshot"
)

// API paths of the runs contract (docs/API-runs.md).
const (
	runsPath        = "/api/v1/runs"
	experimentsPath = "/api/v1/experiments"
	snapshotsPath   = "/api/v1/snapshots"
	sweepsPath      = "/api/v1/sweeps"
	blobsPath       = "/api/v1/blobs"
)

const runUsage = `Usage: trainyard run <command> [flags]

Submit training scripts and follow their runs, as 'az ml run' does.

Commands:
  submit-script   snapshot a folder and run a script in it on a compute target
  submit-hyperdrive
                  snapshot a folder and start a HyperDrive sweep of a script
  list            list runs, newest first
  show            show one run: status, times, metrics, error
  cancel          cancel a run
  monitor-logs    print a run's log as it is written, until the run ends

Run 'trainyard run <command> --help' for a command's flags.
`

// runCmd dispatches the run verbs.
func (c *cli) runCmd(args []string) error {
	return c.dispatchVerb(args, runUsage, "run needs a command", func(verb string) string {
		return fmt.Sprintf("unknown command %q for trainyard run", verb)
	}, "trainyard run --help", map[string]func([]string) error{
		"submit-script":     c.runSubmitScript,
		"submit-hyperdrive": c.runSubmitHyperdrive,
		"list":              c.runList,
		"show":              c.runShow,
		"cancel":            c.runCancel,
		"monitor-logs":      c.runMonitorLogs,
	})
}

// parseArgs parses flags up to the first argument that is not a flag (or
// after "--") and returns the arguments from there on, untouched: what
// follows a script name belongs to the script.
func (f *flagSet) parseArgs(args []string, stdout io.Writer) ([]string, error) {
	err := f.fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		f.Usage(stdout)
		return nil, flag.ErrHelp
	case err != nil:
		return nil, f.usageErr("%v", err)
	}
	if o := f.fs.Lookup("output"); o != nil && o.Value.String() != "json" && o.Value.String() != "table" {
		return nil, f.usageErr("--output must be json or table, not %q", o.Value.String())
	}
	return f.fs.Args(), nil
}

// alias registers a hidden second long name for a string flag.
func (f *flagSet) alias(p *string, long string) {
	f.fs.StringVar(p, long, *p, "")
}

// runIDFlags registers -r/--run (also --run-id) and -e/--experiment-name,
// which run show, cancel and monitor-logs take.
func runIDFlags(f *flagSet, id, exp *string) {
	f.String(id, "run", "r", "RUN_ID", "", "the run's ID (e.g. exp_1764250000_1a2b3c4d)")
	f.alias(id, "run-id")
	f.String(exp, "experiment-name", "e", "NAME", "", "the run's experiment; when given, it must match")
}

// runPath is the API path of one run, plus an optional action.
func runPath(id string, action ...string) string {
	p := runsPath + "/" + url.PathEscape(id)
	for _, a := range action {
		p += "/" + a
	}
	return p
}

// runInfo is the part of a run the CLI prints in tables.
type runInfo struct {
	RunID                 string                     `json:"runId"`
	ExperimentName        string                     `json:"experimentName"`
	Status                string                     `json:"status"`
	StatusReason          string                     `json:"statusReason"`
	Target                string                     `json:"target"`
	ParentRunID           string                     `json:"parentRunId"`
	SubmittedBy           string                     `json:"submittedBy"`
	CreatedTimeUTC        string                     `json:"createdTimeUtc"`
	StartTimeUTC          string                     `json:"startTimeUtc"`
	EndTimeUTC            string                     `json:"endTimeUtc"`
	Script                string                     `json:"script"`
	Arguments             []string                   `json:"arguments"`
	NodeCount             int                        `json:"nodeCount"`
	MaxRunDurationSeconds int64                      `json:"maxRunDurationSeconds"`
	SnapshotID            string                     `json:"snapshotId"`
	Git                   *snapshot.Git              `json:"git"`
	Metrics               map[string]json.RawMessage `json:"metrics"`
	Params                map[string]json.RawMessage `json:"params"`
	Tags                  map[string]json.RawMessage `json:"tags"`
	Error                 string                     `json:"error"`
	Attempt               int                        `json:"attempt"`
}

// terminalStatus reports whether a run in status s has ended.
func terminalStatus(s string) bool {
	switch s {
	case "Completed", "Failed", "Canceled":
		return true
	}
	return false
}

// printRaw re-indents a JSON body from the server, keeping every field.
func printRaw(w io.Writer, body []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(body), "", "  "); err != nil {
		return fmt.Errorf("the server's answer is not JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err := buf.WriteTo(w)
	return err
}

// printRunTable writes RUN ID, EXPERIMENT, STATUS, TARGET, CREATED, DURATION.
func printRunTable(w io.Writer, runs []runInfo, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN ID\tEXPERIMENT\tSTATUS\tTARGET\tCREATED\tDURATION")
	for _, r := range runs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.RunID, dash(r.ExperimentName), dash(r.Status), dash(r.Target), dash(r.CreatedTimeUTC), dash(runDuration(r, now)))
	}
	return tw.Flush()
}

// runDuration is end − start, or now − start while the run goes on.
func runDuration(r runInfo, now time.Time) string {
	start, err := time.Parse(time.RFC3339, r.StartTimeUTC)
	if err != nil {
		return ""
	}
	end := now
	if r.EndTimeUTC != "" {
		if end, err = time.Parse(time.RFC3339, r.EndTimeUTC); err != nil {
			return ""
		}
	} else if terminalStatus(r.Status) {
		return ""
	}
	d := end.Sub(start)
	if d < 0 {
		d = 0
	}
	return d.Round(time.Second).String()
}

// printRunDetails writes one run as labelled lines, then its metrics,
// parameters and tags.
func printRunDetails(w io.Writer, r runInfo, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	line := func(label, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", label, v)
		}
	}
	line("Run ID", r.RunID)
	line("Experiment", r.ExperimentName)
	status := r.Status
	if r.StatusReason != "" {
		status += " (" + r.StatusReason + ")"
	}
	line("Status", status)
	line("Target", r.Target)
	if r.Script != "" {
		line("Script", strings.Join(append([]string{quoteArg(r.Script)}, quoteArgs(r.Arguments)...), " "))
	}
	if r.NodeCount > 1 {
		line("Nodes", strconv.Itoa(r.NodeCount))
	}
	line("Parent run", r.ParentRunID)
	line("Submitted by", r.SubmittedBy)
	line("Created", r.CreatedTimeUTC)
	line("Started", r.StartTimeUTC)
	line("Ended", r.EndTimeUTC)
	line("Duration", runDuration(r, now))
	line("Snapshot", r.SnapshotID)
	if g := r.Git; g != nil && (g.Repository != "" || g.Commit != "") {
		s := dash(g.Repository)
		if g.Branch != "" {
			s += " " + g.Branch
		}
		if g.Commit != "" {
			s += " @ " + g.Commit
		}
		if g.Dirty {
			s += " (dirty)"
		}
		line("Git", s)
	}
	line("Error", r.Error)
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, sec := range []struct {
		title string
		m     map[string]json.RawMessage
	}{{"Metrics", r.Metrics}, {"Params", r.Params}, {"Tags", r.Tags}} {
		if len(sec.m) == 0 {
			continue
		}
		fmt.Fprintf(w, "%s:\n", sec.title)
		keys := make([]string, 0, len(sec.m))
		for k := range sec.m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, k := range keys {
			fmt.Fprintf(tw, "  %s\t%s\n", k, rawText(sec.m[k]))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// rawText shows a JSON value: strings unquoted, the rest as written.
func rawText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

var plainArg = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// quoteArg quotes an argument for display the way a POSIX shell would read it.
func quoteArg(s string) string {
	if plainArg.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = quoteArg(a)
	}
	return out
}

func (c *cli) runList(args []string) error {
	var exp, parent, status, target, out string
	var last int
	f := newFlagSet("trainyard run list", "[-e EXPERIMENT] [--parent RUN_ID] [--status STATUS] [--target TARGET] [--last N] [-o json|table]",
		"List runs, newest first, across experiments or in one. All pages are fetched unless --last is given.")
	f.String(&exp, "experiment-name", "e", "NAME", "", "only runs of this experiment")
	f.String(&parent, "parent", "", "RUN_ID", "", "only child runs of this run")
	f.alias(&parent, "parent-run-id")
	f.String(&status, "status", "", "STATUS", "", "only runs in this status (NotStarted, Queued, Preparing, Starting, Running, Finalizing, Completed, Failed, Canceled, CancelRequested)")
	f.String(&target, "target", "", "TARGET", "", "only runs on this compute target")
	f.Int(&last, "last", "N", 0, "only the newest N runs (0: all)")
	f.Output(&out)
	if err := f.Parse(args, c.stdout); err != nil {
		return err
	}
	if last < 0 {
		return f.usageErr("--last must not be negative")
	}
	api, err := c.client()
	if err != nil {
		return err
	}
	q := url.Values{}
	for k, v := range map[string]string{"experiment": exp, "parent": parent, "status": status, "target": target} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if last > 0 {
		q.Set("$top", strconv.Itoa(min(last, 1000)))
	}
	raws, err := api.listAll(c.ctx, runsPath, q, last)
	if err != nil {
		return err
	}
	if out == "json" {
		return printJSON(c.stdout, map[string]any{"value": raws})
	}
	runs := make([]runInfo, 0, len(raws))
	for _, raw := range raws {
		var r runInfo
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Errorf("the server's run list is not the JSON the CLI expects: %w", err)
		}
		runs = append(runs, r)
	}
	return printRunTable(c.stdout, runs, time.Now())
}

// listAll fetches the pages of a {"value":[…],"nextLink":…} list, at most
// limit items when limit > 0.
func (c *apiClient) listAll(ctx context.Context, path string, q url.Values, limit int) ([]json.RawMessage, error) {
	all := []json.RawMessage{}
	next := c.base.String() + path
	if len(q) > 0 {
		next += "?" + q.Encode()
	}
	for page := 0; next != "" && page < maxPages; page++ {
		resp, err := c.doURL(ctx, http.MethodGet, next, nil, nil)
		if err != nil {
			return nil, err
		}
		var body struct {
			Value    []json.RawMessage `json:"value"`
			NextLink string            `json:"nextLink"`
		}
		if err := resp.decode(&body); err != nil {
			return nil, err
		}
		all = append(all, body.Value...)
		if limit > 0 && len(all) >= limit {
			return all[:limit], nil
		}
		if next, err = c.nextPage(next, body.NextLink); err != nil {
			return nil, err
		}
	}
	return all, nil
}

// getRun fetches one run and checks its experiment when exp is given.
func (c *cli) getRun(api *apiClient, id, exp string) (*response, runInfo, error) {
	resp, err := api.do(c.ctx, http.MethodGet, runPath(id), nil, nil, nil)
	if err != nil {
		return nil, runInfo{}, err
	}
	var r runInfo
	if err := resp.decode(&r); err != nil {
		return nil, runInfo{}, err
	}
	if exp != "" && r.ExperimentName != "" && r.ExperimentName != exp {
		return nil, runInfo{}, fmt.Errorf("run %s belongs to experiment %q, not %q", id, r.ExperimentName, exp)
	}
	return resp, r, nil
}

// runArgs parses the flags of a verb that names one run (-r, -e, -o) and
// connects to the server.
func (c *cli) runArgs(args []string, name, help string) (api *apiClient, id, exp, out string, err error) {
	f := newFlagSet("trainyard run "+name, "-r RUN_ID [-o json|table]", help)
	runIDFlags(f, &id, &exp)
	f.Output(&out)
	if err = f.Parse(args, c.stdout); err != nil {
		return nil, "", "", "", err
	}
	if err = f.Require("run", id); err != nil {
		return nil, "", "", "", err
	}
	api, err = c.client()
	return api, id, exp, out, err
}

func (c *cli) runShow(args []string) error {
	api, id, exp, out, err := c.runArgs(args, "show",
		"Show one run: status (with its reason), target, script and arguments, times, snapshot and git information, the latest value of each metric, parameters, tags, and the error of a failed run.")
	if err != nil {
		return err
	}
	resp, r, err := c.getRun(api, id, exp)
	if err != nil {
		return err
	}
	if out == "json" {
		return printRaw(c.stdout, resp.body)
	}
	return printRunDetails(c.stdout, r, time.Now())
}

func (c *cli) runCancel(args []string) error {
	api, id, exp, out, err := c.runArgs(args, "cancel",
		"Cancel a run: it goes to CancelRequested, then Canceled once its processes are gone. Cancelling a run that has ended is an error.")
	if err != nil {
		return err
	}
	if exp != "" {
		if _, _, err := c.getRun(api, id, exp); err != nil {
			return err
		}
	}
	resp, err := api.do(c.ctx, http.MethodPost, runPath(id, "cancel"), nil, nil, nil)
	if err != nil {
		return err
	}
	if out == "json" && len(bytes.TrimSpace(resp.body)) > 0 {
		return printRaw(c.stdout, resp.body)
	}
	var r runInfo
	if len(bytes.TrimSpace(resp.body)) > 0 {
		_ = resp.decode(&r)
	}
	if r.Status == "" {
		r.Status = "CancelRequested"
	}
	fmt.Fprintf(c.stdout, "Cancel requested for %s (status %s).\n", id, r.Status)
	return nil
}

// Log polling: at once while the log grows, then backing off to logPollMax.
const (
	logPollMin = 200 * time.Millisecond
	logPollMax = 2 * time.Second
)

func (c *cli) runMonitorLogs(args []string) error {
	var id, exp string
	f := newFlagSet("trainyard run monitor-logs", "-r RUN_ID",
		"Print a run's log (its standard output and error) as the script writes it, and return when the run has ended. "+
			"Exits 0 when the run Completed and 1 when it Failed or was Canceled, with the reason on stderr.")
	runIDFlags(f, &id, &exp)
	if err := f.Parse(args, c.stdout); err != nil {
		return err
	}
	if err := f.Require("run", id); err != nil {
		return err
	}
	api, err := c.client()
	if err != nil {
		return err
	}
	if exp != "" {
		if _, _, err := c.getRun(api, id, exp); err != nil {
			return err
		}
	}
	var offset int64
	wait := logPollMin
	status := ""
	for {
		chunk, next, st, err := api.getLog(c.ctx, id, offset)
		if err != nil {
			return err
		}
		if len(chunk) > 0 {
			if _, err := c.stdout.Write(chunk); err != nil {
				return err
			}
			offset = next
			wait = logPollMin
			continue
		}
		offset = max(offset, next)
		if st == "" {
			_, r, err := c.getRun(api, id, "")
			if err != nil {
				return err
			}
			st = r.Status
		}
		if terminalStatus(st) {
			status = st
			break
		}
		select {
		case <-c.ctx.Done():
			return c.ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, logPollMax)
	}
	_, r, err := c.getRun(api, id, "")
	if err != nil {
		return err
	}
	if r.Status != "" {
		status = r.Status
	}
	switch status {
	case "Completed":
		fmt.Fprintf(c.stderr, "Run %s Completed.\n", id)
		return nil
	default:
		reason := r.Error
		if reason == "" {
			reason = r.StatusReason
		}
		if reason != "" {
			return fmt.Errorf("run %s %s: %s", id, status, reason)
		}
		return fmt.Errorf("run %s %s", id, status)
	}
}

// getLog reads the log of run id from offset: the bytes, the next offset
// and the run's status from the X-Log-Offset and X-Run-Status headers.
func (c *apiClient) getLog(ctx context.Context, id string, offset int64) ([]byte, int64, string, error) {
	target := c.base.String() + runPath(id, "logs") + "?" + url.Values{"offset": {strconv.FormatInt(offset, 10)}}.Encode()
	resp, data, err := c.raw(ctx, http.MethodGet, target, nil, "", -1, "text/plain")
	if err != nil {
		return nil, 0, "", err
	}
	next := offset + int64(len(data))
	if h := resp.Header.Get("X-Log-Offset"); h != "" {
		if n, err := strconv.ParseInt(h, 10, 64); err == nil && n >= offset {
			next = n
		}
	}
	return data, next, resp.Header.Get("X-Run-Status"), nil
}

// raw sends a request with a raw body (or none) and returns the response
// with its body read; a status of 400 or more becomes an *apiError. A
// client without the overall timeout is used for uploads, which may be long.
func (c *apiClient) raw(ctx context.Context, method, target string, body io.Reader, contentType string, length int64, accept string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, nil, err
	}
	if body != nil && length >= 0 {
		req.ContentLength = length
		if length == 0 {
			req.Body = http.NoBody
		}
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", "trainyard-cli")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	hc := c.hc
	if body != nil {
		hc = &http.Client{Transport: c.hc.Transport, CheckRedirect: c.hc.CheckRedirect}
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, fmt.Errorf("cannot reach the Trainyard server at %s (set TRAINYARD_URL): %w", c.base, unwrapURLError(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the server's answer: %w", err)
	}
	if resp.StatusCode >= 400 {
		return nil, nil, newAPIError(resp, data, c.token == "")
	}
	return resp, data, nil
}

// stderrTerminal reports whether stderr is a terminal (for progress output).
func (c *cli) stderrTerminal() bool {
	f, ok := c.stderr.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}
