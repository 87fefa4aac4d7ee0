package handlers_test

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/trainyard/trainyard/web/webtest"
)

// sweepFormFields is a valid HyperDrive form (without its source): random
// sampling of one uniform parameter, no policy, maximize score, 4 runs.
func sweepFormFields(extra map[string]string) url.Values {
	v := url.Values{"experiment": {"hdform"}, "script": {"sweep.py"}, "target": {"local"}, "envType": {"python"}, "nodeCount": {"1"},
		"arguments": {"--steps\n2\n--sleep\n0.05"},
		"params":    {"1"}, "param-0-name": {"--lr"}, "param-0-expression": {"uniform"}, "param-0-values": {"0, 1"},
		"sampling": {"Random"}, "seed": {"7"}, "policy": {"NoTerminationPolicy"}, "slackKind": {"slack_factor"},
		"evaluationInterval": {"1"}, "delayEvaluation": {"0"},
		"primaryMetricName": {"score"}, "primaryMetricGoal": {"Maximize"}, "maxTotalRuns": {"4"}, "maxConcurrentRuns": {"2"}}
	for k, val := range extra {
		if val == "\x00" {
			v.Del(k)
			continue
		}
		v.Set(k, val)
	}
	return v
}

// TestHyperdriveFormShows: the empty form has one parameter row with the
// ten expressions, the four samplers and policies, and its sweep part
// validates itself on change.
func TestHyperdriveFormShows(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true, NoDispatcher: true})
	c := env.Browser(t)
	status, d, body := getPage(t, c, env.URL+"/runs/new/hyperdrive?experiment=e1", nil)
	if status != 200 {
		t.Fatalf("%d %.300s", status, body)
	}
	checks := []struct {
		name string
		got  int
		want int
	}{
		{"parameter rows", d.Find(`[data-testid=sweep-params] > li`).Length(), 1},
		{"expressions", d.Find(`select#param-0-expression option`).Length(), 10},
		{"samplers", d.Find(`select#sampling option`).Length(), 4},
		{"policies", d.Find(`select#policy option`).Length(), 4},
		{"file pickers", d.Find(`input#folder, input#archive`).Length(), 2},
		{"inline scripts", d.Find(`script:not([src])`).Length(), 0},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s: %d, want %d", ck.name, ck.got, ck.want)
		}
	}
	// Every field of the sweep part is checked when it changes; the files
	// never go with the check.
	d.Find(`#sweep-definition input:not([type=hidden]), #sweep-definition select`).Each(func(_ int, s *goquery.Selection) {
		if !strings.HasPrefix(s.AttrOr("hx-post", ""), "/runs/new/hyperdrive/validate") || s.AttrOr("hx-trigger", "") != "change" {
			t.Errorf("%s: hx-post %q hx-trigger %q", s.AttrOr("id", ""), s.AttrOr("hx-post", ""), s.AttrOr("hx-trigger", ""))
		}
	})
	if got := d.Find(`#sweep-definition`).AttrOr("hx-params", ""); got != "not folder,archive,runconfig" {
		t.Errorf("hx-params %q", got)
	}
	if d.Find(`#experiment`).AttrOr("value", "") != "e1" || d.Find(`#add-param`).AttrOr("value", "") != "add-param" {
		t.Errorf("experiment from the query or the add button is missing")
	}
}

