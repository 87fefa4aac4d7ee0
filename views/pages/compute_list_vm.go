// Package pages holds one templ component per full-page route, each taking
// its own view model built by a handler.
package pages

import (
	"github.com/trainyard/trainyard/views/components"
	"github.com/trainyard/trainyard/views/layout"
)

// ComputeListVM is the Compute page: its tabs and the current tab's table.
type ComputeListVM struct {
	Page  layout.Page
	Tabs  []TabVM
	Table ComputeTableVM
	// Switcher is the workspace switcher: local and each registered Azure
	// ML workspace (shown when there is any).
	Switcher []TabVM
	// Bulk shows the command bar over checked rows (the local workspace).
	Bulk bool
	// Azure is set on a registered Azure ML workspace's page: when ARM
	// was last read and how to read it again (nil: the local workspace).
	Azure *AzureReadVM
}

// AzureReadVM says how fresh an Azure workspace's list is.
type AzureReadVM struct {
	AsOf      string // "12:04:31" (UTC), when the list was last read from ARM
	Error     string // why the last read failed, verbatim
	RefreshTo string // the Refresh button's URL
}

// TabVM is one tab of a tab strip.
type TabVM struct {
	ID      string
	Label   string
	Href    string
	Count   int
	Current bool
}

// ComputeTableVM is the list of one tab; it is also the live partial.
type ComputeTableVM struct {
	// TickSeconds > 0: the section shows a running clock ("for 12s", a
	// run's duration), so it also refreshes this often without a change.
	TickSeconds int
	Tab         string
	Query       string
	Sort        string
	Desc        bool
	Offset      int
	Limit       int
	Total       int
	Rows        []ComputeRowVM
	CanCreate   bool
	NewActions  []LinkVM
	EmptyText   string
	SelfURL     string // this table's URL with its query, for polling
	PrevURL     string
	NextURL     string
	SortLinks   map[string]string // column → URL that sorts by it
	SortMarks   map[string]string // column → "ascending"/"descending"/"none" for aria-sort
	Unsettled   bool              // some row is transitional: poll faster
	// Selectable rows have a checkbox for the command bar (the local
	// workspace; an Azure workspace's list has no command bar yet).
	Selectable bool
}

// ComputeRowVM is one target in the list.
type ComputeRowVM struct {
	Name       string
	Href       string
	KindLabel  string
	State      string
	StateSince string
	VMSize     string
	Tier       string
	Allocation string // a cluster's allocation state: Steady, Resizing
	Nodes      string // current / min / max
	Counts     string // idle 1 · running 0 · …
	Address    string
	CreatedBy  string
	CreatedOn  string
	LastOp     string
	Checked    bool // selected for the command bar (kept across live refreshes)
	// Apps are an instance's applications (the Applications column).
	Apps    []components.AppVM
	Actions []ActionVM
}

// ActionVM is a row or command-bar action that changes state (a POST).
type ActionVM struct {
	Label   string
	Path    string
	Confirm string // asked before destructive actions; names what is lost
	Danger  bool
}

// LinkVM is a plain navigation link (e.g. + New).
type LinkVM struct {
	Label string
	Href  string
}

// TableColumns returns the columns a tab shows (docs/design/studio-compute.md §1.3).
func TableColumns(tab string) []Column {
	switch tab {
	case "instances":
		return []Column{{"name", "Name"}, {"state", "State"}, {"vmSize", "Size"}, {"", "Created by"}, {"created", "Created on"}, {"", "Last operation"}, {"", "Applications"}}
	case "clusters":
		return []Column{{"name", "Name"}, {"state", "Provisioning state"}, {"", "Allocation state"}, {"vmSize", "Size"}, {"", "Tier"}, {"", "Nodes (cur / min / max)"}, {"", "Node states"}, {"", "Created by"}, {"created", "Created on"}}
	case "slurm":
		return []Column{{"name", "Name"}, {"state", "Provisioning state"}, {"", "slurmrestd"}, {"", "Nodes"}, {"", "Node states"}, {"", "Created by"}, {"created", "Created on"}}
	}
	return []Column{{"name", "Name"}, {"kind", "Type"}, {"state", "Provisioning state"}, {"", "Address / resource"}, {"", "Created by"}, {"created", "Created on"}}
}

// Column is a table header; Key is empty when it cannot be sorted.
type Column struct {
	Key   string
	Label string
}

// BulkVM is the command bar's answer over a selection: a confirmation (no
// Results yet), or each compute's outcome.
type BulkVM struct {
	Action, Label, Tab string
	Names              []string
	Loss               string // what the command loses, said once before it runs
	Error              string
	Results            []BulkResultVM
}

// BulkResultVM is one compute's outcome of a command over a selection.
type BulkResultVM struct {
	Name  string
	Error string // "" when the command was accepted
}

// bulkCommands are the command bar's buttons of a tab.
func bulkCommands(tab string) []string {
	switch tab {
	case "instances":
		return []string{"Start", "Stop", "Restart", "Delete"}
	case "clusters":
		return []string{"Delete"}
	}
	return []string{"Detach"}
}
