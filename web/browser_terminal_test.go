package web_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/trainyard/trainyard/handlers"
	"github.com/trainyard/trainyard/web/webtest"
)

// TestBrowserTerminal is a user at the instance's terminal in real Chromium:
// the page connects, what they type reaches the shell in the instance's
// home and its output comes back, in colour and UTF-8, and leaving the
// page leaves no process behind.
func TestBrowserTerminal(t *testing.T) {
	env := webtest.New(t, webtest.Options{})
	inst := env.RunningInstance(t, "ci-term", handlers.LocalUser().ID)
	ctx := newBrowser(t)
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			shot(t, ctx, what)
			t.Fatalf("%s: %v", what, err)
		}
	}
	step("sign in", chromedp.Navigate(env.URL+"/login?token="+webtest.Token), chromedp.WaitVisible(chromedp.ID("tab-clusters")))
	step("open the terminal", chromedp.Navigate(env.URL+"/computes/ci-term/terminal"),
		chromedp.WaitVisible(chromedp.CSS(`#terminal[data-state=open]`)))
	// Typed as the keyboard's text input reaches the page (Input.insertText):
	// chromedp's key events arrive at xterm.js both as keydown and as
	// keypress, so every key would be typed twice.
	step("focus the terminal", chromedp.Click(chromedp.CSS(`.xterm-screen`)))
	if _, err := chromedp.Call(ctx, input.InsertText, input.InsertTextParams{Text: `printf '\033[31mRED\033[0m '; echo "$((6*7))-$(pwd)-ü✓"; sleep 4343 &`}); err != nil {
		t.Fatalf("type a command: %v", err)
	}
	// Enter as the key itself: xterm.js turns its keydown into a carriage return.
	for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeRawKeyDown, input.DispatchKeyEventTypeKeyUp} {
		if _, err := chromedp.Call(ctx, input.DispatchKeyEvent, input.DispatchKeyEventParams{Type: typ, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13}); err != nil {
			t.Fatalf("press Enter: %v", err)
		}
	}
	pollContains(t, ctx, ".xterm-rows", "42-"+inst.Instance.WorkDir+"-ü✓")
	pollContains(t, ctx, ".xterm-rows span.xterm-fg-1", "RED")
	waitProcess(t, "sleep 4343", true)
	step("close the page", chromedp.Navigate("about:blank"))
	waitProcess(t, "sleep 4343", false)
}

// pollContains waits until the element's text contains want.
func pollContains(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	js := `((document.querySelector(` + quoteJS(sel) + `) || {}).textContent || "").includes(` + quoteJS(want) + `)`
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		got, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		shot(t, ctx, "contains-"+strings.TrimPrefix(sel, "."))
		t.Fatalf("%s: text %q, want it to contain %q: %v", sel, got, want, err)
	}
}

// waitProcess waits until a process whose command line contains cmd is
// there (want) or gone.
func waitProcess(t *testing.T, cmd string, want bool) {
	t.Helper()
	webtest.WaitFor(t, 10*time.Second, "process "+cmd+map[bool]string{true: " to run", false: " to end"}[want], func() bool {
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			if b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline"); err == nil && strings.Contains(strings.ReplaceAll(string(b), "\x00", " "), cmd) {
				return want
			}
		}
		return !want
	})
}
