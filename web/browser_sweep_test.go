package web_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/chromedp"

	"github.com/trainyard/trainyard/web/webtest"
)

// browserSweepPy logs score = -(lr-0.3)² three times, --sleep seconds apart.
const browserSweepPy = `import json, os, sys, time, urllib.request
a = dict(zip(sys.argv[1::2], sys.argv[2::2]))
endpoint = os.environ["MLFLOW_TRACKING_URI"].rstrip("/") + "/api/2.0/mlflow/runs/log-metric"
headers = {"Content-Type": "application/json", "Authorization": "Bearer " + os.environ["MLFLOW_TRACKING_TOKEN"]}
score = -(float(a["--lr"]) - 0.3) ** 2
for step in range(3):
    point = {"run_id": os.environ["MLFLOW_RUN_ID"], "key": "score", "value": score, "step": step, "timestamp": int(time.time() * 1000)}
    urllib.request.urlopen(urllib.request.Request(endpoint, json.dumps(point).encode(), headers, method="POST"), timeout=10).read()
    time.sleep(float(a.get("--sleep", 0)))
`

// TestBrowserHyperdriveSweep: fill the HyperDrive form (the upload, a
// parameter, a value the live check refuses and then accepts, a row added
// and removed), submit, and watch the parent's dashboard follow the sweep
// to its end without a reload: the progress bar fills child by child.
func TestBrowserHyperdriveSweep(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("python3 is not installed")
	}
	env := webtest.New(t, webtest.Options{})
	ctx := newBrowser(t)
	problems := &pageProblems{}
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*cdplog.EventEntryAdded); ok && e.Entry != nil && e.Entry.Level == cdplog.EntryLevelError && !strings.Contains(e.Entry.URL, "favicon") {
			problems.add(string(e.Entry.Source) + ": " + e.Entry.Text)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			shot(t, ctx, strings.ReplaceAll(what, " ", "-"))
			t.Fatalf("%s: %v", what, err)
		}
	}
	poll := func(what, js string, timeout time.Duration) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(timeout))); err != nil {
			shot(t, ctx, strings.ReplaceAll(what, " ", "-"))
			t.Fatalf("%s: %v", what, err)
		}
	}
	src := writeZip(t, map[string]string{"sweep.py": browserSweepPy})

	step("open the form", chromedp.Navigate(env.URL+"/login?token="+webtest.Token+"&next=/runs/new/hyperdrive"), chromedp.WaitVisible(chromedp.ID("archive")))
	step("choose the archive", chromedp.SetUploadFiles(chromedp.ID("archive"), []string{src}))
	poll("the upload fills the script list", `(document.querySelector('select#script') || {}).value === 'sweep.py'`, 15*time.Second)
	// settled: htmx has swapped and wired the new part (a click or typing
	// before that would act on the old one).
	settled := ` && !document.querySelector('.htmx-request, .htmx-settling, .htmx-added')`
	step("choose grid sampling", chromedp.Evaluate[chromedp.Void](
		`(s => { s.value = 'Grid'; s.dispatchEvent(new Event('change', {bubbles: true})) })(document.getElementById('sampling'))`))
	poll("the part comes back without the seed", `!document.getElementById('seed')`+settled, 10*time.Second)
	step("fill the run and the parameter",
		chromedp.SendKeys(chromedp.ID("experiment"), "browser-sweep"),
		chromedp.SetValue(chromedp.ID("arguments"), "--sleep\n0.7"),
		chromedp.SendKeys(chromedp.ID("param-0-name"), "--lr"),
		chromedp.SendKeys(chromedp.ID("param-0-values"), "0.1, 0.3, 0.9"),
		chromedp.SendKeys(chromedp.ID("primaryMetricName"), "score"),
		chromedp.SetValue(chromedp.ID("maxConcurrentRuns"), "1"),
		chromedp.SetValue(chromedp.ID("maxTotalRuns"), ""),
		chromedp.SendKeys(chromedp.ID("maxTotalRuns"), "5000\t"))
	poll("the live check refuses 5000 runs", `(document.getElementById('err-maxTotalRuns') || {}).textContent === 'must be an integer between 1 and 1000'`, 10*time.Second)
	step("fix it", chromedp.SetValue(chromedp.ID("maxTotalRuns"), ""), chromedp.SendKeys(chromedp.ID("maxTotalRuns"), "3\t"))
	poll("the error goes", `document.getElementById('err-maxTotalRuns').textContent === '' && document.getElementById('param-0-values').value === '0.1, 0.3, 0.9'`, 10*time.Second)
	step("mark the form", chromedp.Evaluate[chromedp.Void](`window.formNotReloaded = true`))
	step("add a parameter", chromedp.Click(chromedp.ID("add-param")))
	poll("a second row", `document.querySelectorAll('[data-testid=sweep-params] > li').length === 2 && document.getElementById('param-0-name').value === '--lr'`+settled, 10*time.Second)
	step("remove it", chromedp.Click(chromedp.CSS(`[data-param="param-1-name"] [data-testid=remove-param]`)))
	poll("one row again", `document.querySelectorAll('[data-testid=sweep-params] > li').length === 1`+settled, 10*time.Second)
	if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.formNotReloaded === true`)); err != nil || !ok {
		t.Errorf("adding and removing a row reloaded the form (%v)", err)
	}
	shot(t, ctx, "hyperdrive-form")

	step("submit", chromedp.Click(chromedp.ID("submit-sweep")), chromedp.WaitVisible(chromedp.CSS(`[data-testid=sweep-progress-bar], [data-testid=form-errors]`)))
	if msg, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector('[data-testid=form-errors]') || {}).textContent || ''`)); msg != "" {
		shot(t, ctx, "submit-refused")
		t.Fatalf("the submit was refused: %s", msg)
	}
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	if !strings.Contains(loc, "/runs/browser-sweep_") {
		t.Fatalf("after submit the browser is on %s", loc)
	}
	step("mark the page", chromedp.Evaluate[chromedp.Void](`window.notReloaded = true`))
	count := `Number((document.querySelector('[data-testid=sweep-count-completed]') || {dataset: {}}).dataset.count || 0)`
	ended := `document.getElementById('sweep-dashboard').dataset.ended === 'true'`
	poll("the bar shows a finished child while the sweep runs", count+` >= 1 && !(`+ended+`) && !!document.querySelector('[data-testid=sweep-progress-bar] rect[data-segment=completed]')`, 60*time.Second)
	shot(t, ctx, "sweep-running")
	poll("the sweep completes on the page", count+` === 3 && `+ended, 60*time.Second)
	poll("the charts have the three children",
		`document.querySelector('svg[data-testid=sweep-metric-chart]').dataset.points === '3' && document.querySelector('svg[data-testid=parallel-chart]').dataset.lines === '3' && !!document.querySelector('[data-testid=sweep-children] tr[data-best=true]')`, 10*time.Second)
	if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.notReloaded === true`)); err != nil || !ok {
		t.Fatalf("the sweep page was reloaded (%v)", err)
	}
	if best, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('[data-testid=sweep-children] tr[data-best=true] td:nth-child(3)').textContent.trim()`)); err != nil || best != "0.3" {
		t.Errorf("best child's --lr is %q (%v), want 0.3", best, err)
	}
	shot(t, ctx, "sweep-completed")
	// A phone: 390 px wide, no page-level sideways scroll (tables and the
	// parallel chart scroll in their own boxes).
	for _, page := range []string{loc, env.URL + "/runs/new/hyperdrive"} {
		step("narrow "+page, chromedp.EmulateViewport(390, 844), chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS("main h1")))
		if w, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); err != nil || w > 390 {
			t.Errorf("%s is %d px wide at 390 px (%v)", page, w, err)
		}
	}
	shot(t, ctx, "hyperdrive-form-390")
	for _, p := range problems.all() {
		if strings.Contains(p, "Content Security Policy") {
			t.Errorf("the browser reported: %s", p)
		}
	}
}
