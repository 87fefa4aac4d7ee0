package compute

// TargetFilter narrows and orders a list of targets.
type TargetFilter struct {
	Kinds  []Kind // empty = all kinds
	Search string // case-insensitive substring of the name, VM size or kind
	// Sort is a column: name (default), state, vmSize, created, kind.
	Sort   string
	Desc   bool
	Offset int
	Limit  int // 0 = no limit
	// Unsettled keeps only targets whose provisioning or instance state is
	// transitional (what the controller must move on).
	Unsettled bool
}

// KindsForTab returns the kinds listed under a Compute page tab.
func KindsForTab(tab string) []Kind {
	var out []Kind
	for _, k := range Kinds() {
		if k.Tab() == tab {
			out = append(out, k)
		}
	}
	return out
}
