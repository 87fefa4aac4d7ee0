package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/store"
	"github.com/trainyard/trainyard/views/components"
	"github.com/trainyard/trainyard/views/layout"
	"github.com/trainyard/trainyard/views/pages"
)

// maxPageLog is how much of a log the run page holds; past it the page
// stops appending and points to the download.
const maxPageLog = 4 << 20

// RunPage handles GET /runs/{runId}: the run page, or for htmx one of its
// live sections (HX-Target run-live, run-metrics or run-outputs).
func (h *Handlers) RunPage(w http.ResponseWriter, r *http.Request) error {
	run, err := h.cfg.Store.GetRun(r.Context(), chi.URLParam(r, "runId"))
	if err != nil {
		return err
	}
	xKind := components.XStep
	if r.URL.Query().Get("x") == components.XTime {
		xKind = components.XTime
	}
	if isHTMX(r) {
		switch r.Header.Get("HX-Target") {
		case "run-live":
			return h.render(w, r, http.StatusOK, pages.RunLive(h.runLiveVM(r, run)))
		case "run-metrics":
			m, err := h.runMetricsVM(r, run, xKind)
			if err != nil {
				return err
			}
			return h.render(w, r, http.StatusOK, pages.RunMetrics(m))
		case "run-params":
			p := runParamsVM(run)
			if isSweepParent(run) {
				p.HideParams, p.HideTags = len(p.Params) == 0, len(p.Tags) == 0
			}
			return h.render(w, r, http.StatusOK, pages.RunParams(p))
		case "run-outputs":
			o, err := h.runOutputsVM(r, run)
			if err != nil {
				return err
			}
			return h.render(w, r, http.StatusOK, pages.RunOutputs(o))
		case "sweep-dashboard":
			if isSweepParent(run) {
				d, err := h.sweepDashboardVM(r, run)
				if err != nil {
					return err
				}
				return h.render(w, r, http.StatusOK, pages.SweepDashboard(d))
			}
		}
	}
	vm, err := h.runVM(r, run, xKind)
	if err != nil {
		return err
	}
	return h.render(w, r, http.StatusOK, pages.Run(vm))
}

// runParamsVM is the run's params and tags section.
func runParamsVM(run *compute.Run) pages.RunParamsVM {
	return pages.RunParamsVM{SelfURL: runPath(run.ID), Params: sortedAttrs(run.Params), Tags: sortedAttrs(run.Tags)}
}

func runPath(id string) string { return "/runs/" + url.PathEscape(id) }

func (h *Handlers) runVM(r *http.Request, run *compute.Run, xKind string) (pages.RunVM, error) {
	ctx := r.Context()
	u := compute.UserFrom(ctx)
	vm := pages.RunVM{
		ID: run.ID, Name: runName(run), Experiment: run.ExperimentName, ExpHref: "/experiments/" + url.PathEscape(run.ExperimentName),
		Live: h.runLiveVM(r, run), Details: runDetails(run), Git: gitAttrs(run.Git),
		CanResubmit:  run.Kind == compute.RunKindScript && run.SnapshotID != "" && u.Can(compute.RoleDataScientist),
		ResubmitPath: runPath(run.ID) + "/resubmit",
	}
	var err error
	if vm.Metrics, err = h.runMetricsVM(r, run, xKind); err != nil {
		return vm, err
	}
	if vm.Outputs, err = h.runOutputsVM(r, run); err != nil {
		return vm, err
	}
	if vm.Log, err = h.runLogVM(r, run); err != nil {
		return vm, err
	}
	vm.Params = runParamsVM(run)
	vm.Environment, vm.EnvText = envAttrs(run)
	vm.RunConfig = indentJSON(run.RunConfiguration)
	if vm.Snapshot, err = h.snapshotBrowser(r, run); err != nil {
		return vm, err
	}
	ps := h.cfg.Store
	if isSweepParent(run) {
		// The sweep dashboard lists the children with their hyperparameters.
		d, err := h.sweepDashboardVM(r, run)
		if err != nil {
			return vm, err
		}
		vm.Sweep = &d
		// The parent only drives its children: what it would show as a
		// single run is empty, and the dashboard says it all.
		vm.HideMetrics = len(vm.Metrics.Latest) == 0
		vm.Params.HideParams, vm.Params.HideTags = len(vm.Params.Params) == 0, len(vm.Params.Tags) == 0
		vm.HideOutputs, vm.HideLog = len(vm.Outputs.Files) == 0, vm.Log.Text == "" && vm.Log.Download == ""
	} else if n, err := ps.CountRunsPage(ctx, store.RunPageQuery{Filter: compute.RunFilter{Parent: run.ID}}); err != nil {
		return vm, err
	} else if n > 0 {
		q := parseRunsQuery("/runs", url.Values{"parent": {run.ID}})
		children, err := h.runsTable(r, q)
		if err != nil {
			return vm, err
		}
		vm.Children = &children
	}
	crumbs := []layout.Crumb{{Label: "Experiments", Href: "/experiments"}, {Label: run.ExperimentName, Href: vm.ExpHref}}
	if run.ParentID != "" {
		crumbs = append(crumbs, layout.Crumb{Label: run.ParentID, Href: runPath(run.ParentID)})
	}
	vm.Page = h.live(h.page(r, runName(run), "runs", append(crumbs, layout.Crumb{Label: runName(run)})), Watch{Runs: []string{run.ID}})
	return vm, nil
}

