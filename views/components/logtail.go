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

// oobAttr marks an element for htmx's out-of-band swap when oob is true.
func oobAttr(oob bool) templ.Attributes {
	if oob {
		return templ.Attributes{"hx-swap-oob": "true"}
	}
	return templ.Attributes{}
}
