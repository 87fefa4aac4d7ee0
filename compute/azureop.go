package compute

import "time"

// PendingOperation is a long-running operation on a registered
// workspace's compute that the server is following (issue 15): kept in
// the store so that a restarted server follows it again to the end.
type PendingOperation struct {
	Workspace string // the workspace's alias
	Compute   string
	// Kind is what was begun: create, delete, start, stop, restart or update.
	Kind string
	// ResumeToken is the Azure SDK poller's state (runtime.Poller.ResumeToken):
	// the URLs ARM gave to follow the operation; it holds no secret.
	ResumeToken string
	UserID      string // who began it; "" when not known
	StartedAt   time.Time
}
