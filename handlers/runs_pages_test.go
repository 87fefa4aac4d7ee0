package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/computetest"
	"github.com/trainyard/trainyard/web/webtest"
)

var htmxTo = func(target string) map[string]string {
	return map[string]string{"HX-Request": "true", "HX-Target": target}
}

// get fetches a page with the browser client and parses it.
func getPage(t *testing.T, c *http.Client, u string, header map[string]string) (int, *goquery.Document, string) {
	t.Helper()
	status, body, _ := webtest.Do(t, c, "GET", u, nil, header)
	return status, doc(t, body), body
}

// TestRunPageAfterACompletedRun runs the acceptance check's script and
// reads every part of its run page, and the lists it appears in.
func TestRunPageAfterACompletedRun(t *testing.T) {
	needPython(t)
	env := webtest.New(t, webtest.Options{})
	c := env.Browser(t)
	snap := uploadFolder(t, env, map[string]string{"train.py": trainPy, "lib/util.py": "X = 1\n"})
	run := submit(t, env, "pages", snap, "train.py", []string{"--msg", "it's \"x\""}, nil)
	waitStatus(t, env, run.RunID, 60*time.Second, "Completed", func(s string) bool { return s == "Completed" })

	status, d, body := getPage(t, c, env.URL+"/runs/"+run.RunID, nil)
	if status != 200 {
		t.Fatalf("run page: %d %s", status, body)
	}
	// What the outside check greps for.
	for _, s := range []string{"argv.json", "accuracy", "<svg"} {
		if !strings.Contains(body, s) {
			t.Errorf("run page lacks %q", s)
		}
	}
	tests := []struct {
		name, sel, attr, want string
	}{
		{"status badge", `[data-testid=run-status] [data-state]`, "data-state", "Completed"},
		{"accuracy chart", `svg[data-metric=accuracy]`, "data-points", "3"},
		{"loss chart", `svg[data-metric=loss]`, "data-points", "1"},
		{"output link", `[data-testid=outputs] a[href="/runs/` + run.RunID + `/outputs/outputs/argv.json"]`, "download", ""},
		{"log download", `a[href="/runs/` + run.RunID + `/outputs/user_logs/std_log.txt"]`, "download", ""},
		{"log no longer followed", `[data-testid=log-follow]`, "data-active", "false"},
		{"snapshot file", `[data-testid=snapshot] a[href="/runs/` + run.RunID + `/snapshot/train.py"]`, "download", ""},
		{"snapshot folder", `[data-testid=snapshot] a[href="/runs/` + run.RunID + `?dir=lib#snapshot"]`, "class", "link font-mono"},
		{"resubmit", `form[action="/runs/` + run.RunID + `/resubmit"] button`, "type", "submit"},
		{"timeline", `svg[data-testid=status-timeline] g[data-status=Completed] rect`, "height", "26.0"},
	}
	for _, tc := range tests {
		s := d.Find(tc.sel)
		if s.Length() == 0 {
			t.Errorf("%s: nothing matches %s", tc.name, tc.sel)
			continue
		}
		if got, _ := s.Attr(tc.attr); got != tc.want {
			t.Errorf("%s: %s=%q, want %q", tc.name, tc.attr, got, tc.want)
		}
	}
	if got := d.Find(`svg[data-metric=accuracy] circle title`).Last().Text(); !strings.HasPrefix(got, "accuracy = 0.93 at step 2 (") {
		t.Errorf("last accuracy mark title %q", got)
	}
	if got := d.Find(`[data-testid=latest-metrics] tr[data-metric=accuracy] [data-testid=metric-value]`).Text(); got != "0.93" {
		t.Errorf("latest accuracy %q", got)
	}
	if got := d.Find(`[data-testid=log-text]`).Text(); !strings.Contains(got, "epoch 2 accuracy 0.93") || !strings.Contains(got, "done training") {
		t.Errorf("log text %q", got)
	}
	if got := d.Find(`[data-testid=params] td`).Text(); got != "0.01" {
		t.Errorf("params %q", got)
	}
	if d.Find(`form[action$="/cancel"]`).Length() != 0 {
		t.Errorf("a Completed run offers Cancel")
	}
	// An ended run's sections still follow its changes (a late param or
	// artifact), through the page's event stream, but nothing ticks.
	if got := d.Find(`body`).AttrOr("sse-connect", ""); got != "/events?w=run%3A"+url.QueryEscape(run.RunID) {
		t.Errorf("the page's event stream is %q", got)
	}
	d.Find(`#run-live, #run-metrics, #run-params, #run-outputs`).Each(func(_ int, s *goquery.Selection) {
		if trig := s.AttrOr("hx-trigger", ""); !strings.HasPrefix(trig, "sse:changed, live-poll") || strings.Contains(trig, "every") {
			t.Errorf("#%s of an ended run has hx-trigger %q", s.AttrOr("id", ""), trig)
		}
	})
	if n := d.Find(`[data-live]`).Length(); n != 4 {
		t.Errorf("%d live sections, want 4 (status, metrics, params, outputs)", n)
	}
	if got := d.Find(`[data-testid=run-details]`).Text(); !strings.Contains(got, `--msg "it's \"x\""`) {
		t.Errorf("arguments are not shown as separate words: %q", got)
	}
	if n := d.Find(`[data-testid=status-history] li`).Length(); n < 5 {
		t.Errorf("status history has %d entries", n)
	}
	// The snapshot browser goes into folders.
	_, sub, _ := getPage(t, c, env.URL+"/runs/"+run.RunID+"?dir=lib", nil)
	if sub.Find(`[data-testid=snapshot] a[href="/runs/`+run.RunID+`/snapshot/lib/util.py"]`).Length() != 1 {
		t.Errorf("lib/ does not list util.py")
	}
	// Downloads.
	for path, want := range map[string]string{
		"/outputs/outputs/argv.json": `["--msg", "it's \"x\""]`,
		"/snapshot/train.py":         trainPy,
		"/snapshot/lib/util.py":      "X = 1\n",
	} {
		status, body, h := webtest.Do(t, c, "GET", env.URL+"/runs/"+run.RunID+path, nil, nil)
		if status != 200 || body != want || h.Get("Content-Security-Policy") != "default-src 'none'; sandbox" {
			t.Errorf("GET %s: %d %q (CSP %q)", path, status, body, h.Get("Content-Security-Policy"))
		}
	}
	if status, _, _ := webtest.Do(t, c, "GET", env.URL+"/runs/"+run.RunID+"/snapshot/../../secret.key", nil, nil); status != 404 {
		t.Errorf("snapshot path traversal: %d", status)
	}

	// Live parts answer htmx alone.
	for target, sel := range map[string]string{"run-live": "#run-live", "run-metrics": "#run-metrics", "run-outputs": "#run-outputs"} {
		status, _, body := getPage(t, c, env.URL+"/runs/"+run.RunID, htmxTo(target))
		if status != 200 || strings.Contains(body, "<html") || !strings.Contains(body, `id="`+strings.TrimPrefix(sel, "#")+`"`) {
			t.Errorf("partial %s: %d %.200s", target, status, body)
		}
	}
	// The lists show the run.
	for _, page := range []string{"/runs", "/experiments/pages", "/computes/local?tab=runs"} {
		status, d, body := getPage(t, c, env.URL+page, nil)
		row := d.Find(`tr[data-run="` + run.RunID + `"]`)
		if status != 200 || row.Length() != 1 {
			t.Errorf("%s: %d, row found %d times: %.300s", page, status, row.Length(), body)
			continue
		}
		if row.AttrOr("data-status", "") != "Completed" || !strings.Contains(row.Text(), "0.93") {
			t.Errorf("%s: row %q", page, row.Text())
		}
	}
	// The compute page's Runs tab polls its own table.
	status, d, body = getPage(t, c, env.URL+"/computes/local?tab=runs", htmxTo("runs-table"))
	if status != 200 || strings.Contains(body, "<html") || d.Find(`tr[data-run="`+run.RunID+`"]`).Length() != 1 {
		t.Errorf("Runs tab partial: %d %.200s", status, body)
	}
	if self := d.Find(`#runs-table`).AttrOr("hx-get", ""); self != "/computes/local?tab=runs" {
		t.Errorf("Runs tab polls %q", self)
	}
	status, d, _ = getPage(t, c, env.URL+"/experiments", nil)
	if status != 200 || !strings.Contains(d.Find(`tr[data-experiment=pages]`).Text(), "1") {
		t.Errorf("experiments list: %d %q", status, d.Find(`tr[data-experiment=pages]`).Text())
	}
}

