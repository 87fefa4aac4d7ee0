package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/web/webtest"
)

func doc(t *testing.T, body string) *goquery.Document {
	t.Helper()
	return docB(t, body)
}

func docB(t testing.TB, body string) *goquery.Document {
	t.Helper()
	d, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func waitState(t *testing.T, env *webtest.Env, name string, want func(*compute.Target) bool) *compute.Target {
	t.Helper()
	var got *compute.Target
	webtest.WaitFor(t, 10*time.Second, name+" to settle", func() bool {
		tg, err := env.Store.GetTarget(context.Background(), name)
		if err != nil {
			return false
		}
		got = tg
		return want(tg)
	})
	return got
}

func TestComputePageNeedsSignIn(t *testing.T) {
	env := webtest.New(t, webtest.Options{})
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct {
		name, method, path string
		wantStatus         int
		wantLocation       string
	}{
		{"page redirects to login help", "GET", "/computes", http.StatusSeeOther, "/login?next=%2Fcomputes"},
		{"API answers 401", "GET", "/api/v1/computes", http.StatusUnauthorized, ""},
		{"wrong login token", "GET", "/login?token=nope", http.StatusUnauthorized, ""},
		{"health is public", "GET", "/healthz", http.StatusOK, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, _, h := webtest.Do(t, c, tc.method, env.URL+tc.path, nil, nil)
			if status != tc.wantStatus {
				t.Fatalf("status %d, want %d", status, tc.wantStatus)
			}
			if tc.wantLocation != "" && h.Get("Location") != tc.wantLocation {
				t.Fatalf("Location %q, want %q", h.Get("Location"), tc.wantLocation)
			}
		})
	}
}

func TestComputeListTabs(t *testing.T) {
	env := webtest.New(t, webtest.Options{})
	c := env.Browser(t)
	tests := []struct {
		tab       string
		wantRow   string // a name expected in the table, or ""
		wantEmpty bool
		wantNew   string
		wantLabel string // the current tab's label as a user reads it
	}{
		{"clusters", "local", false, "/computes/new/cluster", "Compute clusters"},
		{"instances", "", true, "/computes/new/instance", "Compute instances"},
		{"slurm", "", true, "/computes/attach/slurm", "Slurm clusters"},
		{"attached", "", true, "/computes/attach/virtualmachine", "Attached computes"},
	}
	for _, tc := range tests {
		t.Run(tc.tab, func(t *testing.T) {
			status, body, _ := webtest.Do(t, c, "GET", env.URL+"/computes?tab="+tc.tab, nil, nil)
			if status != 200 {
				t.Fatalf("status %d", status)
			}
			d := doc(t, body)
			if got := d.Find(`nav[aria-label="Compute types"] a`).Length(); got != 4 {
				t.Fatalf("%d tabs, want 4", got)
			}
			if cur := d.Find(`nav[aria-label="Compute types"] a[aria-current=page]`).AttrOr("id", ""); cur != "tab-"+tc.tab {
				t.Fatalf("current tab %q", cur)
			}
			if got := strings.TrimSpace(d.Find(`nav[aria-label="Compute types"] a[aria-current=page]`).Text()); !strings.HasPrefix(got, tc.wantLabel) {
				t.Fatalf("current tab reads %q, want %q", got, tc.wantLabel)
			}
			if strings.Contains(d.Find(`nav[aria-label="Compute types"]`).Text(), "Kubernetes") {
				t.Fatal("a tab still offers Kubernetes, which cannot be attached")
			}
			if tc.wantRow != "" && d.Find(`tr[data-name="`+tc.wantRow+`"]`).Length() != 1 {
				t.Fatalf("row %q missing", tc.wantRow)
			}
			if tc.wantEmpty != (d.Find(`[data-testid=empty-state]`).Length() == 1) {
				t.Fatalf("empty state shown = %v, want %v", !tc.wantEmpty, tc.wantEmpty)
			}
			if d.Find(`a[href="`+tc.wantNew+`"]`).Length() == 0 {
				t.Fatalf("no create link %s", tc.wantNew)
			}
		})
	}
}

