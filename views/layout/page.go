// Package layout holds the page frame every full page is rendered in.
package layout

// Page is what the frame needs from every page's view model.
type Page struct {
	Title       string
	Nav         string // which left-navigation entry is current: compute, experiments, sweeps, audit
	Breadcrumbs []Crumb
	UserName    string
	UserRole    string
	Nonce       string // CSP nonce for the page's script tags
	CSSURL      string
	HtmxURL     string
	// LiveURL is the page's event stream (/events?w=…) when it shows
	// objects that change; "" for a page that does not follow changes.
	LiveURL string
	// SSEURL and LiveJSURL are htmx's SSE extension and the stream's
	// fallback script, loaded only by live pages.
	SSEURL    string
	LiveJSURL string
	// Scripts are further scripts of this page (from 'self', with the
	// page's nonce), e.g. the size search of a wizard.
	Scripts []string
	Flash   string // a one-line message after an action, e.g. "cpu-cluster is being deleted"
	// Unsandboxed is true when the server runs local jobs without their
	// sandbox (serve --unsafe-no-sandbox): every page says so.
	Unsandboxed bool
}

// Crumb is one step of the breadcrumb; the last has no link.
type Crumb struct {
	Label string
	Href  string
}
