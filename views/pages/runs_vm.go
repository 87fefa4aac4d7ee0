package pages

import (
	"github.com/trainyard/trainyard/views/components"
	"github.com/trainyard/trainyard/views/layout"
)

// RunsListVM is GET /runs: the filter bar and the live runs table.
type RunsListVM struct {
	Page    layout.Page
	Heading string
	Filter  RunsFilterVM
	Table   RunsTableVM
}

// RunsFilterVM is the filter bar of a runs list. Fields fixed by the page
// (the experiment on an experiment's page) are hidden.
type RunsFilterVM struct {
	Action      string // the list's path; the form GETs it
	Status      string
	Target      string
	Experiment  string
	SubmittedBy string
	Range       string
	Sort        string
	Desc        bool
	Statuses    []components.Option
	Targets     []components.Option
	Ranges      []components.Option
	Experiments []string // suggestions for the experiment box
	// Hidden carries what the page fixes (e.g. tab=runs on a compute page).
	Hidden         []HiddenVM
	HideExperiment bool
	HideTarget     bool
}

// RunsTableVM is one page of runs; htmx polls and swaps it whole.
type RunsTableVM struct {
	// TickSeconds > 0: the section shows a running clock ("for 12s", a
	// run's duration), so it also refreshes this often without a change.
	TickSeconds int
	Rows        []RunRowVM
	Total       int // -1 when not counted (filters that combine)
	From, To    int // 1-based positions of the rows shown
	// Filtered is true when a filter is set: an empty list then says that
	// nothing matches rather than that there are no runs.
	Filtered   bool
	EmptyText  string
	CanSubmit  bool
	SubmitHref string
	SelfURL    string // this page's URL, polled
	FirstURL   string
	PrevURL    string
	NextURL    string
	PushURL    bool // paging and sorting change the address bar (not when embedded)
	SortLinks  map[string]string
	SortMarks  map[string]string
	// Metrics names the metric columns (the most common on the page, at most three).
	Metrics []string
	// Chooser is the column chooser; the Hide fields are the columns it
	// turned off.
	Chooser                                                                ColumnChooserVM
	HideExperiment, HideTarget, HideSubmittedBy, HideCreated, HideDuration bool
	ShowExperiment                                                         bool
	ShowTarget                                                             bool
}

// RunRowVM is one run in a list.
type RunRowVM struct {
	ID             string
	Name           string // display name, or the ID
	Href           string
	Experiment     string
	ExperimentHref string
	Status         string
	StatusSince    string
	StatusReason   string
	Target         string
	TargetHref     string
	SubmittedBy    string
	Created        string
	Duration       string
	Metrics        []string // values of RunsTableVM.Metrics, "" when not logged
	Actions        []ActionVM
}

// ExperimentsVM is GET /experiments.
type ExperimentsVM struct {
	Page  layout.Page
	Table ExperimentsTableVM
}

// ExperimentsTableVM is the live experiments table.
type ExperimentsTableVM struct {
	Rows      []ExperimentRowVM
	Query     string
	Total     int
	All       int // experiments before the filter box
	From, To  int
	SelfURL   string
	PrevURL   string
	NextURL   string
	SortLinks map[string]string
	SortMarks map[string]string
	CanSubmit bool
}

// ExperimentRowVM is one experiment.
type ExperimentRowVM struct {
	Name    string
	Href    string
	Runs    string
	LastRun string
	Created string
}

// ExperimentVM is GET /experiments/{name}: its runs.
type ExperimentVM struct {
	Page       layout.Page
	Name       string
	Attributes []AttrVM
	Filter     RunsFilterVM
	Table      RunsTableVM
	CanSubmit  bool
	SubmitHref string
}

// RunVM is GET /runs/{runId}.
// RunParamsVM is the run's params and tags, a live section: a script logs
// them while it runs, and a late one must show without a reload.
type RunParamsVM struct {
	SelfURL              string
	Params               []AttrVM
	Tags                 []AttrVM
	HideParams, HideTags bool
}

type RunVM struct {
	Page        layout.Page
	ID          string
	Name        string
	Experiment  string
	ExpHref     string
	Live        RunLiveVM
	Metrics     RunMetricsVM
	Outputs     RunOutputsVM
	Log         LogTailVM
	Details     []AttrVM
	Params      RunParamsVM
	Git         []AttrVM
	Environment []AttrVM
	// EnvText is the recorded conda/pip dependencies; RunConfig the
	// submitted run configuration, indented JSON.
	EnvText   string
	RunConfig string
	Snapshot  SnapshotBrowserVM
	Children  *RunsTableVM
	Sweep     *SweepDashboardVM // a HyperDrive parent's sweep
	// A sweep parent has no process of its own, so the single-run parts it
	// has nothing in are left out rather than shown empty: the metric
	// charts, params, tags, the outputs list and the log box. A section
	// with all of its parts hidden is left out with its link.
	HideMetrics, HideOutputs, HideLog bool
	CanResubmit                       bool
	ResubmitPath                      string
}

