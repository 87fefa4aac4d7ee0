package compute

// ScaleSettings are a cluster's autoscale bounds, as Azure ML names them
// (scaleSettings: minNodeCount, maxNodeCount, nodeIdleTimeBeforeScaleDown).
type ScaleSettings struct {
	MinNodes    int
	MaxNodes    int
	IdleSeconds int
}

// PowerStatus is what a scheduler-backed target says about its power-saving
// nodes: the settings in force and how many nodes are in each power state.
type PowerStatus struct {
	// CloudNodes is how many power-saving nodes the partition defines (the
	// most MaxNodes can be); 0 means the partition has none and nothing
	// below applies.
	CloudNodes int
	Settings   ScaleSettings
	// Editable is true when this server can change Settings; Why says why
	// not otherwise (e.g. no slurm.conf given at attach time).
	Editable bool
	Why      string
	// The nodes by power state. Busy nodes are powered up and have a job;
	// Excluded are the nodes held back because they are above MaxNodes.
	PoweredUp, PoweringUp, PoweredDown, PoweringDown, Busy, Excluded int
}

// FieldScaleSettings names the scale settings as a whole in errors that are
// about none of their fields (e.g. a partition without CLOUD nodes).
const FieldScaleSettings = "scaleSettings"