func TestComputeListSearchSortPage(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true})
	ctx := context.Background()
	for i := 0; i < 30; i++ {
		name := "c" + string(rune('a'+i%26)) + strings.Repeat("x", i/26) + "-node"
		if err := env.Store.CreateTarget(ctx, &compute.Target{Name: name, Kind: compute.KindCluster, ProvisioningState: compute.ProvisioningSucceeded,
			Cluster: &compute.ClusterSpec{VMSize: "Standard_D2_v2", MaxNodes: 2, IdleSecondsBeforeScaleDown: 120}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	c := env.Browser(t)
	_, body, _ := webtest.Do(t, c, "GET", env.URL+"/computes?tab=clusters", nil, nil)
	d := doc(t, body)
	if got := d.Find(`[data-testid=total]`).Text(); got != "Showing 1–25 of 31" {
		t.Fatalf("total text %q", got)
	}
	next, ok := d.Find(`a:contains("Next")`).Attr("href")
	if !ok {
		t.Fatal("no Next link")
	}
	_, body, _ = webtest.Do(t, c, "GET", env.URL+next, nil, map[string]string{"HX-Request": "true", "HX-Target": "compute-table"})
	d = doc(t, body)
	if d.Find("html").Length() != 0 && strings.Contains(body, "<html") {
		t.Fatal("htmx request got a full page, want the table partial")
	}
	if got := d.Find(`[data-testid=total]`).Text(); got != "Showing 26–31 of 31" {
		t.Fatalf("page 2 total text %q", got)
	}
	_, body, _ = webtest.Do(t, c, "GET", env.URL+"/computes?tab=clusters&q=cb&sort=name&desc=1", nil, nil)
	d = doc(t, body)
	var names []string
	d.Find(`tbody tr[data-name]`).Each(func(_ int, s *goquery.Selection) { names = append(names, s.AttrOr("data-name", "")) })
	if strings.Join(names, ",") != "cbx-node,cb-node" {
		t.Fatalf("search+sort rows %v", names)
	}
}

func TestClusterWizard(t *testing.T) {
	env := webtest.New(t, webtest.Options{})
	c := env.Browser(t)
	post := func(v url.Values) (int, *goquery.Document, http.Header) {
		status, body, h := webtest.Do(t, c, "POST", env.URL+"/computes/new/cluster", v, nil)
		return status, doc(t, body), h
	}
	// Step 1 without a size: the error sits under the size picker.
	status, d, _ := post(url.Values{"step": {"0"}, "nav": {"next"}, "vmPriority": {"LowPriority"}, "vmType": {"CPU"}})
	if status != http.StatusUnprocessableEntity || d.Find("#err-vmSize").Text() != "Choose a virtual machine size." {
		t.Fatalf("status %d, vmSize error %q", status, d.Find("#err-vmSize").Text())
	}
	// Step 1 → 2.
	base := url.Values{"vmPriority": {"LowPriority"}, "vmType": {"CPU"}, "vmSize": {"STANDARD_D2_V2"}, "location": {"local"}}
	v := clone(base, "step", "0", "nav", "next")
	status, d, _ = post(v)
	if status != 200 || d.Find("#name").Length() != 1 {
		t.Fatalf("step 2 not shown (status %d)", status)
	}
	if d.Find(`input[type=hidden][name=vmSize]`).AttrOr("value", "") != "STANDARD_D2_V2" {
		t.Fatal("step 1's size is not carried to step 2")
	}
	// A bad name and min > max: both errors, values kept, password never echoed.
	v = clone(base, "step", "1", "nav", "next", "name", "9-bad", "minNodes", "5", "maxNodes", "2", "idleSeconds", "120",
		"adminUserName", "azureuser", "adminPassword", "S3cret-Passw0rd!")
	status, d, _ = post(v)
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d", status)
	}
	if got := d.Find("#err-name").Text(); got != "The name must start with a letter." {
		t.Fatalf("name error %q", got)
	}
	if got := d.Find("#err-minNodes").Text(); !strings.Contains(got, "cannot be more than the maximum") {
		t.Fatalf("minNodes error %q", got)
	}
	if d.Find("#name").AttrOr("value", "") != "9-bad" || d.Find("#maxNodes").AttrOr("value", "") != "2" {
		t.Fatal("typed values were not kept")
	}
	html, _ := d.Html()
	if strings.Contains(html, "S3cret-Passw0rd!") {
		t.Fatal("the password was rendered back into the page")
	}
	draft := d.Find(`input[name=draft]`).AttrOr("value", "")
	// Fixed: review lists the choices and the price.
	v = clone(base, "step", "1", "nav", "next", "name", "cpu-cluster", "minNodes", "1", "maxNodes", "4", "idleSeconds", "120",
		"adminUserName", "azureuser", "draft", draft)
	status, d, _ = post(v)
	if status != 200 || d.Find(`[data-testid=review]`).Length() != 1 {
		t.Fatalf("review not shown (status %d): %s", status, d.Find("[data-testid=form-errors]").Text())
	}
	review := d.Find(`[data-testid=review]`).Text()
	for _, want := range []string{"cpu-cluster", "Standard_D2_v2", "LowPriority", "1 / 4", "$0.03 per node hour"} {
		if !strings.Contains(review, want) {
			t.Fatalf("review lacks %q: %s", want, review)
		}
	}
	// Create → redirected to the details page; the cluster reaches Succeeded with its min node idle.
	v = clone(base, "step", "2", "nav", "create", "name", "cpu-cluster", "minNodes", "1", "maxNodes", "4", "idleSeconds", "120",
		"adminUserName", "azureuser", "draft", draft)
	status, _, h := post(v)
	if status != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/computes/cpu-cluster") {
		t.Fatalf("create: status %d, Location %q", status, h.Get("Location"))
	}
	tg := waitState(t, env, "cpu-cluster", func(t *compute.Target) bool {
		return t.ProvisioningState == compute.ProvisioningSucceeded && t.Nodes.Idle == 1
	})
	if tg.Cluster.VMPriority != compute.LowPriority || tg.Cluster.VMSize != "Standard_D2_v2" || tg.CreatedBy != "local" {
		t.Fatalf("stored cluster %+v", tg.Cluster)
	}
	if len(tg.SecretsSet) != 1 {
		t.Fatalf("admin password not stored: %v", tg.SecretsSet)
	}
	_, body, _ := webtest.Do(t, c, "GET", env.URL+"/computes/cpu-cluster?tab=nodes", nil, nil)
	d = doc(t, body)
	if got := d.Find(`[data-testid=provisioning-state] [data-state]`).AttrOr("data-state", ""); got != "Succeeded" {
		t.Fatalf("details state %q", got)
	}
	// The node is simulated on this machine: its address is shown, but no
	// ssh command, since no SSH server listens on its port.
	if nodes := d.Find(`[data-testid=nodes-table]`).Text(); d.Find(`[data-testid=nodes-table] tbody tr`).Length() != 1 ||
		!strings.Contains(nodes, "127.0.0.1:50000") || strings.Contains(nodes, "ssh -p") {
		t.Fatalf("nodes tab: %s", d.Find(`[data-testid=nodes-table]`).Text())
	}
	if strings.Contains(body, "S3cret-Passw0rd!") {
		t.Fatal("password shown on the details page")
	}
	// The same name again: Studio's wording, on the name field.
	status, d, _ = post(clone(base, "step", "1", "nav", "next", "name", "CPU-cluster", "maxNodes", "4", "idleSeconds", "120"))
	if got := d.Find("#err-name").Text(); status != 422 || got != "Compute name 'CPU-cluster' is not available. Reason: AlreadyExists" {
		t.Fatalf("duplicate: status %d, %q", status, got)
	}
}

