package arm

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/trainyard/trainyard/compute"
)

// FuzzSetupScripts: whatever scriptData arrives, reading a compute
// instance's setup scripts never panics, and a script it accepts is exactly
// the decoded text and comes back unchanged in the resource.
func FuzzSetupScripts(f *testing.F) {
	for _, s := range []string{"echo hi\n", "", "\x00", "ü✓ $(rm -rf ~)", "not base64!"} {
		f.Add(base64.StdEncoding.EncodeToString([]byte(s)), "inline")
		f.Add(s, "inline")
	}
	f.Add("ZWNobw==", "datastore")
	f.Fuzz(func(t *testing.T, data, source string) {
		ref := &ScriptReference{ScriptSource: source, ScriptData: data}
		inner, _ := json.Marshal(ComputeInstanceProperties{VMSize: compute.DefaultVMSize, SetupScripts: &SetupScripts{Scripts: &ScriptsToExecute{CreationScript: ref}}})
		req, err := ToCreateRequest("ci-fuzz", Compute{Properties: Properties{ComputeType: string(compute.KindInstance), Properties: inner}})
		if req == nil || req.Instance == nil {
			return
		}
		got := req.Instance.SetupScript
		if got == "" {
			return
		}
		raw, derr := base64.StdEncoding.DecodeString(data)
		if derr != nil || string(raw) != got || len(raw) > compute.MaxScriptBytes {
			t.Fatalf("accepted script %q from scriptData %q (%v)", got, data, err)
		}
		if back := fromScript(got); back.ScriptData != base64.StdEncoding.EncodeToString([]byte(got)) || back.ScriptSource != "inline" {
			t.Fatalf("the script does not come back as it went in: %+v", back)
		}
	})
}
