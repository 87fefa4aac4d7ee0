package pages

import (
	"github.com/trainyard/trainyard/views/components"
	"github.com/trainyard/trainyard/views/layout"
)

// FormVM is a create wizard or an attach form. With Steps it is a numbered
// wizard whose current step's fields are shown and whose other values travel
// as hidden inputs (secrets never do: they wait server-side under DraftID).
type FormVM struct {
	Page       layout.Page
	Heading    string
	Intro      string
	Action     string
	Steps      []string
	Step       int // index into Steps
	Fields     []components.Input
	SizePicker *SizePickerVM
	Review     []AttrVM
	Hidden     []HiddenVM
	DraftID    string
	Summary    string // error summary at the top of the form
	CancelHref string
	// KindChoices, when set, shows the attach type picker (links).
	KindChoices []TabVM
	// Quota, on the review step of a wizard for an Azure ML workspace, is
	// what Azure says of the chosen size before anything is created.
	Quota *QuotaVM
}

// QuotaVM is the quota panel of a wizard: usage and limits, a warning when
// the request would exceed one, or why they could not be read.
type QuotaVM struct {
	Lines   []AttrVM
	Warning string
	Error   string
}

// HiddenVM is a value carried from another wizard step.
type HiddenVM struct {
	Name  string
	Value string
}

// SizePickerVM is the VM size table with one radio per size.
type SizePickerVM struct {
	Selected string
	Priority string
	Error    string
	Rows     []SizeRowVM
	// Machine is this machine's capacity ("2 vCPUs, 23.4 GB"), when the
	// nodes run here; "" for a remote workspace.
	Machine string
}

// SizeRowVM is one VM size with its price estimate for the chosen tier.
type SizeRowVM struct {
	Name     string
	Category string
	VCPUs    int
	MemoryGB string
	GPUs     string
	Price    string
	// Share is how much of this machine a node of the size takes ("1 of
	// 2 vCPUs · 15 % of memory"); TooBig marks a size larger than the
	// machine (a node then gets the whole machine, not the size).
	Share  string
	TooBig bool
	// Search is the text the size search matches (name, category, GPU).
	Search string
}

// IsLastStep reports whether the form shows its final (Create) step.
func (f FormVM) IsLastStep() bool { return len(f.Steps) == 0 || f.Step == len(f.Steps)-1 }
