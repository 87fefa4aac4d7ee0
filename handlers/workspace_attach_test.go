package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/web/webtest"
)

// TestAttachFormInWorkspace stands on Compute_CreateOrUpdate of the
// 2025-12-01 REST API as armreplay replays it: the attach form of an Azure
// workspace offers the kinds ARM attaches from a form (VM, HDInsight), asks
// for the resource ID, and sends ARM the VM with its SSH account; the
// password goes to ARM and is never shown back.
func TestAttachFormInWorkspace(t *testing.T) {
	env, replay, c := newAzureEnv(t)
	const password = "never-shown-attach-pw"

	_, body, _ := webtest.Do(t, c, "GET", env.URL+"/computes?workspace=replay&tab=attached", nil, nil)
	if d := doc(t, body); d.Find(`a[href="/computes/attach/virtualmachine?workspace=replay"]`).Length() != 1 {
		t.Fatalf("the Attached tab of the workspace offers no attach form: %q", d.Find(`[role=toolbar]`).Text())
	}
	status, body, _ := webtest.Do(t, c, "GET", env.URL+"/computes/attach/virtualmachine?workspace=replay", nil, nil)
	d := doc(t, body)
	var kinds []string
	for _, n := range d.Find(`nav[aria-label="Compute type to attach"] a`).Nodes {
		for _, at := range n.Attr {
			if at.Key == "href" {
				kinds = append(kinds, at.Val)
			}
		}
	}
	if status != http.StatusOK || strings.Join(kinds, " ") != "/computes/attach/virtualmachine?workspace=replay /computes/attach/hdinsight?workspace=replay" {
		t.Fatalf("the workspace's attach choices: %d %q", status, kinds)
	}
	if a := d.Find(`main form[method=post]`).Last().AttrOr("action", ""); !strings.Contains(a, "workspace=replay") {
		t.Fatalf("the form posts to %q", a)
	}

	form := url.Values{"step": {"0"}, "nav": {"create"}, "name": {"vm-az"}, "address": {"10.0.0.7"}, "sshPort": {"22"},
		"username": {"azureuser"}, "password": {password}}
	status, body, _ = webtest.Do(t, c, "POST", env.URL+"/computes/attach/virtualmachine?workspace=replay", form, nil)
	if got := doc(t, body).Find("#err-resourceId").Text(); status != http.StatusUnprocessableEntity || !strings.Contains(got, "resource ID") {
		t.Fatalf("without a resource ID: %d, %q", status, got)
	}
	vmID := "/subscriptions/34adfa4f-cedf-4dc0-ba29-b6d1a69ab345/resourceGroups/testrg123/providers/Microsoft.Compute/virtualMachines/vm-az"
	form.Set("resourceId", vmID)
	status, _, h := webtest.Do(t, c, "POST", env.URL+"/computes/attach/virtualmachine?workspace=replay", form, nil)
	if status != http.StatusSeeOther || h.Get("Location") != "/computes/vm-az?workspace=replay" {
		t.Fatalf("attach: %d to %q", status, h.Get("Location"))
	}
	got, ok := replay.Compute("vm-az")
	if !ok {
		t.Fatal("ARM has no vm-az")
	}
	props := got["properties"].(map[string]any)
	inner, _ := props["properties"].(map[string]any)
	acct, _ := inner["administratorAccount"].(map[string]any)
	if props["computeType"] != "VirtualMachine" || props["resourceId"] != vmID || inner["address"] != "10.0.0.7" || acct["username"] != "azureuser" {
		t.Fatalf("ARM got %v", props)
	}
	if !replay.AdminSecretsSent("vm-az") {
		t.Error("the password did not reach ARM")
	}
	_, body, _ = webtest.Do(t, c, "GET", env.URL+"/computes/vm-az?workspace=replay", nil, nil)
	if strings.Contains(body, password) {
		t.Error("the details page shows the password")
	}
}
