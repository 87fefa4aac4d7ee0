package web_test

import (
	"archive/zip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/trainyard/trainyard/web/webtest"
)

// browserTrainPy trains nothing but reports like a training script: an
// accuracy per epoch POSTed to the tracking API (MLFLOW_TRACKING_URI,
// MLFLOW_TRACKING_TOKEN, as the acceptance check's train.py does), a line
// per epoch on stdout, and outputs/argv.json.
const browserTrainPy = `import json, os, sys, time, urllib.request
endpoint = os.environ["MLFLOW_TRACKING_URI"].rstrip("/") + "/api/2.0/mlflow/runs/log-metric"
headers = {"Content-Type": "application/json", "Authorization": "Bearer " + os.environ["MLFLOW_TRACKING_TOKEN"]}
argv = sys.argv[1:]
pause = float(argv[argv.index("--sleep") + 1]) / 3 if "--sleep" in argv else 0
os.makedirs("outputs", exist_ok=True)
with open("outputs/argv.json", "w") as out:
    json.dump(argv, out)
for step, acc in enumerate([0.81, 0.88, 0.93]):
    print("epoch %d accuracy %.2f" % (step, acc), flush=True)
    point = {"run_id": os.environ["MLFLOW_RUN_ID"], "key": "accuracy", "value": acc, "step": step, "timestamp": int(time.time() * 1000)}
    urllib.request.urlopen(urllib.request.Request(endpoint, json.dumps(point).encode(), headers, method="POST"), timeout=10).read()
    time.sleep(pause)
print("done training", flush=True)
`

// writeZip makes a .zip of files (path → content) in a temp folder.
func writeZip(t *testing.T, files map[string]string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "src.zip")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for name, content := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// pageProblems collects what the page's console reports as errors, CSP
// violations above all (inline code, eval), and uncaught exceptions.
type pageProblems struct {
	mu   sync.Mutex
	msgs []string
}

func (p *pageProblems) add(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, s)
}

func (p *pageProblems) all() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.msgs...)
}

