package pages

import (
	"github.com/trainyard/trainyard/views/components"
	"github.com/trainyard/trainyard/views/layout"
)

// ComputeDetailsVM is GET /computes/{name}.
type ComputeDetailsVM struct {
	Page      layout.Page
	Name      string
	KindLabel string
	Tab       string // details, nodes, runs, monitoring
	Tabs      []TabVM
	Live      ComputeLiveVM
	// Runs is the Runs tab: the target's runs, live.
	Runs *RunsTableVM
	// Partitions is a Slurm cluster's Partitions section (nil for other kinds).
	Partitions *PartitionsVM
	// Scale is the Scale settings section of a Slurm partition of
	// power-saving nodes (nil otherwise).
	Scale *ScaleVM
	// Secrets is the write-only form that replaces an SSH target's
	// credentials; nil when the viewer may not, or the kind has none.
	Secrets *SecretsFormVM
	// Price is the Admin's price-per-node-hour form (nil otherwise).
	Price *PriceFormVM
}

// PriceFormVM is the form an Admin sets a target's price per node-hour
// with, for targets the size catalogue cannot price (attached machines,
// Slurm clusters); shown on local and workspace details pages alike.
type PriceFormVM struct {
	Action string // POST URL
	Value  string // the price in force, in US dollars
}

// SecretsFormVM is the "Replace credentials" form of an SSH target. It never
// carries a stored value: only which secrets are set.
type SecretsFormVM struct {
	Action string // POST URL
	Set    string // names of the secrets stored now, e.g. "password, privateKey"
	Error  string // why the last attempt was refused
}

// AttrVM is one row of the Details definition list.
type AttrVM struct {
	Label string
	Value string
}

// ComputeLiveVM is the part of the details page that updates by itself.
type ComputeLiveVM struct {
	// TickSeconds > 0: the section shows a running clock ("for 12s", a
	// run's duration), so it also refreshes this often without a change.
	TickSeconds int
	Name        string
	Tab         string
	State       string // provisioning state
	StateSince  string
	// StateLabel names State as Studio does: "State" on an instance,
	// "Provisioning state" elsewhere. State, Health and NextStep come from
	// compute.StoryOf, as the list, the API and the CLI show them.
	StateLabel string
	Health     string // attached kinds: Usable, Unusable, Not checked yet
	NextStep   string
	Errors     []string
	NodesText  string
	Counts     string
	Unchecked  string // for attached targets not yet connected to: what that means
	// Unusable is the last error of an attached machine that does not answer.
	Unusable string
	// PendingHostKey is the SSH host key fingerprint waiting for approval;
	// ApproveURL is set when the viewer may approve it.
	PendingHostKey string
	ApproveURL     string
	Nodes          []NodeRowVM
	SelfURL        string
	ShowNodes      bool
	ConnectString  string
	// Actions are the commands the viewer may give now (ComputeActions);
	// Attributes the Details tab's list (nil on other tabs).
	Actions    []ActionVM
	Attributes []AttrVM
	// Monitoring is the Monitoring tab's chart; it lives in this section
	// so that it follows the target's changes.
	Monitoring *MonitoringVM
	// Apps are a compute instance's applications (nil for other kinds);
	// they live here so they grey out and come back with the state.
	Apps []components.AppVM
	// SSHCommand is the exact command that opens a shell on the instance;
	// SSHUnavailable says why there is none although SSH was asked for.
	SSHCommand     string
	SSHUnavailable string
	// Scripts are an instance's setup scripts with the end of their last
	// output; StartupWarning says the last startup script failed.
	Scripts        []ScriptVM
	StartupWarning string
	// StopReason says when and why the instance stopped by itself.
	StopReason string
}

// ScriptVM is one setup script of an instance on its details page.
type ScriptVM struct {
	Name string // "Creation script", "Startup script"
	Log  string // "" when it has not run yet
}

// NodeRowVM is one row of the Nodes tab (AmlComputeNodeInformation).
//
// Every kind fills the same columns: Node, State, Reason, Address, CPUs,
// Memory, GPUs, Run (empty cells show a dash).
type NodeRowVM struct {
	ID         string
	State      string
	Since      string
	PrivateIP  string
	PublicIP   string
	Port       string
	Address    string // "host:port" or an IP, as the node is reached
	CPUs       string
	Memory     string
	GPUs       string
	RunID      string
	RunURL     string
	Connection string // e.g. ssh -p 22 azureuser@10.0.0.4
	Reason     string
}

// dash shows an empty cell as an en dash.
func dash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
