package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/web/webtest"
)

// The command bar: Stop over two selected instances first asks once, naming
// both and what is lost, and changes nothing; confirmed, it stops each; a
// compute the user may not touch is reported as refused while the others go.
func TestComputeBulkCommands(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true, NoDispatcher: true})
	ctx := context.Background()
	for _, name := range []string{"ws-a", "ws-b"} {
		if err := env.Store.CreateTarget(ctx, &compute.Target{Name: name, Kind: compute.KindInstance, ProvisioningState: compute.ProvisioningSucceeded,
			Instance: &compute.InstanceSpec{VMSize: "Standard_DS3_v2", State: compute.InstanceRunning}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	c := env.Browser(t)
	form := url.Values{"tab": {"instances"}, "action": {"stop"}, "sel": {"ws-a", "ws-b"}}
	status, body, _ := webtest.Do(t, c, "POST", env.URL+"/computes/bulk", form, htmxTo("bulk-panel"))
	d := doc(t, body)
	q := d.Find(`[data-testid=bulk-confirm]`).Text()
	if status != http.StatusOK || !strings.Contains(q, "ws-a, ws-b") || !strings.Contains(q, "runs are canceled") {
		t.Fatalf("confirmation: %d %q", status, q)
	}
	for _, name := range []string{"ws-a", "ws-b"} {
		if tg, _ := env.Store.GetTarget(ctx, name); tg.Instance.State != compute.InstanceRunning {
			t.Errorf("%s changed before the confirmation: %s", name, tg.Instance.State)
		}
	}
	form.Set("confirm", "1")
	form["sel"] = []string{"ws-a", "ws-b", "gone"}
	_, body, h := webtest.Do(t, c, "POST", env.URL+"/computes/bulk", form, htmxTo("bulk-panel"))
	d = doc(t, body)
	if h.Get("HX-Trigger") != "computes-changed" || d.Find(`[data-testid=bulk-results] li`).Length() != 3 ||
		!strings.Contains(d.Find(`li[data-name=gone]`).Text(), "was not found") {
		t.Fatalf("results: %q", d.Find(`[data-testid=bulk-results]`).Text())
	}
	for _, name := range []string{"ws-a", "ws-b"} {
		if tg, _ := env.Store.GetTarget(ctx, name); tg.Instance.State != compute.InstanceStopping {
			t.Errorf("%s is %s after a confirmed stop", name, tg.Instance.State)
		}
	}
	// A command the tab does not have, and an empty selection.
	status, _, _ = webtest.Do(t, c, "POST", env.URL+"/computes/bulk", url.Values{"tab": {"clusters"}, "action": {"start"}, "sel": {"ws-a"}}, htmxTo("bulk-panel"))
	if status != http.StatusUnprocessableEntity {
		t.Errorf("start on the clusters tab: %d", status)
	}
	_, body, _ = webtest.Do(t, c, "POST", env.URL+"/computes/bulk", url.Values{"tab": {"instances"}, "action": {"delete"}}, htmxTo("bulk-panel"))
	if !strings.Contains(doc(t, body).Find(`[data-testid=bulk-error]`).Text(), "Select one or more") {
		t.Errorf("an empty selection: %.200s", body)
	}
	// The list keeps the boxes a live refresh carries (sel) checked.
	_, body, _ = webtest.Do(t, c, "GET", env.URL+"/computes?tab=instances&sel=ws-b", nil, htmxTo("compute-table"))
	d = doc(t, body)
	if _, ok := d.Find(`input[name=sel][value=ws-b]`).Attr("checked"); !ok {
		t.Errorf("ws-b lost its check on refresh")
	}
	if _, ok := d.Find(`input[name=sel][value=ws-a]`).Attr("checked"); ok {
		t.Errorf("ws-a was checked without being selected")
	}
}