// runLiveVM is the status section: badge, reason, error, times, timeline.
func (h *Handlers) runLiveVM(r *http.Request, run *compute.Run) pages.RunLiveVM {
	now := h.cfg.Now()
	u := compute.UserFrom(r.Context())
	vm := pages.RunLiveVM{SelfURL: runPath(run.ID), Status: string(run.Status), StatusReason: run.StatusReason}
	if !run.Status.Terminal() {
		vm.TickSeconds = 1
	}
	if run.Status == compute.RunFailed {
		vm.Error = run.Error
		if vm.Error == "" {
			vm.Error = run.StatusReason
		}
		if vm.StatusReason == vm.Error {
			vm.StatusReason = ""
		}
	}
	end := now
	if run.Status.Terminal() && !run.EndedAt.IsZero() {
		end = run.EndedAt
	}
	events := make([]components.TimelineEvent, 0, len(run.History))
	for i, ev := range run.History {
		events = append(events, components.TimelineEvent{Status: string(ev.Status), Time: ev.Time, Reason: ev.Reason})
		e := pages.RunEventVM{Status: string(ev.Status), Time: ev.Time.UTC().Format("2006-01-02 15:04:05 UTC"), Reason: ev.Reason,
			DateTime: ev.Time.UTC().Format(time.RFC3339Nano)}
		switch {
		case i+1 < len(run.History):
			e.Lasted = components.FormatDuration(run.History[i+1].Time.Sub(ev.Time))
		case !ev.Status.Terminal():
			e.Lasted = components.FormatDuration(now.Sub(ev.Time)) + " so far"
			vm.StatusSince = components.FormatDuration(now.Sub(ev.Time))
		}
		vm.Events = append(vm.Events, e)
	}
	vm.Timeline = components.Timeline{ID: "timeline", Events: events, End: end, Ended: run.Status.Terminal()}.Layout()
	vm.Times = append(vm.Times, pages.AttrVM{Label: "Submitted", Value: formatTime(run.CreatedAt)})
	if !run.StartedAt.IsZero() {
		vm.Times = append(vm.Times, pages.AttrVM{Label: "Started", Value: formatTime(run.StartedAt)})
	}
	if !run.EndedAt.IsZero() {
		vm.Times = append(vm.Times, pages.AttrVM{Label: "Ended", Value: formatTime(run.EndedAt)})
	}
	if d := runDuration(run, now); d != "" {
		vm.Times = append(vm.Times, pages.AttrVM{Label: "Duration", Value: d})
	}
	if run.Attempt > 1 {
		// Submitted again after a restart found its job gone.
		vm.Times = append(vm.Times, pages.AttrVM{Label: "Attempt", Value: strconv.Itoa(run.Attempt)})
	}
	if canCancel(u, run) {
		vm.CanCancel, vm.CancelPath, vm.CancelAsk = true, runPath(run.ID)+"/cancel", cancelQuestion(run)
	}
	return vm
}

