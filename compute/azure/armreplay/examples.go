package armreplay

import (
	"embed"
	"encoding/json"
	"fmt"
	"path"
)

// examples are the REST API's published examples for api-version
// 2025-12-01, verbatim (testdata/README.md says where from).
//
//go:embed testdata/2025-12-01
var examples embed.FS

// APIVersion is the version of the examples; every request must name it.
const APIVersion = "2025-12-01"

// example is one example file: its parameters and, per status, the
// response's body and headers.
type example struct {
	Parameters map[string]json.RawMessage `json:"parameters"`
	Responses  map[string]struct {
		Body    json.RawMessage   `json:"body"`
		Headers map[string]string `json:"headers"`
	} `json:"responses"`
}

// load reads one example, e.g. "Compute/get/AmlCompute.json".
func load(name string) (example, error) {
	var ex example
	data, err := examples.ReadFile(path.Join("testdata", APIVersion, name))
	if err != nil {
		return ex, err
	}
	if err := json.Unmarshal(data, &ex); err != nil {
		return ex, fmt.Errorf("%s: %w", name, err)
	}
	return ex, nil
}

// body returns the example's response body for status as a generic JSON
// object, to be adapted to the request at hand (names, IDs, states).
func (ex example) body(status string) map[string]any {
	var m map[string]any
	_ = json.Unmarshal(ex.Responses[status].Body, &m)
	return m
}
