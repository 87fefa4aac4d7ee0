package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"text/tabwriter"
)

const experimentUsage = `Usage: trainyard experiment <command> [flags]

Manage experiments, as 'az ml experiment' does. Runs belong to experiments;
submitting a run creates its experiment on first use.

Commands:
  create   create an experiment (no error if it exists)
  list     list experiments with their run counts

Run 'trainyard experiment <command> --help' for a command's flags.
`

// experiment dispatches the experiment verbs.
func (c *cli) experiment(args []string) error {
	return c.dispatchVerb(args, experimentUsage, "experiment needs a command", func(verb string) string {
		return fmt.Sprintf("unknown command %q for trainyard experiment", verb)
	}, "trainyard experiment --help", map[string]func([]string) error{
		"create": c.experimentCreate,
		"list":   c.experimentList,
	})
}

// experimentInfo is an experiment as the API returns it.
type experimentInfo struct {
	Name           string `json:"name"`
	ID             string `json:"id"`
	CreatedTimeUTC string `json:"createdTimeUtc"`
	RunCount       *int   `json:"runCount"`
	LastRunTimeUTC string `json:"lastRunTimeUtc"`
}

func printExperimentTable(w io.Writer, items []experimentInfo) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tRUNS\tLAST RUN\tCREATED")
	for _, e := range items {
		runs := "-"
		if e.RunCount != nil {
			runs = strconv.Itoa(*e.RunCount)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Name, runs, dash(e.LastRunTimeUTC), dash(e.CreatedTimeUTC))
	}
	return tw.Flush()
}

// createExperiment creates name on the server (200 when it exists).
func (c *cli) createExperiment(api *apiClient, name string) (*response, error) {
	return api.do(c.ctx, http.MethodPost, experimentsPath, nil, map[string]string{"name": name}, nil)
}

func (c *cli) experimentCreate(args []string) error {
	var name, out string
	f := newFlagSet("trainyard experiment create", "-n NAME [-o json|table]",
		"Create an experiment. Names are 1–255 letters, digits, '_', '-' or '.', starting with a letter or digit. Creating one that exists is not an error.")
	f.Name(&name, "name of the experiment")
	f.Output(&out)
	if err := f.Parse(args, c.stdout); err != nil {
		return err
	}
	if err := f.Require("name", name); err != nil {
		return err
	}
	if msg := checkExperimentName(name); msg != "" {
		return f.usageErr("%s", msg)
	}
	api, err := c.client()
	if err != nil {
		return err
	}
	resp, err := c.createExperiment(api, name)
	if err != nil {
		return err
	}
	if out == "json" {
		return printRaw(c.stdout, resp.body)
	}
	var e experimentInfo
	if err := resp.decode(&e); err != nil {
		return err
	}
	if e.Name == "" {
		e.Name = name
	}
	return printExperimentTable(c.stdout, []experimentInfo{e})
}

func (c *cli) experimentList(args []string) error {
	var out string
	f := newFlagSet("trainyard experiment list", "[-o json|table]", "List the experiments with their run counts and last run.")
	f.Output(&out)
	if err := f.Parse(args, c.stdout); err != nil {
		return err
	}
	api, err := c.client()
	if err != nil {
		return err
	}
	raws, err := api.listAll(c.ctx, experimentsPath, nil, 0)
	if err != nil {
		return err
	}
	if out == "json" {
		return printJSON(c.stdout, map[string]any{"value": raws})
	}
	items := make([]experimentInfo, 0, len(raws))
	for _, raw := range raws {
		var e experimentInfo
		if err := json.Unmarshal(raw, &e); err != nil {
			return fmt.Errorf("the server's experiment list is not the JSON the CLI expects: %w", err)
		}
		items = append(items, e)
	}
	return printExperimentTable(c.stdout, items)
}
