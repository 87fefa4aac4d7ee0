package runconfig

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

func addSeeds(f *testing.F) {
	for _, name := range []string{"sdk-generated.runconfig", "mnist-dataset.runconfig", "json.runconfig", "command-job.yml", "hdconfig.yml", "sweep-job.yml"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{"", "script: a\n", "a: &x [*x]\n", "a: &a [1,2]\nb: [*a,*a,*a]\n", "<<: [1]\n", "? [a]\n: b\n", "script: !!binary aGk=\n",
		"{\"script\": 1e999}", "script: a\n---\n", "\ufeffscript: x", "x: |\n  a\n  b\n", "- [[[{}]]]\n"} {
		f.Add([]byte(s))
	}
}

// FuzzParse: the run configuration parser never panics, and what it accepts
// marshals to JSON.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		rc, err := Parse("f.runconfig", data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Line < 1 || !strings.HasPrefix(err.Error(), "f.runconfig:") {
				t.Fatalf("error without file and line: %v", err)
			}
			return
		}
		_ = rc.Validate()
		_ = rc.Summary()
		if _, err := json.Marshal(rc); err != nil {
			t.Fatalf("marshal: %v", err)
		}
	})
}

// FuzzCheck: detecting the kind and parsing v2 jobs never panics.
func FuzzCheck(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Check("f.yml", data)
		if err == nil && res.Summary == "" {
			t.Fatal("valid file without a summary")
		}
		if j, err := ParseJob("f.yml", data); err == nil {
			_ = j.Validate()
			_ = j.Summary()
		}
	})
}