// TestHyperdriveFormValidatesLive posts the form to the validate endpoint
// as htmx does on a change, and reads the part that comes back: each
// problem under its own field in the API's words, several at once, values
// kept, warnings shown, and empty fields not scolded before submit.
func TestHyperdriveFormValidatesLive(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true, NoDispatcher: true})
	c := env.Browser(t)
	tests := []struct {
		name     string
		extra    map[string]string
		errs     map[string]string // field → part of its message
		warning  string
		keepName string // a field whose value must come back as typed
	}{
		{name: "valid", extra: nil, errs: map[string]string{}},
		{name: "uniform bounds", extra: map[string]string{"param-0-values": "1, 0"},
			errs: map[string]string{"param-0-values": "uniform expects min_value to be less than max_value"}, keepName: "param-0-values"},
		{name: "too few values", extra: map[string]string{"param-0-values": "0.5"},
			errs: map[string]string{"param-0-values": "uniform expects 2 values (min_value, max_value), not 1"}},
		{name: "grid takes choice only", extra: map[string]string{"sampling": "Grid"},
			errs: map[string]string{"param-0-expression": "This sampling method expects only the following distributions: [choice]"}},
		{name: "bayesian refuses a policy", extra: map[string]string{"sampling": "Bayesian", "policy": "BanditPolicy", "slack": "0.1"},
			errs:    map[string]string{"policy": "Early termination policy for Bayesian sampling. is not implemented for HyperDrive run"},
			warning: "Bayesian sampling works best with max_total_runs at least 20"},
		{name: "truncation range", extra: map[string]string{"policy": "TruncationSelectionPolicy", "truncationPercentage": "150"},
			errs: map[string]string{"truncationPercentage": "truncation_percentage expects value to be between 1 and 99."}, keepName: "truncationPercentage"},
		{name: "bandit slack must be positive", extra: map[string]string{"policy": "BanditPolicy", "slack": "-1"},
			errs: map[string]string{"slack": "must be more than 0"}},
		{name: "two problems at once", extra: map[string]string{"param-0-values": "1, 0", "maxTotalRuns": "5000", "maxConcurrentRuns": "0"},
			errs: map[string]string{"param-0-values": "min_value", "maxTotalRuns": "between 1 and 1000", "maxConcurrentRuns": "between 1 and 100"}},
		{name: "duplicate names", extra: map[string]string{"params": "2", "param-1-name": "--lr", "param-1-expression": "choice", "param-1-values": "1, 2"},
			errs: map[string]string{"param-1-name": "--lr is in the parameter space twice"}},
		{name: "not a number", extra: map[string]string{"maxTotalRuns": "many"},
			errs: map[string]string{"maxTotalRuns": `Write max total runs as a whole number (got "many")`}, keepName: "maxTotalRuns"},
		{name: "bayesian budget warning", extra: map[string]string{"sampling": "Bayesian", "maxTotalRuns": "10", "params": "2",
			"param-1-name": "--act", "param-1-expression": "choice", "param-1-values": "relu, tanh"},
			errs: map[string]string{}, warning: "Bayesian sampling works best with max_total_runs at least 20 × the number of hyperparameters (40); this sweep has 10"},
		{name: "grid smaller than the budget", extra: map[string]string{"sampling": "Grid", "param-0-expression": "choice", "param-0-values": "0.1, 0.2, 0.3"},
			errs: map[string]string{}, warning: "the grid has 3 combinations: the sweep ends after 3 runs, not max_total_runs 4"},
		{name: "empty fields wait for submit", extra: map[string]string{"primaryMetricName": "", "param-0-values": ""}, errs: map[string]string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := postMultipart(t, c, env.URL+"/runs/new/hyperdrive/validate", sweepFormFields(tc.extra), nil,
				map[string]string{"HX-Request": "true", "HX-Target": "sweep-definition"})
			if status != 200 {
				t.Fatalf("%d %.300s", status, body)
			}
			if !strings.HasPrefix(strings.TrimSpace(body), `<div id="sweep-definition"`) {
				t.Fatalf("not the sweep part: %.200s", body)
			}
			d := doc(t, body)
			shown := map[string]string{}
			d.Find(`.field-error`).Each(func(_ int, s *goquery.Selection) {
				if txt := strings.TrimSpace(s.Text()); txt != "" {
					shown[strings.TrimPrefix(s.AttrOr("id", ""), "err-")] = txt
				}
			})
			for f, want := range tc.errs {
				if !strings.Contains(shown[f], want) {
					t.Errorf("error under %s: %q, want it to say %q (all: %v)", f, shown[f], want, shown)
				}
				if d.Find("#"+f).AttrOr("aria-invalid", "") != "true" {
					t.Errorf("%s is not marked invalid", f)
				}
			}
			if len(shown) != len(tc.errs) {
				t.Errorf("errors shown %v, want only %v", shown, tc.errs)
			}
			warnings := d.Find(`[data-testid=sweep-warning]`).Text()
			if tc.warning != "" && !strings.Contains(warnings, tc.warning) || tc.warning == "" && warnings != "" {
				t.Errorf("warnings %q, want %q", warnings, tc.warning)
			}
			if f := tc.keepName; f != "" {
				if got := d.Find("#"+f).AttrOr("value", ""); got != tc.extra[f] {
					t.Errorf("%s came back as %q, typed %q", f, got, tc.extra[f])
				}
			}
		})
	}
}

