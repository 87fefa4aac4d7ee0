package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/web/webtest"
)

// TestPageCacheShowsEveryChange: the compute list and the JSON list are
// answered from the page cache while nothing changed, yet a cluster
// created, or a session signed out, shows on the very next request; and
// every answer carries its own CSP nonce in its scripts.
func TestPageCacheShowsEveryChange(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true, NoDispatcher: true})
	ctx := context.Background()
	browser := env.Browser(t)
	bearer := map[string]string{"Authorization": "Bearer " + webtest.Token}

	seen := map[string]bool{}
	for i := range 3 {
		status, body, h := webtest.Do(t, browser, "GET", env.URL+"/computes?tab=clusters", nil, nil)
		if status != http.StatusOK {
			t.Fatalf("GET /computes: %d", status)
		}
		nonce := cspNonce.FindStringSubmatch(h.Get("Content-Security-Policy"))
		if nonce == nil || seen[nonce[1]] {
			t.Fatalf("request %d: CSP nonce missing or reused: %q", i, h.Get("Content-Security-Policy"))
		}
		seen[nonce[1]] = true
		d, _ := goquery.NewDocumentFromReader(strings.NewReader(body))
		d.Find("script").Each(func(_ int, s *goquery.Selection) {
			if n, _ := s.Attr("nonce"); n != nonce[1] {
				t.Errorf("request %d: a script carries nonce %q, the response's is %q", i, n, nonce[1])
			}
		})
	}

	for i := range 3 {
		name := "cached-" + string(rune('a'+i))
		tg := &compute.Target{Name: name, Kind: compute.KindCluster, ProvisioningState: compute.ProvisioningSucceeded, CreatedBy: "test", CreatedAt: time.Now(),
			Cluster: &compute.ClusterSpec{VMSize: "Standard_D2_v2", VMPriority: compute.Dedicated, MaxNodes: 2, IdleSecondsBeforeScaleDown: 120}}
		if err := env.Store.CreateTarget(ctx, tg, nil); err != nil {
			t.Fatal(err)
		}
		if _, body, _ := webtest.Do(t, browser, "GET", env.URL+"/computes?tab=clusters", nil, nil); !strings.Contains(body, name) {
			t.Errorf("the compute list right after creating %s does not show it", name)
		}
		if _, body, _ := webtest.Do(t, env.Client(), "GET", env.URL+"/api/v1/computes", nil, bearer); !strings.Contains(body, `"`+name+`"`) {
			t.Errorf("the JSON list right after creating %s does not show it", name)
		}
	}

	webtest.Do(t, browser, "POST", env.URL+"/logout", nil, nil)
	if status, _, h := webtest.Do(t, browser, "GET", env.URL+"/computes?tab=clusters", nil, nil); status != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/login") {
		t.Errorf("after signing out the compute list answered %d (Location %q), want the way to sign in", status, h.Get("Location"))
	}
}
