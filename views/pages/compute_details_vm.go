package pages

import "github.com/trainyard/trainyard/views/layout"

// ComputeDetailsVM is GET /computes/{name}.
type ComputeDetailsVM struct {
	Page       layout.Page
	Name       string
	KindLabel  string
	Tab        string // details, nodes, runs
	Tabs       []TabVM
	Live       ComputeLiveVM
	Attributes []AttrVM
	Actions    []ActionVM
	// Runs is the Runs tab: the target's runs, live.
	Runs *RunsTableVM
}

// AttrVM is one row of the Details definition list.
type AttrVM struct {
	Label string
	Value string
}

// ComputeLiveVM is the part of the details page that updates by itself.
type ComputeLiveVM struct {
	Name       string
	Tab        string
	State      string // provisioning state
	StateSince string
	PowerState string // instance state, "" for other kinds
	Errors     []string
	NodesText  string
	Counts     string
	Unchecked  string // for attached targets not yet connected to: what that means
	// PendingHostKey is the SSH host key fingerprint waiting for approval;
	// ApproveURL is set when the viewer may approve it.
	PendingHostKey string
	ApproveURL     string
	Nodes          []NodeRowVM
	SelfURL        string
	PollSeconds    int
	ShowNodes      bool
	ConnectString  string
}

// NodeRowVM is one row of the Nodes tab (AmlComputeNodeInformation).
type NodeRowVM struct {
	ID         string
	State      string
	Since      string
	PrivateIP  string
	PublicIP   string
	Port       string
	RunID      string
	Connection string
	Reason     string
}
