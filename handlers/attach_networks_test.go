package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/web/webtest"
)

// TestAttachOutsideNetworksIsRefused: an attach whose machine or
// slurmrestd is outside the allowed networks (by default loopback and the
// private ranges), or link-local, is a 422 on its field that names the
// address and the networks, from the API and from the forms; nothing is
// created and nothing is contacted.
func TestAttachOutsideNetworksIsRefused(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true, NoDispatcher: true})
	nets := "(" + strings.ReplaceAll(compute.DefaultAttachNetworks, ",", ", ") + ")"
	vm := func(addr string) map[string]any {
		return map[string]any{"properties": map[string]any{"computeType": "VirtualMachine", "properties": map[string]any{
			"address": addr, "sshPort": 22, "administratorAccount": map[string]any{"username": "azureuser", "password": "pw"}}}}
	}
	slurm := func(u string) map[string]any {
		return map[string]any{"properties": map[string]any{"computeType": "Slurm", "properties": map[string]any{
			"restUrl": u, "user": "root", "jwtKey": slurmKeyB64}}}
	}
	for _, tc := range []struct {
		name  string
		body  map[string]any
		field string
		want  string
	}{
		{"vm-public", vm("8.8.8.8"), "address", "Trainyard may not connect to 8.8.8.8: it is outside the networks attached compute may be in " + nets + "; an Admin can change them with trainyard serve --attach-networks."},
		{"vm-metadata", vm("169.254.169.254"), "address", "Trainyard may not connect to 169.254.169.254: it is in 169.254.0.0/16 (link-local, where clouds serve instance metadata), which Trainyard never contacts."},
		{"vm-link-local6", vm("fe80::1"), "address", "Trainyard may not connect to fe80::1: it is in fe80::/10"},
		{"slurm-public", slurm("https://203.0.113.7:6820"), "restUrl", "Trainyard may not connect to 203.0.113.7: it is outside the networks attached compute may be in " + nets},
		{"slurm-metadata", slurm("http://169.254.169.254/"), "restUrl", "Trainyard may not connect to 169.254.169.254: it is in 169.254.0.0/16"},
	} {
		var out struct {
			Error struct {
				Details []struct{ Target, Message string } `json:"details"`
			} `json:"error"`
		}
		b := apiJSON(t, env, "PUT", "/api/v1/computes/"+tc.name, tc.body, http.StatusUnprocessableEntity, nil)
		_ = json.Unmarshal(b, &out)
		if len(out.Error.Details) != 1 || out.Error.Details[0].Target != tc.field || !strings.HasPrefix(out.Error.Details[0].Message, tc.want) {
			t.Errorf("%s: %s\nwant %s: %s", tc.name, b, tc.field, tc.want)
		}
		if _, err := env.Store.GetTarget(context.Background(), tc.name); err == nil {
			t.Errorf("%s was created", tc.name)
		}
	}
	// Private addresses and names that do not resolve here pass (a name is
	// judged again, like every address, when a connection is made).
	apiJSON(t, env, "PUT", "/api/v1/computes/vm-private", vm("10.0.0.4"), http.StatusCreated, nil)
	apiJSON(t, env, "PUT", "/api/v1/computes/vm-name", vm("vm.does-not-resolve.invalid"), http.StatusCreated, nil)

	// The forms show it under the field.
	c := env.Browser(t)
	status, body, _ := webtest.Do(t, c, "POST", env.URL+"/computes/attach/virtualmachine", url.Values{"step": {"0"}, "nav": {"create"},
		"name": {"form-vm"}, "address": {"8.8.8.8"}, "username": {"azureuser"}, "password": {"pw"}}, nil)
	if got := doc(t, body).Find("#err-address").Text(); status != http.StatusUnprocessableEntity || !strings.Contains(got, "Trainyard may not connect to 8.8.8.8: it is outside the networks attached compute may be in "+nets) {
		t.Errorf("VM form: %d, address error %q", status, got)
	}
	status, body, _ = webtest.Do(t, c, "POST", env.URL+"/computes/attach/slurm", url.Values{"step": {"0"}, "nav": {"create"},
		"name": {"form-hpc"}, "restUrl": {"http://169.254.169.254:6820"}, "slurmUser": {"root"}, "jwtKey": {slurmKeyB64}}, nil)
	if got := doc(t, body).Find("#err-restUrl").Text(); status != http.StatusUnprocessableEntity || !strings.Contains(got, "which Trainyard never contacts") {
		t.Errorf("Slurm form: %d, restUrl error %q", status, got)
	}
	for _, name := range []string{"form-vm", "form-hpc"} {
		if _, err := env.Store.GetTarget(context.Background(), name); err == nil {
			t.Errorf("%s was created", name)
		}
	}
}