// TestHyperdriveFormMessagesWhileTyping: a text field's change asks for the
// messages only; they come back out of band and no input is sent back (so
// what the user types meanwhile is kept).
func TestHyperdriveFormMessagesWhileTyping(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true, NoDispatcher: true})
	c := env.Browser(t)
	_, d, _ := getPage(t, c, env.URL+"/runs/new/hyperdrive", nil)
	if got := d.Find(`#maxTotalRuns`).AttrOr("hx-post", ""); got != "/runs/new/hyperdrive/validate?part=messages" || d.Find(`#maxTotalRuns`).AttrOr("hx-swap", "") != "none" {
		t.Errorf("a text field posts to %q", got)
	}
	if got := d.Find(`#sampling`).AttrOr("hx-target", ""); got != "#sweep-definition" {
		t.Errorf("a select swaps %q, want the whole part", got)
	}
	status, body, _ := postMultipart(t, c, env.URL+"/runs/new/hyperdrive/validate?part=messages",
		sweepFormFields(map[string]string{"maxTotalRuns": "5000", "sampling": "Bayesian", "params": "2", "param-1-name": "--b", "param-1-expression": "uniform", "param-1-values": "0, 1"}), nil,
		map[string]string{"HX-Request": "true"})
	if status != 200 {
		t.Fatalf("%d %.300s", status, body)
	}
	m := doc(t, body)
	if m.Find(`input, select`).Length() != 0 {
		t.Errorf("the messages answer sends inputs back: %.300s", body)
	}
	if got := m.Find(`#err-maxTotalRuns`); got.AttrOr("hx-swap-oob", "") != "true" || got.Text() != "must be an integer between 1 and 1000" {
		t.Errorf("max total runs message %q oob %q", got.Text(), got.AttrOr("hx-swap-oob", ""))
	}
	if got := m.Find(`#err-param-1-values`); got.Length() != 1 || got.Text() != "" {
		t.Errorf("the second row's message is not cleared: %q", got.Text())
	}
	if m.Find(`#sweep-warnings`).AttrOr("hx-swap-oob", "") != "true" {
		t.Errorf("warnings are not swapped out of band")
	}
}

// TestHyperdriveFormRows adds and removes search-space rows, through the
// full form post (no JavaScript) and the htmx endpoint; typed values stay.
func TestHyperdriveFormRows(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true, NoDispatcher: true})
	c := env.Browser(t)
	tests := []struct {
		name, path string
		htmx       bool
		extra      map[string]string
		wantNames  []string
	}{
		{"add, no JavaScript", "/runs/new/hyperdrive", false, map[string]string{"action": "add-param"}, []string{"--lr", ""}},
		{"add, htmx", "/runs/new/hyperdrive/validate", true, map[string]string{"action": "add-param"}, []string{"--lr", ""}},
		{"remove the first of two", "/runs/new/hyperdrive", false, map[string]string{"action": "remove-param-0", "params": "2",
			"param-1-name": "--act", "param-1-expression": "choice", "param-1-values": "relu, tanh"}, []string{"--act"}},
		{"remove the second of two, htmx", "/runs/new/hyperdrive/validate", true, map[string]string{"action": "remove-param-1", "params": "2",
			"param-1-name": "--act", "param-1-expression": "choice", "param-1-values": "relu, tanh"}, []string{"--lr"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var hdr map[string]string
			if tc.htmx {
				hdr = map[string]string{"HX-Request": "true", "HX-Target": "sweep-definition"}
			}
			status, body, _ := postMultipart(t, c, env.URL+tc.path, sweepFormFields(tc.extra), nil, hdr)
			if status != 200 {
				t.Fatalf("%d %.300s", status, body)
			}
			d := doc(t, body)
			var names []string
			d.Find(`[data-testid=sweep-params] > li input[name$="-name"]`).Each(func(_ int, s *goquery.Selection) { names = append(names, s.AttrOr("value", "")) })
			if strings.Join(names, "|") != strings.Join(tc.wantNames, "|") {
				t.Errorf("rows %q, want %q", names, tc.wantNames)
			}
			if d.Find(`input[name=params]`).AttrOr("value", "") != strconv.Itoa(len(tc.wantNames)) || d.Find(`.field-error:not(:empty)`).Length() != 0 {
				t.Errorf("row count or errors after an edit: %.500s", body)
			}
			if !tc.htmx && d.Find(`#experiment`).AttrOr("value", "") != "hdform" {
				t.Errorf("the experiment typed was lost")
			}
		})
	}
}

