package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/store"
	"github.com/trainyard/trainyard/views/layout"
)

// Live pages (docs/ARCHITECTURE.md, "Live pages"): every page that shows
// objects which change keeps one Server-Sent Events stream open to
// GET /events, naming what it shows. The stream carries no content, only
// "changed": the page's live sections then fetch themselves again, through
// the same handlers and checks as any request. Polling is the fallback while
// the stream is down (static/js/live.js).

// Watch names what a page shows, as the values of /events?w=…:
//
//	computes        any compute target (the compute list)
//	compute:NAME    one target, its nodes, and the runs on it (details page)
//	runs            any run (runs list, experiments)
//	run:ID          one run and its child runs (run page, sweep dashboard)
type Watch struct {
	AllComputes bool
	AllRuns     bool
	Computes    []string
	Runs        []string
}

// live makes p a live page: it opens the event stream for w and loads the
// scripts that follow it.
func (h *Handlers) live(p layout.Page, w Watch) layout.Page {
	p.LiveURL = "/events?" + url.Values{"w": w.Values()}.Encode()
	if h.cfg.Assets != nil {
		p.SSEURL = h.cfg.Assets.URL("js/htmx-ext-sse.min.js")
		p.LiveJSURL = h.cfg.Assets.URL("js/live.js")
	}
	return p
}

// maxWatches bounds how much one stream may name.
const maxWatches = 16

// ParseWatch reads the w values of an /events request.
func ParseWatch(values []string) (Watch, error) {
	var w Watch
	if len(values) == 0 {
		return w, compute.Invalid("w", "Name what to watch: w=computes, w=runs, w=compute:NAME or w=run:ID.")
	}
	if len(values) > maxWatches {
		return w, compute.Invalid("w", "At most %d watches per stream, not %d.", maxWatches, len(values))
	}
	for _, v := range values {
		kind, name, hasName := strings.Cut(v, ":")
		switch {
		case v == "computes":
			w.AllComputes = true
		case v == "runs":
			w.AllRuns = true
		case kind == "compute" && hasName && name != "":
			w.Computes = append(w.Computes, name)
		case kind == "run" && hasName && name != "":
			w.Runs = append(w.Runs, name)
		default:
			return Watch{}, compute.Invalid("w", "Cannot watch %q: use computes, runs, compute:NAME or run:ID.", v)
		}
	}
	return w, nil
}

// Values is the inverse of ParseWatch, for building a page's stream URL.
func (w Watch) Values() []string {
	var out []string
	if w.AllComputes {
		out = append(out, "computes")
	}
	if w.AllRuns {
		out = append(out, "runs")
	}
	for _, n := range w.Computes {
		out = append(out, "compute:"+n)
	}
	for _, id := range w.Runs {
		out = append(out, "run:"+id)
	}
	return out
}

// Matches reports whether a page watching w shows something c changed.
func (w Watch) Matches(c store.Change) bool {
	switch c.Kind {
	case store.ChangeCompute:
		return w.AllComputes || containsFold(w.Computes, c.Name)
	case store.ChangeRun:
		if w.AllRuns {
			return true
		}
		for _, id := range w.Runs {
			if c.Name == id || c.Parent == id {
				return true
			}
		}
		return containsFold(w.Computes, c.Target)
	}
	return false
}

// containsFold: target names are matched regardless of case, as the store
// does.
func containsFold(names []string, name string) bool {
	for _, n := range names {
		if name != "" && strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

const (
	// eventGap is the least time between two events on one stream: the first
	// change goes out at once, a burst (a sweep logging metrics) is folded
	// into one more event at the end of the gap. It bounds what a busy page
	// costs (at most 10 refreshes a second) and what a change waits behind
	// another (at most the gap; docs/BENCHMARKS.md, change → screen).
	eventGap = 100 * time.Millisecond
	// heartbeatEvery keeps proxies from closing an idle stream.
	heartbeatEvery = 25 * time.Second
	// streamLifetime ends a stream after a while; the browser reconnects at
	// once, and the reconnect passes sign-in and role checks again, so a
	// signed-out or demoted user does not keep a stream.
	streamLifetime = 10 * time.Minute
)

// Events handles GET /events?w=…: the Server-Sent Events stream of a live
// page. Each watched object must exist and be visible to the user, checked
// as its page checks it.
func (h *Handlers) Events(w http.ResponseWriter, r *http.Request) error {
	watch, err := ParseWatch(r.URL.Query()["w"])
	if err != nil {
		return err
	}
	for _, name := range watch.Computes {
		if _, err := h.cfg.Store.GetTarget(r.Context(), name); err != nil {
			return err
		}
	}
	for _, id := range watch.Runs {
		if _, err := h.cfg.Store.GetRun(r.Context(), id); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), streamLifetime)
	defer cancel()
	sub := h.cfg.Store.Subscribe(ctx)

	rc := http.NewResponseController(w)
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no") // nginx: do not hold events back
	w.WriteHeader(http.StatusOK)
	// retry: how soon the browser reconnects after the stream ends.
	if _, err := fmt.Fprint(w, "retry: 1000\n: watching\n\n"); err != nil {
		return nil
	}
	if err := rc.Flush(); err != nil {
		return nil
	}
	send := func(data string) bool {
		if _, err := fmt.Fprintf(w, "event: changed\ndata: %s\n\n", data); err != nil {
			return false
		}
		return rc.Flush() == nil
	}

	heartbeat := time.NewTicker(heartbeatEvery)
	defer heartbeat.Stop()
	var (
		lastSent time.Time
		pending  bool
		trailing = time.NewTimer(time.Hour)
	)
	trailing.Stop()
	defer trailing.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case c, ok := <-sub.C:
			if !ok {
				return nil
			}
			if !watch.Matches(c) && !sub.Lost() {
				continue
			}
			if pending {
				continue // the trailing event will carry it
			}
			if wait := eventGap - time.Since(lastSent); wait > 0 {
				pending = true
				trailing.Reset(wait)
				continue
			}
			if !send(string(c.Kind)) {
				return nil
			}
			lastSent = time.Now()
		case <-trailing.C:
			pending = false
			if !send("batch") {
				return nil
			}
			lastSent = time.Now()
		case <-heartbeat.C:
			if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil || rc.Flush() != nil {
				return nil
			}
		}
	}
}