// runDetails is the Overview's definition list.
func runDetails(run *compute.Run) []pages.AttrVM {
	maxDur := "No limit"
	if run.MaxRunDuration > 0 {
		maxDur = components.FormatDuration(run.MaxRunDuration) + " (" + strconv.FormatInt(int64(run.MaxRunDuration/time.Second), 10) + " s)"
	}
	a := []pages.AttrVM{
		{Label: "Run ID", Value: run.ID},
		{Label: "Experiment", Value: run.ExperimentName},
		{Label: "Compute target", Value: orDash(run.Target)},
		{Label: "Submitted by", Value: orDash(run.SubmittedBy)},
	}
	if run.Kind == compute.RunKindTracking {
		return append(a, pages.AttrVM{Label: "Run type", Value: "Tracking only (created over the MLflow API)"})
	}
	a = append(a,
		pages.AttrVM{Label: "Script", Value: run.Script},
		pages.AttrVM{Label: "Arguments", Value: orDash(argvText(run.Arguments))},
		pages.AttrVM{Label: "Node count", Value: strconv.Itoa(run.NodeCount)},
		pages.AttrVM{Label: "Max run duration", Value: maxDur},
	)
	if run.ParentID != "" {
		a = append(a, pages.AttrVM{Label: "Parent run", Value: run.ParentID})
	}
	return a
}