func TestLiveValidation(t *testing.T) {
	env := webtest.New(t, webtest.Options{})
	c := env.Browser(t)
	tests := []struct {
		field, value, want string
	}{
		{"name", "ab", "The name must be 3 to 24 characters long (it is 2)."},
		{"name", "ok-123", "A hyphen in the name must be followed later by at least one letter."},
		{"name", "good-name", ""},
		{"name", "local", "Compute name 'local' is not available. Reason: AlreadyExists"},
		{"idleSeconds", "5", "Idle seconds before scale down must be between 30 and 604800."},
		{"maxNodes", "x", "Maximum number of nodes must be a whole number (got \"x\")."},
	}
	for _, tc := range tests {
		t.Run(tc.field+"="+tc.value, func(t *testing.T) {
			v := url.Values{"vmSize": {"Standard_D2_v2"}, "maxNodes": {"4"}, "idleSeconds": {"120"}, "name": {"fine-name"}}
			v.Set(tc.field, tc.value)
			status, body, _ := webtest.Do(t, c, "POST", env.URL+"/computes/new/cluster/validate?field="+tc.field, v, map[string]string{"HX-Request": "true"})
			d := doc(t, body)
			if got := d.Find("#err-" + tc.field).Text(); status != 200 || got != tc.want {
				t.Fatalf("status %d, message %q, want %q", status, got, tc.want)
			}
		})
	}
}