// TestRunLogFollows polls the log partial as the run page does and checks
// that the appended pieces make up the whole log.
func TestRunLogFollows(t *testing.T) {
	needPython(t)
	env := webtest.New(t, webtest.Options{})
	c := env.Browser(t)
	script := "import time\nfor i in range(6):\n    print('line %d héllo' % i, flush=True)\n    time.sleep(0.3)\n"
	snap := uploadFolder(t, env, map[string]string{"slow.py": script})
	run := submit(t, env, "follow", snap, "slow.py", nil, nil)
	var text strings.Builder
	next := "/runs/" + run.RunID + "/log?offset=0"
	chunks := 0
	deadline := time.Now().Add(30 * time.Second * computetest.Slack)
	for next != "" && time.Now().Before(deadline) {
		status, body, _ := webtest.Do(t, c, "GET", env.URL+next, nil, htmxTo("run-log"))
		switch status {
		case http.StatusNoContent:
			time.Sleep(100 * time.Millisecond)
			continue
		case http.StatusOK:
		default:
			t.Fatalf("GET %s: %d %s", next, status, body)
		}
		d := doc(t, "<pre id=x>"+body+"</pre>")
		follow := d.Find(`[data-testid=log-follow]`)
		if follow.AttrOr("hx-swap-oob", "") != "true" {
			t.Fatalf("no out-of-band follower in %q", body)
		}
		follow.Remove()
		text.WriteString(d.Find("#x").Text())
		chunks++
		next = follow.AttrOr("hx-get", "")
		if next != "" && follow.AttrOr("hx-swap", "") != "beforeend scroll:bottom" {
			t.Fatalf("follower swap %q", follow.AttrOr("hx-swap", ""))
		}
	}
	if next != "" {
		t.Fatalf("the follower never stopped; text so far %q", text.String())
	}
	var want strings.Builder
	for i := range 6 {
		fmt.Fprintf(&want, "line %d héllo\n", i)
	}
	if text.String() != want.String() {
		t.Fatalf("followed text %q, want %q", text.String(), want.String())
	}
	if chunks < 2 {
		t.Errorf("the log came in %d piece(s); it should stream", chunks)
	}
	if status, _, _ := webtest.Do(t, c, "GET", env.URL+"/runs/"+run.RunID+"/log?offset=-1", nil, nil); status != 400 {
		t.Errorf("negative offset: %d", status)
	}
}

