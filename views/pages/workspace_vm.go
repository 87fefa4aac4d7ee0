package pages

import "github.com/trainyard/trainyard/views/layout"

// WorkspaceComputeListVM is the Compute page of a registered Azure ML
// workspace: the switcher, the four tabs, what ARM last said and when.
type WorkspaceComputeListVM struct {
	Page      layout.Page
	Alias     string
	Switcher  []TabVM
	Tabs      []TabVM
	Table     ComputeTableVM
	AsOf      string // "12:04:31" (UTC), when the list was last read from ARM
	Error     string // why the last read failed, verbatim
	RefreshTo string // the Refresh button's URL
}

// WorkspaceComputeDetailsVM is a compute of an Azure ML workspace.
type WorkspaceComputeDetailsVM struct {
	Page       layout.Page
	Alias      string
	Name       string
	KindLabel  string
	Switcher   []TabVM
	Tabs       []TabVM
	Tab        string
	Actions    []ActionVM
	Live       WorkspaceLiveVM
	Nodes      []NodeRowVM
	NodesError string
	// Price is the Admin's price-per-node-hour form (nil otherwise).
	Price *PriceFormVM
}

// WorkspaceLiveVM is the polled part of a workspace compute's page: its
// state as ARM last said, and the errors ARM gave, verbatim.
type WorkspaceLiveVM struct {
	SelfURL     string
	PollSeconds int
	State       string
	AsOf        string
	Errors      []string
	OpError     string
	// Attributes are the Details list (the Details tab only); they are
	// polled with the state, so a create's fields follow ARM too.
	Attributes []AttrVM
}
