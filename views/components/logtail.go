package components

import "github.com/a-h/templ"

// LogFollow is the poller of a live log: while Active it GETs URL (which
// carries the next byte offset) every second and appends what it gets to
// the log's text; the answer replaces the poller with one for the new
// offset. Message says where the log stands ("Following…", "Log complete").
type LogFollow struct {
	Active  bool
	URL     string
	Message string
}

// followAttrs are the poller's attributes: while active it GETs its URL
// every second and appends the answer to the log (scrolled to the end);
// oob marks it for htmx's out-of-band swap in a poll's answer.
func followAttrs(logID string, f LogFollow, oob bool) templ.Attributes {
	a := templ.Attributes{"data-active": "false"}
	if f.Active {
		a = templ.Attributes{"data-active": "true", "hx-get": f.URL, "hx-trigger": "every 1s", "hx-target": "#" + logID, "hx-swap": "beforeend scroll:bottom"}
	}
	if oob {
		a["hx-swap-oob"] = "true"
	}
	return a
}