// TestHyperdriveFormSubmitErrors: a submit with problems is refused with
// each one under its field, the summary on top, every value kept, and
// nothing created.
func TestHyperdriveFormSubmitErrors(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true, NoDispatcher: true})
	c := env.Browser(t)
	src := []formFile{{"folder", "proj/sweep.py", []byte(sweepPy)}}
	status, body, _ := postMultipart(t, c, env.URL+"/runs/new/hyperdrive",
		sweepFormFields(map[string]string{"primaryMetricName": "", "param-0-values": "1, 0", "experiment": "9 bad!", "policy": "BanditPolicy", "slack": ""}), src, nil)
	if status != 422 {
		t.Fatalf("status %d, want 422: %.300s", status, body)
	}
	d := doc(t, body)
	for field, want := range map[string]string{
		"primaryMetricName": "required: the metric the script logs",
		"param-0-values":    "uniform expects min_value to be less than max_value",
		"experiment":        "only letters, digits",
		"slack":             "Bandit termination policy expects exactly one of slack factor or slack amount to be set.",
	} {
		if got := d.Find("#err-" + field).Text(); !strings.Contains(got, want) {
			t.Errorf("error under %s: %q, want %q", field, got, want)
		}
	}
	if !strings.Contains(d.Find(`[data-testid=form-errors]`).Text(), "Fix 4 problem(s)") {
		t.Errorf("summary: %q", d.Find(`[data-testid=form-errors]`).Text())
	}
	for field, want := range map[string]string{"param-0-values": "1, 0", "param-0-name": "--lr", "experiment": "9 bad!", "maxTotalRuns": "4", "seed": "7"} {
		if got := d.Find("#"+field).AttrOr("value", ""); got != want {
			t.Errorf("%s kept as %q, want %q", field, got, want)
		}
	}
	if d.Find(`input[name=snapshotId]`).AttrOr("value", "") == "" {
		t.Errorf("the upload was not kept for the next try")
	}
	var list struct {
		Value []sweepRunJSON `json:"value"`
	}
	apiJSON(t, env, "GET", "/api/v1/runs", nil, 200, &list)
	if len(list.Value) != 0 {
		t.Errorf("%d runs created by a refused submit", len(list.Value))
	}
}

// TestHyperdriveFormSubmitsASweep submits the form with a folder, as a
// browser does, and follows the redirect to the parent run: the sweep was
// created by the API's path, its children run the real script, and the
// dashboard shows them as they finish.
func TestHyperdriveFormSubmitsASweep(t *testing.T) {
	needPython(t)
	env := webtest.New(t, webtest.Options{})
	c := env.Browser(t)
	src := []formFile{{"folder", "proj/sweep.py", []byte(sweepPy)}}
	status, body, h := postMultipart(t, c, env.URL+"/runs/new/hyperdrive", sweepFormFields(map[string]string{
		"sampling": "Grid", "param-0-expression": "choice", "param-0-values": "0.1, 0.3, 0.5", "maxTotalRuns": "3", "seed": ""}), src, nil)
	if status != 303 || !strings.HasPrefix(h.Get("Location"), "/runs/hdform_") {
		t.Fatalf("submit: %d Location %q: %.500s", status, h.Get("Location"), body)
	}
	id := strings.TrimPrefix(h.Get("Location"), "/runs/")
	p := getSweepRun(t, env, id)
	if p.RunType != "hyperdrive" {
		t.Fatalf("parent %+v", p)
	}
	got := waitSweep(t, env, id, 60*time.Second)
	if got.Status != "Completed" {
		t.Fatalf("sweep ended %s: %s", got.Status, got.StatusReason)
	}
	kids := sweepChildren(t, env, id)
	if len(kids) != 3 {
		t.Fatalf("%d children, want the grid's 3", len(kids))
	}
	lrs := map[string]bool{}
	for _, k := range kids {
		lrs[k.Hyperparameters["--lr"]] = true
		if k.Status != "Completed" {
			t.Errorf("child %s %s: %s", k.RunID, k.Status, k.Error)
		}
	}
	if !lrs["0.1"] || !lrs["0.3"] || !lrs["0.5"] {
		t.Errorf("the grid's values: %v", lrs)
	}
	st, d, page := getPage(t, c, env.URL+h.Get("Location"), nil)
	if st != 200 {
		t.Fatalf("parent page %d %.300s", st, page)
	}
	for sel, want := range map[string]string{
		`[data-testid=sweep-count-completed]`:                           "3",
		`svg[data-testid=parallel-chart]`:                               "3",
		`svg[data-testid=sweep-metric-chart]`:                           "3",
		`[data-testid=sweep-children] tr[data-best=true]`:               got.BestChildRunID,
		`[data-testid=sweep-progress-bar] rect[data-segment=completed]`: "3",
	} {
		s := d.Find(sel)
		v := s.AttrOr("data-count", s.AttrOr("data-lines", s.AttrOr("data-points", s.AttrOr("data-run", ""))))
		if v != want {
			t.Errorf("%s: %q, want %q", sel, v, want)
		}
	}
	if !strings.Contains(page, "Sweep "+id+" was submitted.") {
		t.Errorf("no flash after the redirect")
	}
}
