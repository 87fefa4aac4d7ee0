package handlers_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/web/webtest"
)

// TestSetupScriptsThroughTheAPI: scripts given with the instance are stored
// with it and run by the controller; a failed creation script leaves the
// instance Failed with the script's last lines as the error, and both
// scripts' logs are on the details page.
func TestSetupScriptsThroughTheAPI(t *testing.T) {
	env := webtest.New(t, webtest.Options{})
	op := env.TokenFor(t, "tid-1/oid-op", compute.RoleComputeOperator)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	cases := []struct {
		name, creation, startup string
		wantState               compute.ProvisioningState
		wantError, wantWarning  string
		wantLog                 string // on the page, the creation script's output
	}{
		{"ci-good", "echo hello from setup", "echo cannot start this >&2; exit 4", compute.ProvisioningSucceeded, "", "The startup script exited with code 4. Its last lines:\ncannot start this", "hello from setup"},
		{"ci-bad", "echo step 1; echo broken >&2; exit 2", "echo never", compute.ProvisioningFailed, "The creation script exited with code 2. Its last lines:\nstep 1\nbroken", "", "step 1\nbroken"},
	}
	for _, tc := range cases {
		body := `{"properties":{"computeType":"ComputeInstance","properties":{"vmSize":"Standard_DS3_v2","setupScripts":{"scripts":{` +
			`"creationScript":{"scriptSource":"inline","scriptData":"` + b64(tc.creation) + `"},` +
			`"startupScript":{"scriptSource":"inline","scriptData":"` + b64(tc.startup) + `"}}}}}}`
		req, _ := http.NewRequest("PUT", env.URL+"/api/v1/computes/"+tc.name, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+op)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT %s: %d", tc.name, resp.StatusCode)
		}
		tg := waitState(t, env, tc.name, func(t *compute.Target) bool { return !t.ProvisioningState.Transitional() })
		got := strings.Join(tg.ProvisioningErrors, "|")
		if tg.ProvisioningState != tc.wantState || got != tc.wantError || tg.Instance.StartupWarning != tc.wantWarning {
			t.Errorf("%s: %s, errors %q, warning %q; want %s, %q, %q", tc.name, tg.ProvisioningState, got, tg.Instance.StartupWarning, tc.wantState, tc.wantError, tc.wantWarning)
		}
		if tg.Instance.SetupScript != tc.creation || tg.Instance.StartupScript != tc.startup {
			t.Errorf("%s: stored scripts %q, %q", tc.name, tg.Instance.SetupScript, tg.Instance.StartupScript)
		}
		_, page := bearer(t, env, op, "GET", "/computes/"+tc.name)
		d := doc(t, page)
		if log := d.Find(`[data-testid=script-log][data-script="Creation script"]`).Text(); !strings.Contains(log, tc.wantLog) {
			t.Errorf("%s: creation log on the page %q", tc.name, log)
		}
		if tc.wantWarning != "" && !strings.Contains(d.Find(`[data-testid=startup-warning]`).Text(), "exited with code 4") {
			t.Errorf("%s: no startup warning on the page", tc.name)
		}
	}

	// The API gives the scripts back, inline as ARM does.
	_, js := bearer(t, env, op, "GET", "/api/v1/computes/ci-good")
	if !strings.Contains(js, `"creationScript":{"scriptSource":"inline","scriptData":"`+b64("echo hello from setup")+`"}`) {
		t.Errorf("GET ci-good has no creationScript: %s", js)
	}
}
