package azure_test

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	armml "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/machinelearning/armmachinelearning/v4"
)

// TestSDKModelsKeepThe20251201Computes stands on the published examples of
// api-version 2025-12-01 (armreplay/testdata, verbatim). armmachinelearning
// v4.0.0 was generated for 2024-04-01 and is asked for 2025-12-01
// (ClientOptions.APIVersion); bodies pass through its models, which drop
// what they do not know. Every compute body of the examples (requests and
// answers) must come back from the models with every field it had, so
// nothing 2025-12-01 added to these shapes is lost on the way.
func TestSDKModelsKeepThe20251201Computes(t *testing.T) {
	root := filepath.Join("armreplay", "testdata", "2025-12-01", "Compute")
	var bodies int
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var ex struct {
			Parameters struct {
				Parameters json.RawMessage `json:"parameters"`
			} `json:"parameters"`
			Responses map[string]struct {
				Body json.RawMessage `json:"body"`
			} `json:"responses"`
		}
		if err := json.Unmarshal(data, &ex); err != nil {
			return err
		}
		check := func(where string, raw json.RawMessage) {
			var probe map[string]any
			if json.Unmarshal(raw, &probe) != nil || probe["properties"] == nil || strings.Contains(path, "listNodes") || strings.Contains(path, "patch") {
				return // not a compute resource (a node list; a PATCH's ClusterUpdateParameters)
			}
			bodies++
			var res armml.ComputeResource
			if err := json.Unmarshal(raw, &res); err != nil {
				t.Errorf("%s %s: the SDK refuses it: %v", path, where, err)
				return
			}
			back, err := json.Marshal(res)
			if err != nil {
				t.Fatal(err)
			}
			var after map[string]any
			if err := json.Unmarshal(back, &after); err != nil {
				t.Fatal(err)
			}
			if lost := missing(probe, after, ""); len(lost) > 0 {
				t.Errorf("%s %s: the SDK's models drop %s", path, where, strings.Join(lost, ", "))
			}
		}
		check("request", ex.Parameters.Parameters)
		for status, r := range ex.Responses {
			var list struct {
				Value []json.RawMessage `json:"value"`
			}
			if json.Unmarshal(r.Body, &list) == nil && list.Value != nil {
				for _, v := range list.Value {
					check(status+" list item", v)
				}
				continue
			}
			check(status, r.Body)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if bodies < 10 {
		t.Fatalf("only %d compute bodies checked; the examples moved?", bodies)
	}
}

// missing lists the paths of want that got lacks (null values in want
// count as absent: the models omit them).
func missing(want, got map[string]any, prefix string) []string {
	var out []string
	for k, v := range want {
		if v == nil {
			continue
		}
		g, ok := got[k]
		if !ok {
			out = append(out, prefix+k)
			continue
		}
		if wm, ok := v.(map[string]any); ok {
			if gm, ok := g.(map[string]any); ok {
				out = append(out, missing(wm, gm, prefix+k+".")...)
			}
		}
		if wl, ok := v.([]any); ok {
			if gl, ok := g.([]any); ok && len(gl) == len(wl) {
				for i := range wl {
					wm, ok1 := wl[i].(map[string]any)
					gm, ok2 := gl[i].(map[string]any)
					if ok1 && ok2 {
						out = append(out, missing(wm, gm, prefix+k+"[].")...)
					}
				}
			}
		}
	}
	sort.Strings(out)
	return out
}
