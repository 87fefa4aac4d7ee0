package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"text/tabwriter"
)

const workspaceUsage = `Usage: trainyard workspace <command> [flags]

Register the Azure Machine Learning workspaces whose computes Trainyard shows and
manages (Admin). Their computes are then used with
'trainyard computetarget <command> --workspace ALIAS'.

Commands:
  add      register a workspace under an alias
  list     list the registered workspaces
  show     show one registered workspace
  remove   forget a workspace (nothing in Azure is touched)

Run 'trainyard workspace <command> --help' for a command's flags.
`

// workspaceCmd dispatches the workspace verbs.
func (c *cli) workspaceCmd(args []string) error {
	return c.dispatchVerb(args, workspaceUsage, "workspace needs a command", func(verb string) string {
		return fmt.Sprintf("unknown command %q for trainyard workspace", verb)
	}, "trainyard workspace --help", map[string]func([]string) error{
		"add":    c.workspaceAdd,
		"list":   c.workspaceList,
		"show":   c.workspaceShow,
		"remove": c.workspaceRemove,
	})
}

// workspaceBody is a workspace as the API sends and takes it.
type workspaceBody struct {
	Alias          string `json:"alias,omitempty"`
	ID             string `json:"id,omitempty"`
	SubscriptionID string `json:"subscriptionId"`
	ResourceGroup  string `json:"resourceGroup"`
	WorkspaceName  string `json:"workspaceName"`
}

func workspacePath(alias string) string { return workspacesPath + "/" + url.PathEscape(alias) }

func (c *cli) workspaceAdd(args []string) error {
	var alias, sub, rg, name, out string
	f := newFlagSet("trainyard workspace add", "-n ALIAS --subscription-id S --resource-group RG --workspace-name W [-o json|table]",
		"Register an Azure ML workspace under an alias (Admin).")
	f.Name(&alias, "the workspace's alias in Trainyard")
	f.String(&sub, "subscription-id", "", "S", "", "the Azure subscription ID (a GUID)")
	f.String(&rg, "resource-group", "g", "RG", "", "the workspace's resource group")
	f.String(&name, "workspace-name", "w", "W", "", "the workspace's name in Azure")
	f.Output(&out)
	if err := f.Parse(args, c.stdout); err != nil {
		return err
	}
	if err := f.Require("name", alias, "subscription-id", sub, "resource-group", rg, "workspace-name", name); err != nil {
		return err
	}
	api, err := newAPIClient(c.getenv)
	if err != nil {
		return err
	}
	resp, err := api.do(c.ctx, http.MethodPut, workspacePath(alias), nil, workspaceBody{SubscriptionID: sub, ResourceGroup: rg, WorkspaceName: name}, nil)
	if err != nil {
		return err
	}
	return c.printWorkspaces(out, resp.body, false)
}

func (c *cli) workspaceList(args []string) error {
	var out string
	f := newFlagSet("trainyard workspace list", "[-o json|table]", "List the registered Azure ML workspaces.")
	f.Output(&out)
	if err := f.Parse(args, c.stdout); err != nil {
		return err
	}
	api, err := newAPIClient(c.getenv)
	if err != nil {
		return err
	}
	resp, err := api.do(c.ctx, http.MethodGet, workspacesPath, nil, nil, nil)
	if err != nil {
		return err
	}
	return c.printWorkspaces(out, resp.body, true)
}

func (c *cli) workspaceShow(args []string) error {
	var alias, out string
	f := newFlagSet("trainyard workspace show", "-n ALIAS [-o json|table]", "Show one registered Azure ML workspace.")
	f.Name(&alias, "the workspace's alias")
	f.Output(&out)
	if err := f.Parse(args, c.stdout); err != nil {
		return err
	}
	if err := f.Require("name", alias); err != nil {
		return err
	}
	api, err := newAPIClient(c.getenv)
	if err != nil {
		return err
	}
	resp, err := api.do(c.ctx, http.MethodGet, workspacePath(alias), nil, nil, nil)
	if err != nil {
		return err
	}
	return c.printWorkspaces(out, resp.body, false)
}

func (c *cli) workspaceRemove(args []string) error {
	var alias string
	f := newFlagSet("trainyard workspace remove", "-n ALIAS", "Forget a registered workspace (Admin); nothing in Azure is touched.")
	f.Name(&alias, "the workspace's alias")
	if err := f.Parse(args, c.stdout); err != nil {
		return err
	}
	if err := f.Require("name", alias); err != nil {
		return err
	}
	api, err := newAPIClient(c.getenv)
	if err != nil {
		return err
	}
	if _, err := api.do(c.ctx, http.MethodDelete, workspacePath(alias), nil, nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Removed the workspace %s.\n", alias)
	return nil
}

// printWorkspaces prints the API's body: as it is with -o json, else a
// table (list: {"value":[…]}; otherwise one workspace).
func (c *cli) printWorkspaces(out string, body []byte, list bool) error {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("the server's answer is not JSON: %w", err)
	}
	if out == "json" {
		return printJSON(c.stdout, v)
	}
	var items []workspaceBody
	if list {
		var l struct {
			Value []workspaceBody `json:"value"`
		}
		if err := json.Unmarshal(body, &l); err != nil {
			return err
		}
		items = l.Value
	} else {
		var one workspaceBody
		if err := json.Unmarshal(body, &one); err != nil {
			return err
		}
		items = []workspaceBody{one}
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ALIAS\tSUBSCRIPTION\tRESOURCE GROUP\tWORKSPACE")
	for _, w := range items {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", w.Alias, w.SubscriptionID, w.ResourceGroup, w.WorkspaceName)
	}
	return tw.Flush()
}
