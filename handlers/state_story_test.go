package handlers_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/web/webtest"
)

// A failed attach tells one story everywhere: the list, the details page
// (one banner, one next step), the API and so the CLI all say Failed, and
// nothing says "Unusable" or "Not checked yet" beside it.
func TestFailedAttachTellsOneStory(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true, NoDispatcher: true})
	ctx := context.Background()
	if err := env.Store.CreateTarget(ctx, &compute.Target{Name: "hpc", Kind: compute.KindSlurm, ProvisioningState: compute.ProvisioningFailed,
		ProvisioningErrors: []string{"slurmrestd at http://10.0.0.9:6820 did not answer: connection refused"},
		Attach:             &compute.AttachSpec{Address: "10.0.0.9", Unreachable: true, StatusMessage: "connection refused"}}, nil); err != nil {
		t.Fatal(err)
	}
	c := env.Browser(t)
	_, body, _ := webtest.Do(t, c, "GET", env.URL+"/computes?tab=slurm", nil, nil)
	if got := doc(t, body).Find(`tr[data-name=hpc] [data-state]`).AttrOr("data-state", ""); got != "Failed" {
		t.Errorf("list says %q", got)
	}
	_, body, _ = webtest.Do(t, c, "GET", env.URL+"/computes/hpc", nil, nil)
	d := doc(t, body)
	if got := d.Find(`[data-testid=provisioning-state] [data-state]`).AttrOr("data-state", ""); got != "Failed" {
		t.Errorf("details page says %q", got)
	}
	if n := d.Find(`[data-testid=unchecked], [data-testid=unusable]`).Length(); n != 0 {
		t.Errorf("details page also shows %d Unusable / Not checked yet banners", n)
	}
	steps := d.Find(`[data-testid=next-step]`)
	if steps.Length() != 1 || !strings.Contains(steps.Text(), "completes the attach by itself") {
		t.Errorf("next steps: %d, %q", steps.Length(), steps.Text())
	}
	if strings.Contains(body, "being created") {
		t.Errorf("the page of a failed attach says it is being created")
	}
	_, body, _ = webtest.Do(t, c, "GET", env.URL+"/api/v1/computes/hpc", nil, map[string]string{"Accept": "application/json"})
	var res struct {
		Properties struct {
			ProvisioningState string        `json:"provisioningState"`
			TrainyardStatus   compute.Story `json:"trainyardStatus"`
		} `json:"properties"`
	}
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		t.Fatalf("%v: %.300s", err, body)
	}
	if res.Properties.ProvisioningState != "Failed" || res.Properties.TrainyardStatus.State != "Failed" ||
		!strings.Contains(res.Properties.TrainyardStatus.NextStep, "completes the attach by itself") {
		t.Errorf("API: %+v", res.Properties)
	}
}
