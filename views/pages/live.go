package pages

import "fmt"

// A live section swaps with settle:0ms and syncs with this:replace: htmx
// processes a swapped-in element (and the SSE extension registers its
// listener) only when it settles, so with the default 20 ms settle a change
// announced in that window reached neither the old element nor the new one
// and was lost; and a refresh in flight is replaced, not queued on the
// element it is about to replace.

// liveTrigger is the hx-trigger of a live section: the page's event stream
// says something it shows changed (sse:changed), the fallback poll while
// the stream is down (live-poll, static/js/live.js), an action of this page
// that changed it (also, an event the server names in HX-Trigger), and a
// tick every tickSeconds for a section with a running clock.
func liveTrigger(tickSeconds int, also string) string {
	t := "sse:changed, live-poll"
	if also != "" {
		t += ", " + also + " from:body"
	}
	if tickSeconds > 0 {
		t += fmt.Sprintf(", every %ds", tickSeconds)
	}
	return t
}
