package handlers

import "net/http"

// audit records who did what to which object, and whether it was allowed.
// err is nil for a successful action. It never records secrets: callers pass
// only verbs and object names. (Stub until the audit log is stored.)
func (h *Handlers) audit(r *http.Request, action, object string, err error) {
	_ = r
	_ = action
	_ = object
	_ = err
}
