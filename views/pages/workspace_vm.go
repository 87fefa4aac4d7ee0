package pages

import "github.com/trainyard/trainyard/views/layout"

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