func TestInstanceLifecycle(t *testing.T) {
	env := webtest.New(t, webtest.Options{})
	c := env.Browser(t)
	v := url.Values{"step": {"3"}, "nav": {"create"}, "name": {"my-notebook"}, "vmType": {"CPU"}, "vmSize": {"Standard_DS3_v2"}, "idleShutdownMinutes": {"30"},
		"scheduleAction": {"Stop"}, "scheduleTime": {"19:00"}, "scheduleTimeZone": {"Europe/Stockholm"}, "scheduleDays": {"Monday, Friday"}}
	status, _, h := webtest.Do(t, c, "POST", env.URL+"/computes/new/instance", v, nil)
	if status != http.StatusSeeOther {
		t.Fatalf("create: %d %v", status, h)
	}
	waitState(t, env, "my-notebook", func(t *compute.Target) bool { return t.Instance.State == compute.InstanceRunning })
	// Start while running: Azure's error code, as a 409.
	status, body, _ := webtest.Do(t, c, "POST", env.URL+"/computes/my-notebook/start", url.Values{}, nil)
	if status != http.StatusConflict || !strings.Contains(body, "StartComputeInstanceOnlyAllowedInStoppedState") {
		t.Fatalf("start while running: %d", status)
	}
	status, _, h = webtest.Do(t, c, "POST", env.URL+"/computes/my-notebook/stop", url.Values{}, map[string]string{"HX-Request": "true"})
	if status != 200 || h.Get("HX-Trigger") != "computes-changed" {
		t.Fatalf("stop: %d %v", status, h)
	}
	tg := waitState(t, env, "my-notebook", func(t *compute.Target) bool { return t.Instance.State == compute.InstanceStopped })
	if tg.LastOperation.Name != "Stop" || tg.LastOperation.Status != "Succeeded" {
		t.Fatalf("last operation %+v", tg.LastOperation)
	}
	_, body, _ = webtest.Do(t, c, "GET", env.URL+"/computes?tab=instances", nil, nil)
	d := doc(t, body)
	row := d.Find(`tr[data-name=my-notebook]`)
	if row.Find(`[data-state=Stopped]`).Length() != 1 || row.Find(`button:contains("Start")`).Length() != 1 {
		t.Fatalf("instance row: %s", row.Text())
	}
	// Delete from the page: gone from the store.
	status, _, _ = webtest.Do(t, c, "POST", env.URL+"/computes/my-notebook/delete", url.Values{}, nil)
	if status != http.StatusSeeOther {
		t.Fatalf("delete: %d", status)
	}
	webtest.WaitFor(t, 10*time.Second, "instance deleted", func() bool {
		_, err := env.Store.GetTarget(context.Background(), "my-notebook")
		return err != nil
	})
}

