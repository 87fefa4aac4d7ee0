package main

import (
	"errors"
	"fmt"

	"github.com/trainyard/trainyard/compute/runconfig"
)

// validateResult is one file in `validate -o json`.
type validateResult struct {
	File    string         `json:"file"`
	Kind    runconfig.Kind `json:"kind,omitempty"`
	Valid   bool           `json:"valid"`
	Summary string         `json:"summary,omitempty"`
	Error   *validateError `json:"error,omitempty"`
}

type validateError struct {
	Line         int    `json:"line,omitempty"`
	Field        string `json:"field,omitempty"`
	Message      string `json:"message"`
	NotSupported bool   `json:"notSupported,omitempty"`
}

func (c *cli) validate(args []string) error {
	var out string
	f := newFlagSet("trainyard validate", "[-o json|table] FILE...",
		"Check configuration files offline: run configurations (.runconfig, YAML or JSON), HyperDrive configurations (hdconfig.yml) "+
			"and v2 command and sweep job YAML (sweeps with the rules of POST /api/v1/sweeps). For each file print what was understood, or the first problem as FILE:LINE: FIELD: MESSAGE on stderr; "+
			"warnings (not fatal) go to stderr too. "+
			"Exits 0 only when every file is valid.")
	f.Output(&out)
	files, err := f.parseArgs(args, c.stdout)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return f.usageErr("give one or more files to check")
	}
	var results []validateResult
	bad := 0
	for _, file := range files {
		res, err := runconfig.CheckFile(file)
		if err != nil {
			bad++
			ve := &validateError{Message: err.Error(), NotSupported: errors.Is(err, runconfig.ErrNotSupported)}
			var re *runconfig.Error
			if errors.As(err, &re) {
				ve.Line, ve.Field, ve.Message = re.Line, re.Field, re.Message
			}
			results = append(results, validateResult{File: file, Error: ve})
			if out != "json" {
				if re == nil {
					fmt.Fprintf(c.stderr, "%s: %v\n", file, err)
				} else {
					fmt.Fprintln(c.stderr, err)
				}
			}
			continue
		}
		results = append(results, validateResult{File: file, Kind: res.Kind, Valid: true, Summary: res.Summary})
		if out != "json" {
			fmt.Fprintf(c.stdout, "OK %s: %s\n", file, res.Summary)
			for _, n := range res.Notes {
				fmt.Fprintln(c.stderr, n)
			}
			for _, w := range res.Warnings {
				fmt.Fprintf(c.stderr, "%s: warning: %s\n", file, w)
			}
		}
	}
	if out == "json" {
		if err := printJSON(c.stdout, results); err != nil {
			return err
		}
	}
	switch {
	case bad == 0:
		return nil
	case len(files) == 1:
		return errors.New("the file is not valid")
	}
	return fmt.Errorf("%d of %d files are not valid", bad, len(files))
}
