package web_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/trainyard/trainyard/web/webtest"
)

// chromium finds Debian's Chromium. Without it the browser test is skipped on
// a developer's machine but fails in CI, where `make test` installs it.
func chromium(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed; `make test` installs it with apt-get")
	}
	t.Skip("chromium not installed (make chromium)")
	return ""
}

func newBrowser(t testing.TB) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true), chromedp.Flag("disable-quic", true),
		chromedp.Flag("user-data-dir", t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// TestBrowserCreateClusterWizard is what a new user does: sign in with the
// printed link, open the cluster wizard, pick a size, type a bad name and see
// the error appear as they type, fix it, create, and watch the state reach
// Succeeded on the details page without reloading.
func TestBrowserCreateClusterWizard(t *testing.T) {
	env := webtest.New(t, webtest.Options{BootDelay: 300 * time.Millisecond})
	ctx := newBrowser(t)
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			shot(t, ctx, what)
			t.Fatalf("%s: %v", what, err)
		}
	}
	step("sign in", chromedp.Navigate(env.URL+"/login?token="+webtest.Token), chromedp.WaitVisible(chromedp.ID("tab-clusters")))
	step("open the wizard",
		chromedp.Click(chromedp.ID("tab-clusters")),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/computes/new/cluster"]`)),
		chromedp.Click(chromedp.CSS(`a[href="/computes/new/cluster"]`)),
		chromedp.WaitVisible(chromedp.ID("size-Standard_D2_v2")))
	// The search narrows the sizes as the user types.
	step("search the sizes", chromedp.SendKeys(chromedp.ID("size-search"), "d2_v2"))
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`(() => { const rows = [...document.querySelectorAll('#size-rows tr')];
		const shown = rows.filter(r => !r.hidden); return shown.length > 0 && shown.length < rows.length &&
		shown.every(r => r.dataset.search.includes('d2_v2')) && document.getElementById('size-count').textContent.startsWith(shown.length + ' size'); })()`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		shot(t, ctx, "size-search")
		t.Fatalf("the size search did not narrow the table: %v", err)
	}
	shot(t, ctx, "cluster-wizard")
	step("pick a size and go on",
		chromedp.SetValue(chromedp.ID("vmPriority"), "LowPriority"),
		chromedp.Click(chromedp.ID("size-Standard_D2_v2")),
		chromedp.Click(chromedp.CSS(`button[value=next]`)),
		chromedp.WaitVisible(chromedp.ID("name")))
	step("type a bad name", chromedp.SendKeys(chromedp.ID("name"), "9-web"))
	pollText(t, ctx, "#err-name", "The name must start with a letter.")
	step("clear max nodes", chromedp.Clear(chromedp.ID("maxNodes")), chromedp.SendKeys(chromedp.ID("maxNodes"), "3"))
	step("try Next anyway", chromedp.Click(chromedp.CSS(`button[value=next]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=form-errors]`)))
	pollText(t, ctx, "#err-name", "The name must start with a letter.")
	if v, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("maxNodes"))); err != nil || v != "3" {
		t.Fatalf("the typed max nodes was lost: %q %v", v, err)
	}
	step("fix the name", chromedp.Clear(chromedp.ID("name")), chromedp.SendKeys(chromedp.ID("name"), "web-cluster"))
	pollText(t, ctx, "#err-name", "")
	step("review", chromedp.Click(chromedp.CSS(`button[value=next]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=review]`)))
	review, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid=review]`)))
	if err != nil || !strings.Contains(review, "web-cluster") || !strings.Contains(review, "LowPriority") {
		t.Fatalf("review: %q %v", review, err)
	}
	step("create", chromedp.Click(chromedp.CSS(`[data-testid=create]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=provisioning-state]`)))
	// The live section follows the cluster by itself: no reload between
	// here and Succeeded.
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector('[data-testid=provisioning-state] [data-state]').dataset.state === 'Succeeded'`, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		shot(t, ctx, "succeeded")
		t.Fatalf("state never reached Succeeded on the page: %v", err)
	}
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	if !strings.HasSuffix(strings.SplitN(loc, "?", 2)[0], "/computes/web-cluster") {
		t.Fatalf("ended on %s", loc)
	}
	shot(t, ctx, "cluster-succeeded")
	step("back to the list", chromedp.Navigate(env.URL+"/computes?tab=clusters"), chromedp.WaitVisible(chromedp.CSS(`tr[data-name=web-cluster]`)))
	shot(t, ctx, "compute-list")
}

// pollText waits until the element's text is want (live validation is async).
func pollText(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	js := `(document.querySelector(` + quoteJS(sel) + `) || {}).textContent === ` + quoteJS(want)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		got, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		shot(t, ctx, "poll-"+strings.TrimPrefix(sel, "#"))
		t.Fatalf("%s: text %q, want %q: %v", sel, got, want, err)
	}
}

func quoteJS(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}

// shot saves a PNG when TRAINYARD_SCREENSHOTS names a folder (for looking at
// the page), and always into the test's temp folder on failure.
func shot(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv("TRAINYARD_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return
	}
	p := filepath.Join(dir, name+".png")
	if os.WriteFile(p, png, 0o644) == nil {
		t.Logf("screenshot: %s", p)
	}
}