func TestAttachVirtualMachine(t *testing.T) {
	env := webtest.New(t, webtest.Options{})
	c := env.Browser(t)
	const secret = "hunter2-very-secret"
	bad := url.Values{"step": {"0"}, "nav": {"create"}, "name": {"gpu-vm"}, "address": {"not a host!"}, "username": {"azureuser"}, "password": {secret},
		"resourceId": {"/subscriptions/abc/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"}}
	status, body, _ := webtest.Do(t, c, "POST", env.URL+"/computes/attach/virtualmachine", bad, nil)
	d := doc(t, body)
	if status != 422 || !strings.Contains(d.Find("#err-address").Text(), "is not a host name or IP address") ||
		!strings.Contains(d.Find("#err-resourceId").Text(), `subscription "abc" is not a GUID`) {
		t.Fatalf("status %d address %q resourceId %q", status, d.Find("#err-address").Text(), d.Find("#err-resourceId").Text())
	}
	if strings.Contains(body, secret) {
		t.Fatal("password rendered back")
	}
	// Nothing listens on this port: the SSH backend's check is refused at once.
	port := strconv.Itoa(closedPort(t))
	good := url.Values{"step": {"0"}, "nav": {"create"}, "name": {"gpu-vm"}, "address": {"127.0.0.1"}, "sshPort": {port}, "username": {"azureuser"},
		"draft": {d.Find(`input[name=draft]`).AttrOr("value", "")}}
	status, _, _ = webtest.Do(t, c, "POST", env.URL+"/computes/attach/virtualmachine", good, nil)
	if status != http.StatusSeeOther {
		t.Fatalf("attach with the password kept from the first try: %d", status)
	}
	tg := waitState(t, env, "gpu-vm", func(t *compute.Target) bool { return t.ProvisioningState == compute.ProvisioningFailed })
	if tg.Attach.Checked || len(tg.SecretsSet) != 1 || len(tg.ProvisioningErrors) != 1 || !strings.Contains(tg.ProvisioningErrors[0], "connecting to 127.0.0.1:"+port) {
		t.Fatalf("attach %+v secrets %v errors %q", tg.Attach, tg.SecretsSet, tg.ProvisioningErrors)
	}
	_, body, _ = webtest.Do(t, c, "GET", env.URL+"/computes/gpu-vm", nil, nil)
	d = doc(t, body)
	// The failed attach is told once, as failed, with its error (not also
	// as "Not checked yet").
	if !strings.Contains(d.Find(`[data-testid=provisioning-errors]`).Text(), "connecting to 127.0.0.1:"+port) || strings.Contains(body, secret) ||
		d.Find(`[data-testid=unchecked]`).Length() != 0 {
		t.Fatalf("details: errors=%q unchecked=%q", d.Find(`[data-testid=provisioning-errors]`).Text(), d.Find(`[data-testid=unchecked]`).Text())
	}
	_, body, _ = webtest.Do(t, c, "GET", env.URL+"/computes?tab=attached", nil, nil)
	if doc(t, body).Find(`tr[data-name=gpu-vm] button:contains("Detach")`).Length() != 1 {
		t.Fatal("no Detach action on the attached row")
	}
}

func clone(base url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, v := range base {
		out[k] = append([]string(nil), v...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Set(kv[i], kv[i+1])
	}
	return out
}

// Min and max nodes are one rule: changing either re-checks the other's
// message with the values on screen, so a fixed max clears min's message.
func TestLiveValidationMinMaxUsesValuesOnScreen(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true, NoDispatcher: true})
	c := env.Browser(t)
	check := func(field, min, max string) (string, string) {
		t.Helper()
		v := url.Values{"vmSize": {"Standard_D2_v2"}, "minNodes": {min}, "maxNodes": {max}, "idleSeconds": {"120"}, "name": {"fine-name"}}
		_, body, _ := webtest.Do(t, c, "POST", env.URL+"/computes/new/cluster/validate?field="+field, v, map[string]string{"HX-Request": "true"})
		d := doc(t, body)
		return d.Find("#err-minNodes").Text(), d.Find("#err-maxNodes").AttrOr("hx-swap-oob", "")
	}
	if msg, _ := check("minNodes", "5", "3"); msg != "The minimum number of nodes (5) cannot be more than the maximum (3)." {
		t.Errorf("min 5, max 3: %q", msg)
	}
	msg, _ := check("maxNodes", "5", "10")
	if msg != "" {
		t.Errorf("after max became 10 the min message is still %q", msg)
	}
	if msg, _ := check("maxNodes", "7", "6"); msg != "The minimum number of nodes (7) cannot be more than the maximum (6)." {
		t.Errorf("typing max 6 under min 7: %q", msg)
	}
}

// The size picker says how much of this machine a node of each size takes,
// and marks the sizes larger than the machine.
func TestSizePickerShowsMachineShare(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true, NoDispatcher: true})
	c := env.Browser(t)
	_, body, _ := webtest.Do(t, c, "GET", env.URL+"/computes/new/cluster", nil, nil)
	d := doc(t, body)
	if d.Find(`#size-search[data-size-search=size-rows]`).Length() != 1 {
		t.Errorf("no size search")
	}
	cpus := runtime.NumCPU()
	rows := d.Find(`#size-rows tr`)
	if rows.Length() == 0 {
		t.Fatal("no sizes")
	}
	rows.Each(func(_ int, tr *goquery.Selection) {
		vcpus, _ := strconv.Atoi(strings.TrimSpace(tr.Find("td").Eq(3).Text()))
		share := tr.Find(`[data-testid=size-share]`).Text()
		if big := vcpus > cpus; big != strings.HasPrefix(share, "more than this machine") {
			t.Errorf("%s (%d vCPUs on a %d-CPU machine): %q", tr.Find("label").Text(), vcpus, cpus, share)
		}
	})
}
