package pages

import "github.com/trainyard/trainyard/views/components"

// SweepDashboardVM is the sweep part of a HyperDrive parent's run page:
// its definition, progress, children and charts. It polls itself while
// the sweep runs and stops when it has ended.
type SweepDashboardVM struct {
	RunID   string
	SelfURL string // this view (with its sort), polled
	Ended   bool

	Definition []AttrVM
	Space      []SweepParamVM

	Progress     components.SweepProgress
	ProgressText string // "6 of 20 runs finished"
	Counts       []components.SweepSegment

	BestID, BestHref, BestValue, BestParams string

	MetricChart components.SweepMetricLayout
	Parallel    components.ParallelLayout
	Children    SweepChildrenVM

	CanCancel  bool
	CancelPath string
	CancelAsk  string
}

// SweepParamVM is one row of the search space.
type SweepParamVM struct {
	Name       string
	Expression string
	Values     string
}

// SweepChildrenVM is the sortable table of children.
type SweepChildrenVM struct {
	Params []string // one column per hyperparameter, in the space's order
	Metric string
	Goal   string // Maximize or Minimize
	Rows   []SweepChildRowVM
	// Total is how many children there are; AllURL, when the table shows
	// only the first rows, is the view with all of them.
	Total  int
	AllURL string
	Sort   SweepSortVM
}

// SweepSortVM holds each sortable column's link and its aria-sort state.
type SweepSortVM struct {
	Links map[string]string // sort key → URL
	Marks map[string]string // sort key → ascending, descending or none
	// ParamKeys are the sort keys of the hyperparameter columns, by index.
	ParamKeys []string
}

// SweepChildRowVM is one child.
type SweepChildRowVM struct {
	ID           string
	Href         string
	Status       string
	StatusSince  string
	StatusReason string
	Values       []string // SweepChildrenVM.Params' values
	Metric       string   // its best primary metric value, "" when none
	Duration     string
	Best         bool
}

// HyperdriveFormVM is GET/POST /runs/new/hyperdrive: the script form's
// source, run and environment fields plus the sweep definition.
type HyperdriveFormVM struct {
	Run   SubmitVM
	Sweep SweepDefinitionVM
}

// SweepDefinitionVM is the sweep part of the HyperDrive form. It is
// validated live: the form posts it on every change and swaps it whole
// with the answer (errors under their fields, warnings below).
type SweepDefinitionVM struct {
	ValidateURL    string
	Params         []SweepParamRowVM
	ParamsError    string
	Sampling       components.Input
	Seed           components.Input
	Policy         components.Input
	SlackKind      components.Input
	Slack          components.Input
	Interval       components.Input
	Delay          components.Input
	Truncation     components.Input
	Metric         components.Input
	Goal           components.Input
	MaxTotal       components.Input
	MaxParallel    components.Input
	MaxMinutes     components.Input
	Warnings       []string
	ShowSeed       bool
	ShowBandit     bool
	ShowInterval   bool
	ShowTruncation bool
}

// SweepParamRowVM is one row of the search space.
type SweepParamRowVM struct {
	Name        components.Input
	Expression  components.Input
	Values      components.Input
	RemoveValue string // the Remove button's action value
	CanRemove   bool
	Label       string // "Parameter 1"
}