// argvText shows arguments as the script gets them: separate words, quoted
// when they hold spaces or quotes (they never pass through a shell).
func argvText(args []string) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\$`") {
			a = strconv.Quote(a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

func sortedAttrs(m map[string]string) []pages.AttrVM {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]pages.AttrVM, 0, len(keys))
	for _, k := range keys {
		out = append(out, pages.AttrVM{Label: k, Value: m[k]})
	}
	return out
}

func gitAttrs(g *compute.GitInfo) []pages.AttrVM {
	if g == nil {
		return nil
	}
	dirty := "No"
	if g.Dirty {
		dirty = "Yes: the run used files that were not committed"
	}
	return []pages.AttrVM{
		{Label: "Repository", Value: orDash(g.Repository)},
		{Label: "Branch", Value: orDash(g.Branch)},
		{Label: "Commit", Value: orDash(g.Commit)},
		{Label: "Uncommitted changes", Value: dirty},
	}
}

// envAttrs describes the run's recorded environment, and returns the conda
// or pip dependencies as text.
func envAttrs(run *compute.Run) ([]pages.AttrVM, string) {
	e := run.Environment
	var a []pages.AttrVM
	switch {
	case e.DockerEnabled:
		a = append(a, pages.AttrVM{Label: "Environment", Value: "Docker image (recorded; the script ran with the target's python3)"},
			pages.AttrVM{Label: "Docker image", Value: orDash(e.DockerBaseImage)})
	case len(e.CondaDependencies) > 0 && !e.UserManagedDependencies:
		a = append(a, pages.AttrVM{Label: "Environment", Value: "Conda or pip dependencies (recorded; the script ran with the target's python3)"})
	default:
		interp := e.InterpreterPath
		if interp == "" {
			interp = "python3 (the target's)"
		}
		a = append(a, pages.AttrVM{Label: "Environment", Value: "User-managed Python"}, pages.AttrVM{Label: "Interpreter", Value: interp})
	}
	for _, kv := range sortedAttrs(e.Variables) {
		a = append(a, pages.AttrVM{Label: "Variable " + kv.Label, Value: kv.Value})
	}
	text := ""
	if len(e.CondaDependencies) > 0 {
		var s string
		if json.Unmarshal(e.CondaDependencies, &s) == nil {
			text = s
		} else {
			text = indentJSON(e.CondaDependencies)
		}
	}
	return a, text
}

func indentJSON(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") != nil {
		return string(b)
	}
	return out.String()
}

// runMetricsVM draws one chart per metric over steps or time.
func (h *Handlers) runMetricsVM(r *http.Request, run *compute.Run, xKind string) (pages.RunMetricsVM, error) {
	ps := h.cfg.Store
	hist, err := ps.MetricHistories(r.Context(), run.ID)
	if err != nil {
		return pages.RunMetricsVM{}, err
	}
	base := runPath(run.ID)
	vm := pages.RunMetricsVM{SelfURL: base, XKind: xKind, StepHref: base + "#metrics", TimeHref: base + "?x=time#metrics"}
	if xKind == components.XTime {
		vm.SelfURL = base + "?x=time"
	}
	names := make([]string, 0, len(hist))
	for k := range hist {
		names = append(names, k)
	}
	slices.Sort(names)
	for i, name := range names {
		points := hist[name]
		if len(points) == 0 {
			continue
		}
		series := components.ChartSeries{Name: name}
		first := points[0].Time
		for _, p := range points {
			if p.Time.Before(first) {
				first = p.Time
			}
		}
		for _, p := range points {
			cp := components.ChartPoint{X: float64(p.Step), Y: p.Value, Note: p.Time.UTC().Format("15:04:05 UTC")}
			if xKind == components.XTime {
				cp.X, cp.Note = p.Time.Sub(first).Seconds(), "step "+strconv.FormatInt(p.Step, 10)
			}
			series.Points = append(series.Points, cp)
		}
		vm.Charts = append(vm.Charts, components.LineChart{ID: "metric-" + strconv.Itoa(i), Title: name, XKind: xKind, YLabel: name,
			Series: []components.ChartSeries{series}}.Layout())
		last := points[len(points)-1]
		vm.Latest = append(vm.Latest, pages.MetricRowVM{Name: name, Value: components.FormatValue(last.Value),
			Step: strconv.FormatInt(last.Step, 10), Points: thousands(len(points))})
	}
	return vm, nil
}

// runOutputsVM lists the run's files with download links.
func (h *Handlers) runOutputsVM(r *http.Request, run *compute.Run) (pages.RunOutputsVM, error) {
	files, err := h.cfg.Store.ListRunOutputs(r.Context(), run.ID)
	if err != nil {
		return pages.RunOutputsVM{}, err
	}
	vm := pages.RunOutputsVM{SelfURL: runPath(run.ID), Ended: run.Status.Terminal()}
	for _, f := range files {
		vm.Files = append(vm.Files, pages.FileVM{Name: f.Path, Href: runPath(run.ID) + "/outputs/" + escapePath(f.Path), Size: components.FormatBytes(f.Size)})
	}
	return vm, nil
}

// runLogVM is the log as far as it is written, and its follower.
func (h *Handlers) runLogVM(r *http.Request, run *compute.Run) (pages.LogTailVM, error) {
	data, err := h.readRunLog(r.Context(), run, 0)
	if err != nil {
		return pages.LogTailVM{}, err
	}
	text, n := logText(data, run.Status.Terminal())
	vm := pages.LogTailVM{Text: text, Follow: h.logFollow(run, n, len(data))}
	if _, found, err := h.cfg.Store.ReadRunLog(r.Context(), run.ID, 0, 0); err == nil && found {
		vm.Download = runPath(run.ID) + "/outputs/user_logs/std_log.txt"
	}
	return vm, nil
}

// logFollow is the log's poller after a read that ended at offset and
// returned got bytes: it goes on while the run may still write, or while
// the last read was a full chunk.
func (h *Handlers) logFollow(run *compute.Run, offset int64, got int) components.LogFollow {
	switch {
	case offset >= maxPageLog:
		return components.LogFollow{Message: fmt.Sprintf("The log is longer than %s: the page shows its start. Download it, or follow it with trainyard run monitor-logs -r %s.", components.FormatBytes(maxPageLog), run.ID)}
	case run.Status.Terminal() && got < maxLogChunk:
		if offset == 0 {
			return components.LogFollow{Message: "The run wrote nothing to its log."}
		}
		return components.LogFollow{Message: "Log complete: " + components.FormatBytes(offset) + "."}
	}
	return components.LogFollow{Active: true, URL: runPath(run.ID) + "/log?offset=" + strconv.FormatInt(offset, 10), Message: "Following the log…"}
}

// logText turns log bytes into text: an incomplete UTF-8 sequence at the
// end waits for the next read (unless the log is complete), and invalid
// bytes become U+FFFD. n is how many bytes the text stands for.
func logText(b []byte, complete bool) (string, int64) {
	n := len(b)
	if !complete {
		// Back up over at most 3 bytes of a rune that the next read finishes.
		for i := 1; i <= 3 && i <= len(b); i++ {
			c := b[len(b)-i]
			if c < 0x80 {
				break
			}
			if utf8.RuneStart(c) {
				if !utf8.FullRune(b[len(b)-i:]) {
					n = len(b) - i
				}
				break
			}
		}
	}
	return strings.ToValidUTF8(string(b[:n]), "\uFFFD"), int64(n)
}

// RunLog handles GET /runs/{runId}/log?offset=N for the run page's log
// follower: the new text (appended by htmx) and the follower for what
// comes next, out of band. Nothing new while the run goes on is a 204.
func (h *Handlers) RunLog(w http.ResponseWriter, r *http.Request) error {
	offset, err := parseOffset(r.URL.Query().Get("offset"))
	if err != nil {
		return err
	}
	// The status is read before the log: a terminal status and an empty
	// read mean the whole log was shown.
	run, err := h.cfg.Store.GetRun(r.Context(), chi.URLParam(r, "runId"))
	if err != nil {
		return err
	}
	data, err := h.readRunLog(r.Context(), run, offset)
	if err != nil {
		return err
	}
	text, n := logText(data, run.Status.Terminal())
	if n == 0 && !run.Status.Terminal() && offset < maxPageLog {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return h.render(w, r, http.StatusOK, components.LogChunk("run-log", text, h.logFollow(run, offset+n, len(data))))
}

// RunOutputFile handles GET /runs/{runId}/outputs/{path}: one output file.
func (h *Handlers) RunOutputFile(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "runId")
	p := wildcardPath(r, runPath(id)+"/outputs/")
	f, err := h.cfg.Store.OpenRunOutput(r.Context(), id, p)
	if err != nil {
		return err
	}
	defer f.Close()
	serveFile(w, r, f, p)
	return nil
}

// RunSnapshotFile handles GET /runs/{runId}/snapshot/{path}: one file of
// the run's snapshot.
func (h *Handlers) RunSnapshotFile(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "runId")
	run, err := h.cfg.Store.GetRun(r.Context(), id)
	if err != nil {
		return err
	}
	if run.SnapshotID == "" {
		return compute.NotFoundf("path", "Run '%s' has no snapshot.", id)
	}
	p := wildcardPath(r, runPath(id)+"/snapshot/")
	f, _, err := h.cfg.Store.OpenSnapshotFile(r.Context(), run.SnapshotID, p)
	if err != nil {
		return err
	}
	defer f.Close()
	serveFile(w, r, f, p)
	return nil
}

// snapshotBrowser lists one folder (?dir=) of the run's snapshot.
func (h *Handlers) snapshotBrowser(r *http.Request, run *compute.Run) (pages.SnapshotBrowserVM, error) {
	if run.SnapshotID == "" {
		return pages.SnapshotBrowserVM{Missing: true}, nil
	}
	snap, err := h.cfg.Store.GetSnapshot(r.Context(), run.SnapshotID)
	if errors.Is(err, compute.ErrNotFound) {
		return pages.SnapshotBrowserVM{Missing: true}, nil
	} else if err != nil {
		return pages.SnapshotBrowserVM{}, err
	}
	dir := strings.Trim(r.URL.Query().Get("dir"), "/")
	if dir != "" && (path.Clean(dir) != dir || strings.HasPrefix(dir, "..")) {
		dir = ""
	}
	base := runPath(run.ID)
	vm := pages.SnapshotBrowserVM{ID: snap.ID, Dir: dir, FileCount: snap.FileCount,
		Summary: fmt.Sprintf("%s files, %s, snapshot %s", thousands(snap.FileCount), components.FormatBytes(snap.TotalBytes), snap.ID)}
	dirHref := func(d string) string {
		if d == "" {
			return base + "#snapshot"
		}
		return base + "?dir=" + url.QueryEscape(d) + "#snapshot"
	}
	vm.Crumbs = []pages.LinkVM{{Label: "(root)", Href: dirHref("")}}
	if dir != "" {
		acc := ""
		for _, el := range strings.Split(dir, "/") {
			acc = path.Join(acc, el)
			vm.Crumbs = append(vm.Crumbs, pages.LinkVM{Label: el, Href: dirHref(acc)})
		}
	}
	vm.Crumbs[len(vm.Crumbs)-1].Href = ""
	prefix := ""
	if dir != "" {
		prefix = dir + "/"
	}
	seen := map[string]bool{}
	for _, f := range snap.Files {
		rest, ok := strings.CutPrefix(f.Path, prefix)
		if !ok {
			continue
		}
		if sub, _, isDir := strings.Cut(rest, "/"); isDir {
			if !seen[sub] {
				seen[sub] = true
				vm.Dirs = append(vm.Dirs, pages.LinkVM{Label: sub, Href: dirHref(prefix + sub)})
			}
			continue
		}
		vm.Files = append(vm.Files, pages.FileVM{Name: rest, Href: base + "/snapshot/" + escapePath(f.Path), Size: components.FormatBytes(f.Size)})
	}
	return vm, nil
}

// escapePath escapes each element of a slash-separated path for a URL.
func escapePath(p string) string {
	els := strings.Split(p, "/")
	for i, el := range els {
		els[i] = url.PathEscape(el)
	}
	return strings.Join(els, "/")
}