// TestBrowserSubmitRunAndWatchIt is what a user does: open the submit form,
// choose a .zip of their folder (it uploads at once, with progress, and
// fills the script list), submit, and watch the run page follow the run to
// Completed without a reload: the log streams, the accuracy chart appears
// with its three points, the outputs are listed. The pages also fit a
// 390 px wide phone without sideways scrolling, and the browser reports no
// CSP violation or script error on the way.
func TestBrowserSubmitRunAndWatchIt(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("python3 is not installed")
	}
	env := webtest.New(t, webtest.Options{})
	ctx := newBrowser(t)
	problems := &pageProblems{}
	if err := chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *cdplog.EventEntryAdded:
			if e.Entry != nil && e.Entry.Level == cdplog.EntryLevelError && !strings.Contains(e.Entry.URL, "favicon") {
				problems.add(string(e.Entry.Source) + ": " + e.Entry.Text)
			}
		case *runtime.EventExceptionThrown:
			if e.ExceptionDetails != nil {
				msg := e.ExceptionDetails.Text
				if e.ExceptionDetails.Exception != nil {
					msg += " " + e.ExceptionDetails.Exception.Description
				}
				problems.add("exception: " + msg)
			}
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
			shot(t, ctx, what)
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
	src := writeZip(t, map[string]string{"train.py": browserTrainPy, "README.md": "a tiny project\n", ".amlignore": "data/\n", "data/big.bin": "ignored"})

	step("sign in", chromedp.Navigate(env.URL+"/login?token="+webtest.Token), chromedp.WaitVisible(chromedp.ID("tab-clusters")))
	step("open the form from the nav",
		chromedp.Click(chromedp.CSS(`nav[aria-label=Main] a[href="/runs"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/runs/new"]`)),
		chromedp.Click(chromedp.CSS(`a[href="/runs/new"]`)),
		chromedp.WaitVisible(chromedp.ID("archive")))
	step("choose the archive", chromedp.SetUploadFiles(chromedp.ID("archive"), []string{src}))
	poll("the upload is made and the script list filled",
		`!!document.querySelector('[data-testid=snapshot-uploaded]') && document.querySelector('select#script') !== null && document.querySelector('select#script').value === 'train.py'`, 15*time.Second)
	poll("the progress line says it is done", `document.getElementById('upload-text').textContent.startsWith('Uploaded')`, 5*time.Second)
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('select#script option').length`)); err != nil || n != 2 {
		t.Errorf("script choices: %d (%v), want the placeholder and train.py", n, err)
	}
	step("fill in the run",
		chromedp.SendKeys(chromedp.ID("experiment"), "browser-exp"),
		chromedp.SetValue(chromedp.ID("arguments"), "--sleep\n4.5"))
	shot(t, ctx, "submit-form")
	step("submit", chromedp.Click(chromedp.ID("submit-run")), chromedp.WaitVisible(chromedp.CSS(`[data-testid=run-status]`)))
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	if !strings.Contains(loc, "/runs/browser-exp_") {
		t.Fatalf("after submit the browser is on %s", loc)
	}
	// From here on the page is never reloaded: it follows the run itself.
	step("mark the page", chromedp.Evaluate[chromedp.Void](`window.notReloaded = true`))
	poll("the log streams while the script runs",
		`document.querySelector('[data-testid=run-status] [data-state]').dataset.state === 'Running' && document.getElementById('run-log').textContent.includes('epoch 0')`, 30*time.Second)
	// The status part polls every second; a keyboard user on Cancel keeps
	// their focus across the swaps.
	step("focus Cancel", chromedp.Focus(chromedp.ID("cancel-run")))
	time.Sleep(1500 * time.Millisecond)
	if id, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ''`)); err != nil || id != "cancel-run" {
		t.Errorf("after the status part refreshed, focus is on %q (%v), not Cancel", id, err)
	}
	poll("the run completes on the page",
		`document.querySelector('[data-testid=run-status] [data-state]').dataset.state === 'Completed'`, 60*time.Second)
	poll("the accuracy chart appears with its three points",
		`(() => { const s = document.querySelector('svg[data-metric=accuracy]'); return !!s && s.dataset.points === '3' && s.querySelectorAll('circle > title').length === 3 })()`, 10*time.Second)
	poll("the whole log is there", `document.getElementById('run-log').textContent.includes('done training') && document.querySelector('[data-testid=log-follow]').dataset.active === 'false'`, 10*time.Second)
	poll("the outputs are listed", `!!document.querySelector('[data-testid=outputs] a[href$="/outputs/outputs/argv.json"]')`, 10*time.Second)
	if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.notReloaded === true`)); err != nil || !ok {
		t.Fatalf("the run page was reloaded (%v)", err)
	}
	title, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('svg[data-metric=accuracy] circle:last-of-type title').textContent`))
	if err != nil || !strings.HasPrefix(title, "accuracy = 0.93 at step 2") {
		t.Errorf("last point's title %q (%v)", title, err)
	}
	shot(t, ctx, "run-completed")

	// A phone: 390 px wide, no page-level sideways scroll.
	for i, page := range []string{loc, env.URL + "/runs", env.URL + "/runs/new", env.URL + "/experiments/browser-exp"} {
		step("narrow "+page, chromedp.EmulateViewport(390, 844), chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS("main h1")))
		w, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		if err != nil || w > 390 {
			t.Errorf("%s is %d px wide at 390 px (%v)", page, w, err)
		}
		shot(t, ctx, []string{"run", "runs", "submit", "experiment"}[i]+"-390")
	}
	for _, p := range problems.all() {
		if strings.Contains(p, "Content Security Policy") || strings.HasPrefix(p, "exception") {
			t.Errorf("the browser reported: %s", p)
		}
	}
}