// RunLiveVM is the part of the run page that follows the run's status.
type RunLiveVM struct {
	// TickSeconds > 0: the section shows a running clock ("for 12s", a
	// run's duration), so it also refreshes this often without a change.
	TickSeconds  int
	SelfURL      string
	Status       string
	StatusSince  string
	StatusReason string
	Error        string
	Timeline     components.TimelineLayout
	Events       []RunEventVM
	Times        []AttrVM // created, started, ended, duration
	CanCancel    bool
	CancelPath   string
	CancelAsk    string
}

// RunEventVM is one status change in words.
type RunEventVM struct {
	Status   string
	Time     string
	Lasted   string
	Reason   string
	DateTime string // machine-readable, for <time>
}

// RunMetricsVM is the live charts section.
type RunMetricsVM struct {
	SelfURL  string
	XKind    string // step or time
	StepHref string
	TimeHref string
	Charts   []components.ChartLayout
	Latest   []MetricRowVM
}

// MetricRowVM is the latest value of one metric.
type MetricRowVM struct {
	Name   string
	Value  string
	Step   string
	Points string
}

// RunOutputsVM is the live list of a run's files.
type RunOutputsVM struct {
	SelfURL string
	Files   []FileVM
	Ended   bool
}

// FileVM is a downloadable file.
type FileVM struct {
	Name string // the path shown
	Href string
	Size string
}

// LogTailVM is the live log section: the text so far and its poller.
type LogTailVM struct {
	Text     string
	Follow   components.LogFollow
	Download string // the collected std_log.txt, once there is one
}

// SnapshotBrowserVM is one folder of the run's snapshot.
type SnapshotBrowserVM struct {
	ID        string
	Summary   string
	Dir       string
	Crumbs    []LinkVM
	Dirs      []LinkVM
	Files     []FileVM
	Missing   bool // the snapshot is gone (or the run has none)
	FileCount int
}

// SubmitVM is GET/POST /runs/new: the ScriptRunConfig form.
type SubmitVM struct {
	Page       layout.Page
	Summary    string
	Action     string
	Source     SourceVM
	RunConfig  RunConfigFileVM
	Experiment components.Input
	// Experiments are suggestions for the experiment field.
	Experiments []string
	Arguments   components.Input
	// ArgumentsPreview is the argument list the Arguments box gives.
	ArgumentsPreview ArgumentsPreviewVM
	Target           components.Input
	EnvType          string // python, conda, docker
	EnvError         string
	Interpreter      components.Input
	Conda            components.Input
	Docker           components.Input
	EnvVars          components.Input
	NodeCount        components.Input
	MaxDuration      components.Input
	ScriptURL        string // the upload-progress script (static/js/runs.js)
	CancelHref       string
}

// SourceVM is the source part of the submit form; the upload swaps it.
type SourceVM struct {
	UploadURL  string
	SnapshotID string
	Summary    string   // "3 files, 1.2 KB" once uploaded
	Notes      []string // files left out and why
	Error      string
	Script     components.Input
}

// RunConfigFileVM is the optional .runconfig upload, carried across a
// failed submit as text.
type RunConfigFileVM struct {
	Name  string
	Text  string
	Error string
}

// showMetricsSection is whether the run page has a Metrics section: not
// when all of its parts are hidden (a sweep parent that logged nothing).
func showMetricsSection(vm RunVM) bool {
	return !vm.HideMetrics || !vm.Params.HideParams || !vm.Params.HideTags
}

// showOutputsSection is whether the run page has an Outputs + logs section.
func showOutputsSection(vm RunVM) bool { return !vm.HideOutputs || !vm.HideLog }

// runSectionLinks are the run page's section links, [id, label], for the
// sections it shows.
func runSectionLinks(vm RunVM) [][2]string {
	out := [][2]string{{"overview", "Overview"}}
	if showMetricsSection(vm) {
		out = append(out, [2]string{"metrics", "Metrics"})
	}
	if showOutputsSection(vm) {
		out = append(out, [2]string{"outputs", "Outputs + logs"})
	}
	return append(out, [2]string{"snapshot", "Snapshot"}, [2]string{"settings", "Settings"})
}

// ArgumentsPreviewVM is the argument list read from the Arguments box, or
// why it cannot be read.
type ArgumentsPreviewVM struct {
	Words []string
	Error string
}

// ColumnChooserVM is the runs list's column chooser: a GET form that keeps
// the list's filters (Hidden) and names the columns to show (col).
type ColumnChooserVM struct {
	Action  string
	Reset   string // the list with its default columns
	Hidden  []AttrVM
	Options []ChooserOptionVM
}

// ChooserOptionVM is one column of the chooser.
type ChooserOptionVM struct {
	Value, Label    string
	Metric, Checked bool
}