// TestRunsListFiltersSortAndPages seeds runs in the store and reads the
// list through the real router.
func TestRunsListFiltersSortAndPages(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoDispatcher: true, NoController: true})
	c := env.Browser(t)
	ctx := context.Background()
	old := time.Now().Add(-72 * time.Hour)
	var runs []*compute.Run
	for i := range 60 {
		r := &compute.Run{ID: fmt.Sprintf("seed_%03d", i), ExperimentName: []string{"alpha", "beta"}[i%2],
			Status: []compute.RunStatus{compute.RunCompleted, compute.RunFailed, compute.RunRunning}[i%3], Target: "local",
			SubmittedBy: []string{"ann", "bob"}[i%2], SubmittedByID: []string{"ann", "bob"}[i%2], Error: "exit code 3"}
		if i < 10 {
			r.CreatedAt = old
		}
		runs = append(runs, r)
	}
	if err := env.Store.CreateRuns(ctx, runs); err != nil {
		t.Fatal(err)
	}
	rows := func(d *goquery.Document) []string {
		var out []string
		d.Find(`#runs-table tbody tr[data-run]`).Each(func(_ int, s *goquery.Selection) { out = append(out, s.AttrOr("data-run", "")) })
		return out
	}
	tests := []struct {
		name      string
		query     string
		wantRows  int
		wantFirst string
		wantTotal string
		check     func(*goquery.Selection) bool
	}{
		{"newest first", "", 25, "seed_059", "Showing 1–25 of 60", nil},
		{"oldest first", "?desc=0", 25, "seed_000", "Showing 1–25 of 60", nil},
		{"failed only", "?status=Failed", 20, "seed_058", "Showing 1–20 of 20", func(s *goquery.Selection) bool { return s.AttrOr("data-status", "") == "Failed" }},
		{"active", "?status=active", 20, "seed_059", "Showing 1–20 of 20", func(s *goquery.Selection) bool { return s.AttrOr("data-status", "") == "Running" }},
		{"experiment", "?experiment=beta", 25, "seed_059", "Showing 1–25 of 30", nil},
		{"submitter", "?submittedBy=ann", 25, "seed_058", "Showing 1–25 of 30", nil},
		{"last 24 hours", "?range=24h", 25, "seed_059", "Showing 1–25 of 50", nil},
		{"sorted by status", "?sort=status", 25, "seed_000", "Showing 1–25 of 60", func(s *goquery.Selection) bool {
			return s.AttrOr("data-status", "") == "Completed" || s.AttrOr("data-status", "") == "Failed"
		}},
		{"no match", "?experiment=nope", 0, "", "0 runs", nil},
		{"two filters are not counted", "?status=Failed&experiment=beta", 10, "seed_055", "Showing 1–10", nil},
		{"bad cursor", "?cursor=garbage&pos=26", 25, "seed_059", "Showing 1–25 of 60", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, d, body := getPage(t, c, env.URL+"/runs"+tc.query, nil)
			if status != 200 {
				t.Fatalf("status %d: %s", status, body)
			}
			got := rows(d)
			if len(got) != tc.wantRows || (tc.wantFirst != "" && got[0] != tc.wantFirst) {
				t.Fatalf("%d rows starting %v, want %d starting %s", len(got), got[:min(3, len(got))], tc.wantRows, tc.wantFirst)
			}
			if total := d.Find(`[data-testid=total]`).Text(); total != tc.wantTotal {
				t.Errorf("total %q, want %q", total, tc.wantTotal)
			}
			if tc.check != nil {
				d.Find(`#runs-table tbody tr[data-run]`).Each(func(_ int, s *goquery.Selection) {
					if !tc.check(s) {
						t.Errorf("row %s (%s) does not match", s.AttrOr("data-run", ""), s.AttrOr("data-status", ""))
					}
				})
			}
			if tc.wantRows == 0 && d.Find(`[data-testid=no-match]`).Length() != 1 {
				t.Errorf("no 'nothing matches' row")
			}
		})
	}
	// Walk all pages forwards, then back, through the links as htmx would.
	status, d, _ := getPage(t, c, env.URL+"/runs?status=Completed", nil)
	if status != 200 {
		t.Fatal(status)
	}
	var seen []string
	var pages []string
	u := "/runs?status=Completed"
	for u != "" {
		status, d, body := getPage(t, c, env.URL+u, htmxTo("runs-table"))
		if status != 200 || strings.Contains(body, "<html") {
			t.Fatalf("partial %s: %d", u, status)
		}
		pages = append(pages, u)
		seen = append(seen, rows(d)...)
		u = d.Find(`a:contains("Next")`).AttrOr("href", "")
		if len(pages) > 5 {
			t.Fatal("paging does not end")
		}
	}
	if len(seen) != 20 || len(pages) != 1 {
		t.Fatalf("%d Completed runs over %d pages", len(seen), len(pages))
	}
	_ = d
	seen, pages = nil, nil
	u = "/runs"
	var last *goquery.Document
	for u != "" {
		_, d, _ := getPage(t, c, env.URL+u, htmxTo("runs-table"))
		pages = append(pages, u)
		seen = append(seen, rows(d)...)
		last = d
		u = d.Find(`a:contains("Next")`).AttrOr("href", "")
	}
	if len(seen) != 60 || len(pages) != 3 || seen[59] != "seed_000" {
		t.Fatalf("%d runs over %d pages, last %s", len(seen), len(pages), seen[len(seen)-1])
	}
	if got := last.Find(`[data-testid=total]`).Text(); got != "Showing 51–60 of 60" {
		t.Errorf("last page says %q", got)
	}
	prev := last.Find(`a:contains("Previous")`).AttrOr("href", "")
	_, d, _ = getPage(t, c, env.URL+prev, nil)
	if got := rows(d); len(got) != 25 || got[0] != "seed_034" || d.Find(`[data-testid=total]`).Text() != "Showing 26–50 of 60" {
		t.Errorf("previous page: %v… %q", got[:1], d.Find(`[data-testid=total]`).Text())
	}
	// Sort links flip the direction and mark the column for screen readers.
	status, d, _ = getPage(t, c, env.URL+"/runs?sort=status", nil)
	th := d.Find(`th[aria-sort=ascending]`)
	if status != 200 || !strings.Contains(th.Text(), "Status") {
		t.Errorf("sorted column %q", th.Text())
	}
	if href := th.Find("a").AttrOr("href", ""); href != "/runs?desc=1&sort=status" {
		t.Errorf("sort link %q", href)
	}
	// The table follows every run's changes, and ticks while a run's
	// duration counts up.
	_, d, _ = getPage(t, c, env.URL+"/runs", nil)
	if trig := d.Find(`#runs-table`).AttrOr("hx-trigger", ""); trig != "sse:changed, live-poll, runs-changed from:body, every 1s" {
		t.Errorf("live trigger %q", trig)
	}
	if got := d.Find(`body`).AttrOr("sse-connect", ""); got != "/events?w=runs" {
		t.Errorf("the page's event stream is %q", got)
	}
	// The filter bar keeps its values.
	_, d, _ = getPage(t, c, env.URL+"/runs?status=Failed&experiment=beta&range=7d", nil)
	if d.Find(`#f-status option[selected]`).AttrOr("value", "") != "Failed" || d.Find(`#f-experiment`).AttrOr("value", "") != "beta" ||
		d.Find(`#f-range option[selected]`).AttrOr("value", "") != "7d" {
		t.Errorf("filter values lost")
	}
	for _, l := range []string{"f-status", "f-experiment", "f-target", "f-submitter", "f-range"} {
		if d.Find(`label[for=`+l+`]`).Length() != 1 {
			t.Errorf("filter %s has no label", l)
		}
	}
	// A parent run lists its children, in a table that polls without
	// changing the page's address.
	family := []*compute.Run{{ID: "sweep_1", ExperimentName: "family", Status: compute.RunRunning, Kind: compute.RunKindTracking}}
	for i := range 3 {
		family = append(family, &compute.Run{ID: fmt.Sprintf("sweep_1_child_%d", i), ExperimentName: "family", ParentID: "sweep_1", Status: compute.RunCompleted})
	}
	if err := env.Store.CreateRuns(ctx, family); err != nil {
		t.Fatal(err)
	}
	_, d, _ = getPage(t, c, env.URL+"/runs/sweep_1", nil)
	kids := d.Find(`#children tr[data-run]`)
	if kids.Length() != 3 || d.Find(`#children #runs-table`).AttrOr("hx-get", "") != "/runs?parent=sweep_1" || d.Find(`#children [hx-push-url]`).Length() != 0 {
		t.Errorf("children: %d rows, polls %q", kids.Length(), d.Find(`#children #runs-table`).AttrOr("hx-get", ""))
	}
	_, d, _ = getPage(t, c, env.URL+"/runs/sweep_1_child_0", nil)
	if d.Find(`nav[aria-label=Breadcrumb] a[href="/runs/sweep_1"]`).Length() != 1 || d.Find(`#children`).Length() != 0 {
		t.Errorf("a child does not lead back to its parent")
	}
	// Experiments: filter box, counts.
	_, d, _ = getPage(t, c, env.URL+"/experiments?q=alp", nil)
	if d.Find(`tr[data-experiment]`).Length() != 1 || !strings.Contains(d.Find(`tr[data-experiment=alpha]`).Text(), "30") {
		t.Errorf("experiments filter: %q", d.Find(`#experiments-table tbody`).Text())
	}
	status, _, _ = getPage(t, c, env.URL+"/experiments/nope", nil)
	if status != 404 {
		t.Errorf("unknown experiment: %d", status)
	}
	status, _, _ = getPage(t, c, env.URL+"/runs/nope_1_2", nil)
	if status != 404 {
		t.Errorf("unknown run: %d", status)
	}
}

