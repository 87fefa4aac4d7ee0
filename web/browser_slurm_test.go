package web_test

import (
	"encoding/base64"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/trainyard/trainyard/compute/slurm/slurmtest"
	"github.com/trainyard/trainyard/web/webtest"
)

// TestBrowserSlurmAttachAndRun is the "done when" in a browser: an
// admin attaches the test Slurm cluster (a real Slurm 22.05: slurmctld,
// three slurmd, slurmrestd with JWT) from the Compute page's Slurm tab,
// pasting the JWT key as base64 the way the form's hint says
// (base64 -w0 jwt_hs256.key), sees it listed and its three nodes on the
// Nodes tab, then submits a run to it from the submit form and watches it
// Complete with its log and metric.
func TestBrowserSlurmAttachAndRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Slurm cluster")
	}
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("python3 is not installed")
	}
	cluster := slurmtest.Start(t, slurmtest.Options{Nodes: 3})
	env := webtest.New(t, webtest.Options{Slurm: true})
	ctx := newBrowser(t)
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
	keyFile, err := os.ReadFile(cluster.JWTKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	pasted := base64.StdEncoding.EncodeToString(keyFile) // what `base64 -w0 jwt_hs256.key` prints

	step("sign in", chromedp.Navigate(env.URL+"/login?token="+webtest.Token), chromedp.WaitVisible(chromedp.ID("tab-slurm")))
	step("open the attach form from the Slurm tab",
		chromedp.Click(chromedp.ID("tab-slurm")),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/computes/attach/slurm"]`)),
		chromedp.Click(chromedp.CSS(`a[href="/computes/attach/slurm"]`)),
		chromedp.WaitVisible(chromedp.ID("restUrl")))
	step("fill in the cluster",
		chromedp.SendKeys(chromedp.ID("name"), "hpc"),
		chromedp.SendKeys(chromedp.ID("restUrl"), cluster.RESTURL),
		chromedp.SendKeys(chromedp.ID("slurmUser"), cluster.User),
		chromedp.SendKeys(chromedp.ID("sharedDir"), cluster.SharedDir),
		chromedp.SendKeys(chromedp.ID("jwtKey"), pasted))
	shot(t, ctx, "slurm-attach-form")
	step("attach", chromedp.Click(chromedp.CSS(`[data-testid=create]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=provisioning-state]`)))
	poll("the cluster is attached",
		`document.querySelector('[data-testid=provisioning-state] [data-state]').dataset.state === 'Succeeded'`, 30*time.Second)
	if html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`)); err != nil || strings.Contains(html, pasted) {
		t.Fatalf("the page shows the JWT key (%v)", err)
	}

	step("see it on the Slurm tab",
		chromedp.Navigate(env.URL+"/computes"),
		chromedp.WaitVisible(chromedp.ID("tab-slurm")),
		chromedp.Click(chromedp.ID("tab-slurm")),
		chromedp.WaitVisible(chromedp.CSS(`main a[href="/computes/hpc"]`)))
	step("open its Nodes tab",
		chromedp.Click(chromedp.CSS(`main a[href="/computes/hpc"]`)),
		chromedp.WaitVisible(chromedp.ID("tab-nodes")),
		chromedp.Click(chromedp.ID("tab-nodes")),
		chromedp.WaitVisible(chromedp.CSS(`#tab-nodes[aria-current=page]`)))
	// The node refresher reads the cluster every few seconds; the page
	// polls by itself, so the first read shows up without a reload.
	poll("node1..node3 listed as idle",
		`(() => { const ids = [...document.querySelectorAll('[data-testid=node-row] [data-testid=node-id]')].map(e => e.textContent.trim());
		  const idle = [...document.querySelectorAll('[data-testid=node-row] [data-testid=node-state] [data-state]')].filter(e => e.dataset.state.toLowerCase() === 'idle').length;
		  return ['node1','node2','node3'].every(n => ids.includes(n)) && idle === 3 })()`, 30*time.Second)
	shot(t, ctx, "slurm-nodes")

	src := writeZip(t, map[string]string{"train.py": browserTrainPy})
	step("open the submit form",
		chromedp.Navigate(env.URL+"/runs/new"),
		chromedp.WaitVisible(chromedp.ID("archive")))
	step("choose the archive", chromedp.SetUploadFiles(chromedp.ID("archive"), []string{src}))
	poll("the upload is made and the script list filled",
		`!!document.querySelector('[data-testid=snapshot-uploaded]') && document.querySelector('select#script') !== null && document.querySelector('select#script').value === 'train.py'`, 15*time.Second)
	step("fill in the run",
		chromedp.SendKeys(chromedp.ID("experiment"), "slurm-browser"),
		chromedp.SetValue(chromedp.ID("arguments"), "--sleep\n1.5"),
		chromedp.SetValue(chromedp.ID("target"), "hpc"))
	if v, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("target"))); err != nil || v != "hpc" {
		t.Fatalf("the target list has no hpc: %q %v", v, err)
	}
	step("submit", chromedp.Click(chromedp.ID("submit-run")), chromedp.WaitVisible(chromedp.CSS(`[data-testid=run-status]`)))
	poll("the run completes on the page",
		`document.querySelector('[data-testid=run-status] [data-state]').dataset.state === 'Completed'`, 90*time.Second)
	poll("the whole log is there", `document.getElementById('run-log').textContent.includes('epoch 2 accuracy 0.93') && document.getElementById('run-log').textContent.includes('done training')`, 15*time.Second)
	poll("the accuracy chart has its three points",
		`(() => { const s = document.querySelector('svg[data-metric=accuracy]'); return !!s && s.dataset.points === '3' })()`, 10*time.Second)
	shot(t, ctx, "slurm-run-completed")
	if ids := cluster.Squeue(t); len(ids) != 0 {
		t.Errorf("jobs left in Slurm: %v", ids)
	}
}
