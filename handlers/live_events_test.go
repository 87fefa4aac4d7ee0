package handlers_test

import (
	"bufio"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/handlers"
	"github.com/trainyard/trainyard/store"
	"github.com/trainyard/trainyard/web/webtest"
)

func TestParseWatch(t *testing.T) {
	tests := []struct {
		in      []string
		want    handlers.Watch
		wantErr string
	}{
		{in: []string{"computes"}, want: handlers.Watch{AllComputes: true}},
		{in: []string{"runs", "compute:cpu"}, want: handlers.Watch{AllRuns: true, Computes: []string{"cpu"}}},
		{in: []string{"run:exp_1_ab", "run:exp_2_cd"}, want: handlers.Watch{Runs: []string{"exp_1_ab", "exp_2_cd"}}},
		{in: nil, wantErr: "Name what to watch"},
		{in: []string{"compute:"}, wantErr: `Cannot watch "compute:"`},
		{in: []string{"everything"}, wantErr: `Cannot watch "everything"`},
		{in: slices.Repeat([]string{"runs"}, 17), wantErr: "At most 16 watches"},
	}
	for _, tt := range tests {
		got, err := handlers.ParseWatch(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseWatch(%q) error %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got.Values(), tt.want.Values()) {
			t.Errorf("ParseWatch(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

// FuzzParseWatch: whatever a client sends, ParseWatch refuses it or reads
// something whose Values read back the same.
func FuzzParseWatch(f *testing.F) {
	f.Add("computes", "run:a_1")
	f.Add("compute:x:y", "")
	f.Add("", "runs")
	f.Fuzz(func(t *testing.T, a, b string) {
		w, err := handlers.ParseWatch([]string{a, b})
		if err != nil {
			return
		}
		again, err := handlers.ParseWatch(w.Values())
		if err != nil || !slices.Equal(again.Values(), w.Values()) {
			t.Fatalf("%q → %q → %q, %v", []string{a, b}, w.Values(), again.Values(), err)
		}
	})
}

func TestWatchMatches(t *testing.T) {
	run := func(id, target, parent string) store.Change {
		return store.Change{Kind: store.ChangeRun, Name: id, Target: target, Parent: parent}
	}
	cmp := store.Change{Kind: store.ChangeCompute, Name: "CPU"}
	tests := []struct {
		name  string
		watch handlers.Watch
		c     store.Change
		want  bool
	}{
		{"compute list, any compute", handlers.Watch{AllComputes: true}, cmp, true},
		{"compute list, a run", handlers.Watch{AllComputes: true}, run("r", "cpu", ""), false},
		{"details page, its target (any case)", handlers.Watch{Computes: []string{"cpu"}}, cmp, true},
		{"details page, another target", handlers.Watch{Computes: []string{"gpu"}}, cmp, false},
		{"details page, a run on it", handlers.Watch{Computes: []string{"cpu"}}, run("r", "cpu", ""), true},
		{"details page, a run elsewhere", handlers.Watch{Computes: []string{"cpu"}}, run("r", "gpu", ""), false},
		{"run page, the run", handlers.Watch{Runs: []string{"r"}}, run("r", "cpu", ""), true},
		{"sweep page, a child", handlers.Watch{Runs: []string{"p"}}, run("c", "cpu", "p"), true},
		{"run page, another run", handlers.Watch{Runs: []string{"r"}}, run("s", "cpu", ""), false},
		{"runs list, any run", handlers.Watch{AllRuns: true}, run("s", "", ""), true},
	}
	for _, tt := range tests {
		if got := tt.watch.Matches(tt.c); got != tt.want {
			t.Errorf("%s: Matches = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// openStream opens a page's event stream as its browser would and returns
// the response and a reader of its events' data lines.
func openStream(t *testing.T, c *http.Client, u string) (*http.Response, func() string) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Accept-Encoding", "gzip") // as browsers do: the stream must still flush
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	var body io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatalf("the stream's gzip header: %v", err)
		}
		body = zr
	}
	sc := bufio.NewScanner(body)
	next := func() string {
		t.Helper()
		event := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && event == "changed":
				return strings.TrimPrefix(line, "data: ")
			}
		}
		t.Fatalf("the stream ended: %v", sc.Err())
		return ""
	}
	return resp, next
}

// A details page's stream says "changed" when its target or a run on it
// changes, and nothing for other targets.
func TestEventsStreamFollowsWhatThePageShows(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true, NoDispatcher: true})
	ctx := context.Background()
	for _, name := range []string{"cpu", "gpu"} {
		if err := env.Store.CreateTarget(ctx, &compute.Target{Name: name, Kind: compute.KindCluster, ProvisioningState: compute.ProvisioningCreating,
			Cluster: &compute.ClusterSpec{VMSize: "Standard_D2_v2", MaxNodes: 2}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	c := env.Browser(t)
	resp, next := openStream(t, c, env.URL+"/events?w=compute:cpu")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	// Another target's change comes first and must not be announced; the
	// run on cpu after it must be, as the first event.
	if _, err := env.Store.UpdateTarget(ctx, "gpu", func(t *compute.Target) error {
		t.ProvisioningState = compute.ProvisioningSucceeded
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := env.Store.CreateRun(ctx, &compute.Run{ExperimentName: "e", Target: "cpu"}); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != "run" {
		t.Fatalf("first event says %q, want the run on cpu", got)
	}
	if _, err := env.Store.UpdateTarget(ctx, "cpu", func(t *compute.Target) error {
		t.ProvisioningState = compute.ProvisioningSucceeded
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != "compute" && got != "batch" {
		t.Fatalf("event after cpu changed says %q", got)
	}
}

// The stream is a signed-in reader's, for objects that exist.
func TestEventsStreamRefuses(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true, NoDispatcher: true})
	browser := env.Browser(t)
	tests := []struct {
		name   string
		c      *http.Client
		path   string
		status int
	}{
		{"not signed in", env.Client(), "/events?w=computes", http.StatusSeeOther},
		{"nothing to watch", browser, "/events", http.StatusUnprocessableEntity},
		{"an unknown kind", browser, "/events?w=secrets", http.StatusUnprocessableEntity},
		{"a target that does not exist", browser, "/events?w=compute:nope", http.StatusNotFound},
		{"a run that does not exist", browser, "/events?w=run:nope_1_ab", http.StatusNotFound},
	}
	for _, tt := range tests {
		status, _, _ := webtest.Do(t, tt.c, "GET", env.URL+tt.path, nil, nil)
		if status != tt.status && !(tt.status == http.StatusSeeOther && status == http.StatusUnauthorized) {
			t.Errorf("%s: status %d, want %d", tt.name, status, tt.status)
		}
	}
}