// asBearer sends a request as the holder of an access token (the CLI's way;
// pages accept it too, which lets one test play several people).
func asBearer(t *testing.T, env *webtest.Env, token, method, path string, header map[string]string) (int, *goquery.Document, http.Header) {
	t.Helper()
	h := map[string]string{"Authorization": "Bearer " + token}
	for k, v := range header {
		h[k] = v
	}
	status, body, hdr := webtest.Do(t, env.Client(), method, env.URL+path, nil, h)
	return status, doc(t, body), hdr
}

// TestRunPageCancelAndResubmit: only the submitter and Admins see and may
// use Cancel; Cancel stops the run; Resubmit makes a new run of the same
// snapshot and settings for whoever asks.
func TestRunPageCancelAndResubmit(t *testing.T) {
	needPython(t)
	env := webtest.New(t, webtest.Options{})
	admin := env.Browser(t)
	dee := env.TokenFor(t, "dee", compute.RoleDataScientist)
	eve := env.TokenFor(t, "eve", compute.RoleDataScientist)
	rita := env.TokenFor(t, "rita", compute.RoleReader)
	snap := uploadFolder(t, env, map[string]string{"train.py": trainPy})
	body := fmt.Sprintf(`{"experimentName":"cancel","snapshotId":%q,"script":"train.py","arguments":["--sleep","30"],"target":"local","maxRunDurationSeconds":120}`, snap)
	req, _ := http.NewRequest("POST", env.URL+"/api/v1/runs", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+dee)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("submit as dee: %v %v", err, resp.Status)
	}
	var run runJSON
	if err := jsonDecode(resp, &run); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, env, run.RunID, 30*time.Second, "Running", func(s string) bool { return s == "Running" })
	page := "/runs/" + run.RunID
	cancelForm := `form[action="` + page + `/cancel"]`
	for _, tc := range []struct {
		who, token         string
		cancel, resubmit   bool
		cancelStatus       int
		resubmitStatusWant int
	}{
		{"the submitter", dee, true, true, 0, 0},
		{"another data scientist", eve, false, true, 403, 0},
		{"a reader", rita, false, false, 403, 403},
	} {
		status, d, _ := asBearer(t, env, tc.token, "GET", page, nil)
		if status != 200 {
			t.Fatalf("%s: %d", tc.who, status)
		}
		if got := d.Find(cancelForm).Length() == 1; got != tc.cancel {
			t.Errorf("%s sees Cancel: %v, want %v", tc.who, got, tc.cancel)
		}
		if got := d.Find(`form[action="`+page+`/resubmit"]`).Length() == 1; got != tc.resubmit {
			t.Errorf("%s sees Resubmit: %v, want %v", tc.who, got, tc.resubmit)
		}
		if tc.cancelStatus != 0 {
			if status, _, _ := asBearer(t, env, tc.token, "POST", page+"/cancel", nil); status != tc.cancelStatus {
				t.Errorf("%s cancels: %d, want %d", tc.who, status, tc.cancelStatus)
			}
		}
		if tc.resubmitStatusWant != 0 {
			if status, _, _ := asBearer(t, env, tc.token, "POST", page+"/resubmit", nil); status != tc.resubmitStatusWant {
				t.Errorf("%s resubmits: %d, want %d", tc.who, status, tc.resubmitStatusWant)
			}
		}
	}
	// The running page polls, offers Cancel with a question that says what
	// is kept, and follows the log.
	_, d, _ := getPage(t, admin, env.URL+page, nil)
	btn := d.Find(cancelForm + " button")
	if !strings.Contains(btn.AttrOr("hx-confirm", ""), "outputs, metrics and log so far are kept") {
		t.Errorf("cancel question %q", btn.AttrOr("hx-confirm", ""))
	}
	if d.Find(`#run-live`).AttrOr("hx-trigger", "") != "sse:changed, live-poll, runs-changed from:body, every 1s" || d.Find(`[data-testid=log-follow]`).AttrOr("data-active", "") != "true" {
		t.Errorf("a running run's page does not follow it")
	}
	if d.Find(`tr[data-run]`).Length() != 0 {
		t.Errorf("a run without children lists child runs")
	}
	// The Admin cancels (htmx): the live parts are told to refresh.
	status, _, h := webtest.Do(t, admin, "POST", env.URL+page+"/cancel", url.Values{}, map[string]string{"HX-Request": "true"})
	if status != 200 || h.Get("HX-Trigger") != "runs-changed" {
		t.Fatalf("cancel: %d, HX-Trigger %q", status, h.Get("HX-Trigger"))
	}
	waitStatus(t, env, run.RunID, 20*time.Second, "Canceled", func(s string) bool { return s == "Canceled" })
	_, d, _ = getPage(t, admin, env.URL+page, htmxTo("run-live"))
	if d.Find(`[data-state]`).AttrOr("data-state", "") != "Canceled" || d.Find(cancelForm).Length() != 0 || !strings.Contains(d.Text(), "canceled by local") {
		t.Errorf("after cancel the status part says %q", d.Text())
	}
	// Cancelling again is a conflict, in words.
	if status, body, _ := webtest.Do(t, admin, "POST", env.URL+page+"/cancel", url.Values{}, nil); status != 409 || !strings.Contains(body, "already ended") {
		t.Errorf("second cancel: %d", status)
	}
	// Eve resubmits Dee's run: same snapshot, script, arguments, target.
	status, _, h = asBearer(t, env, eve, "POST", page+"/resubmit", nil)
	if status != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/runs/cancel_") || h.Get("Location") == page {
		t.Fatalf("resubmit: %d %q", status, h.Get("Location"))
	}
	again, err := env.Store.GetRun(context.Background(), strings.TrimPrefix(h.Get("Location"), "/runs/"))
	if err != nil {
		t.Fatal(err)
	}
	if again.SnapshotID != snap || again.Script != "train.py" || strings.Join(again.Arguments, " ") != "--sleep 30" || again.Target != "local" ||
		again.SubmittedByID != "eve" || again.MaxRunDuration != 2*time.Minute {
		t.Errorf("resubmitted run %+v", again)
	}
	// htmx gets a redirect header instead.
	status, _, h = webtest.Do(t, admin, "POST", env.URL+page+"/resubmit", url.Values{}, map[string]string{"HX-Request": "true"})
	if status != 200 || !strings.HasPrefix(h.Get("HX-Redirect"), "/runs/cancel_") {
		t.Errorf("htmx resubmit: %d %q", status, h.Get("HX-Redirect"))
	}
	for _, id := range []string{again.ID, strings.TrimPrefix(h.Get("HX-Redirect"), "/runs/")} {
		webtest.Do(t, admin, "POST", env.URL+"/runs/"+id+"/cancel", url.Values{}, nil)
		waitStatus(t, env, id, 20*time.Second, "ended", terminal)
	}
}

func jsonDecode(resp *http.Response, v any) error {
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}
