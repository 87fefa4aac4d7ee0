package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"

	"github.com/mattn/go-isatty"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/arm"
)

const computetargetUsage = `Usage: trainyard computetarget <command> [flags]   (alias: trainyard compute)

Manage compute targets, as 'az ml computetarget' does.

Commands:
  create amlcompute        create a compute cluster
  create computeinstance   create a compute instance
  attach remote            attach a Linux VM over SSH
  attach hdinsight         attach an HDInsight cluster over SSH
  attach databricks        attach a Databricks workspace
  attach adla              attach a Data Lake Analytics account
  attach batch             attach an Azure Batch account
  attach slurm             attach a Slurm cluster through slurmrestd
  list                     list compute targets
  show                     show one compute target
  delete                   delete a compute target and what Trainyard made for it
  detach                   detach an attached target; the machine is left alone
  start | stop | restart   power a compute instance on, off or around
  list-nodes               list the nodes of a compute target
  approve-host-key         trust the SSH host key of an attached VM or HDInsight cluster
  update                   change min/max nodes and idle seconds (Slurm power-saving partitions)
  update-secrets           replace the SSH password or private key of an attached VM or HDInsight cluster

Every command takes --workspace ALIAS: a registered Azure ML workspace ('trainyard
workspace list'), whose computes are read and changed in Azure with the same flags
and the same -o json shapes (ARM's). Without it, the server's own (local) workspace.

Run 'trainyard computetarget <command> --help' for a command's flags.
`

// computetarget dispatches the computetarget verbs, after taking out
// --workspace ALIAS (every verb takes it: it names which workspace's
// computes the verb works on).
func (c *cli) computetarget(args []string) error {
	args, ws, err := takeWorkspaceFlag(args)
	if err != nil {
		return err
	}
	c.workspace = ws
	return c.dispatchVerb(args, computetargetUsage, "computetarget needs a command", func(verb string) string {
		return fmt.Sprintf("unknown command %q for trainyard computetarget", verb)
	}, "trainyard computetarget --help", map[string]func([]string) error{
		"create":           c.create,
		"attach":           c.attach,
		"list":             c.list,
		"show":             c.show,
		"delete":           func(a []string) error { return c.remove(a, "Delete") },
		"detach":           func(a []string) error { return c.remove(a, "Detach") },
		"start":            func(a []string) error { return c.power("start", a) },
		"stop":             func(a []string) error { return c.power("stop", a) },
		"restart":          func(a []string) error { return c.power("restart", a) },
		"list-nodes":       c.listNodes,
		"approve-host-key": c.approveHostKey,
		"update-secrets":   c.updateSecrets,
		"update":           c.updateScale,
	})
}

// client builds the API client from the environment, pointed at the
// workspace --workspace named.
func (c *cli) client() (*apiClient, error) {
	api, err := newAPIClient(c.getenv)
	if err != nil {
		return nil, err
	}
	api.inWorkspace(c.workspace)
	return api, nil
}

// takeWorkspaceFlag removes --workspace ALIAS (or --workspace=ALIAS) from
// args, wherever it stands before a lone "--", and returns the alias.
func takeWorkspaceFlag(args []string) (rest []string, alias string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(rest, args[i:]...), alias, nil
		}
		switch {
		case a == "--workspace" || a == "-workspace":
			if i+1 >= len(args) || args[i+1] == "" {
				return nil, "", usagef("trainyard computetarget --help", "--workspace needs an alias")
			}
			alias = args[i+1]
			i++
		case strings.HasPrefix(a, "--workspace=") || strings.HasPrefix(a, "-workspace="):
			alias = a[strings.Index(a, "=")+1:]
			if alias == "" {
				return nil, "", usagef("trainyard computetarget --help", "--workspace needs an alias")
			}
		default:
			rest = append(rest, a)
		}
	}
	return rest, alias, nil
}

// typeAliases maps what --type accepts to computeType values.
func typeAlias(s string) (string, bool) {
	switch strings.ToLower(s) {
	case "amlcompute", "cluster":
		return string(compute.KindCluster), true
	case "computeinstance", "instance":
		return string(compute.KindInstance), true
	case "remote", "virtualmachine", "vm":
		return string(compute.KindVirtualMachine), true
	case "hdinsight":
		return string(compute.KindHDInsight), true
	case "databricks":
		return string(compute.KindDatabricks), true
	case "adla", "datalakeanalytics":
		return string(compute.KindDataLakeAnalytics), true
	case "batch", "azurebatch":
		return string(compute.KindBatch), true
	case "slurm":
		return string(compute.KindSlurm), true
	case "local":
		return string(compute.KindLocal), true
	}
	return "", false
}

func (c *cli) list(args []string) error {
	var out, typ string
	f := newFlagSet("trainyard computetarget list", "[--type TYPE] [-o json|table]", "List the workspace's compute targets.")
	f.String(&typ, "type", "t", "TYPE", "", "only this type: amlcompute, computeinstance, remote, hdinsight, databricks, adla, batch, slurm or local")
	f.Output(&out)
	if err := f.Parse(args, c.stdout); err != nil {
		return err
	}
	want := ""
	if typ != "" {
		var ok bool
		if want, ok = typeAlias(typ); !ok {
			return f.usageErr("unknown --type %q", typ)
		}
	}
	api, err := c.client()
	if err != nil {
		return err
	}
	raws, err := api.listComputes(c.ctx)
	if err != nil {
		return err
	}
	keep := []json.RawMessage{}
	var items []arm.Compute
	for _, raw := range raws {
		var item arm.Compute
		if err := json.Unmarshal(raw, &item); err != nil {
			return fmt.Errorf("the server's list is not the JSON the CLI expects: %w", err)
		}
		if want != "" && !strings.EqualFold(item.Properties.ComputeType, want) {
			continue
		}
		keep = append(keep, raw)
		items = append(items, item)
	}
	if out == "json" {
		return printJSON(c.stdout, map[string]any{"value": keep})
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].Name < items[j].Name })
	return printComputeTable(c.stdout, items)
}

func (c *cli) show(args []string) error {
	var name, out string
	f := newFlagSet("trainyard computetarget show", "--name NAME [-o json|table]", "Show one compute target.")
	f.Name(&name, "name of the compute target")
	f.Output(&out)
	if err := f.Parse(args, c.stdout); err != nil {
		return err
	}
	if err := f.Require("name", name); err != nil {
		return err
	}
	api, err := c.client()
	if err != nil {
		return err
	}
	resp, err := api.do(c.ctx, http.MethodGet, api.computePath(name), nil, nil, nil)
	if err != nil {
		return err
	}
	return printCompute(c.stdout, resp, out, true)
}

// remove deletes (action Delete) or detaches (action Detach) a target.
func (c *cli) remove(args []string, action string) error {
	var (
		name string
		yes  bool
	)
	verb := strings.ToLower(action)
	about := "Delete a compute target and what Trainyard created for it. When stdin and stderr are a terminal, asks first unless --yes is given; otherwise it does not ask."
	if action == "Detach" {
		about = "Detach an attached compute target. The machine, cluster or account itself is left as it is."
	}
	f := newFlagSet("trainyard computetarget "+verb, "--name NAME", about)
	f.Name(&name, "name of the compute target")
	if action == "Delete" {
		f.Bool(&yes, "yes", "y", "do not ask for confirmation")
	}
	if err := f.Parse(args, c.stdout); err != nil {
		return err
	}
	if err := f.Require("name", name); err != nil {
		return err
	}
	if action == "Delete" && !yes && c.interactive() {
		ok, err := c.confirm(fmt.Sprintf("Delete compute target %q? [y/N] ", name))
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("not deleted")
		}
	}
	api, err := c.client()
	if err != nil {
		return err
	}
	resp, err := api.do(c.ctx, http.MethodDelete, api.computePath(name), url.Values{"underlyingResourceAction": {action}}, nil, nil)
	if err != nil {
		return err
	}
	progress, done := "Deleting", "Deleted"
	if action == "Detach" {
		progress, done = "Detaching", "Detached"
	}
	if resp.status == http.StatusAccepted {
		fmt.Fprintf(c.stdout, "%s %s.\n", progress, name)
	} else {
		fmt.Fprintf(c.stdout, "%s %s.\n", done, name)
	}
	return nil
}

// interactive reports whether a person can answer a question: stdin and
// stderr are both terminals.
func (c *cli) interactive() bool {
	in, ok1 := c.stdin.(*os.File)
	errw, ok2 := c.stderr.(*os.File)
	return ok1 && ok2 && isatty.IsTerminal(in.Fd()) && isatty.IsTerminal(errw.Fd())
}

// confirm asks a yes/no question on stderr and reads the answer from stdin.
func (c *cli) confirm(question string) (bool, error) {
	fmt.Fprint(c.stderr, question)
	line, err := bufio.NewReader(c.stdin).ReadString('\n')
	if err != nil && line == "" {
		return false, nil
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

func (c *cli) power(action string, args []string) error {
	var name string
	f := newFlagSet("trainyard computetarget "+action, "--name NAME",
		map[string]string{
			"start":   "Start a stopped compute instance.",
			"stop":    "Stop a running compute instance. Its disk is kept.",
			"restart": "Restart a running compute instance.",
		}[action])
	f.Name(&name, "name of the compute instance")
	if err := f.Parse(args, c.stdout); err != nil {
		return err
	}
	if err := f.Require("name", name); err != nil {
		return err
	}
	api, err := c.client()
	if err != nil {
		return err
	}
	resp, err := api.do(c.ctx, http.MethodPost, api.computePath(name, action), nil, nil, nil)
	if err != nil {
		return err
	}
	progress := map[string]string{"start": "Starting", "stop": "Stopping", "restart": "Restarting"}[action]
	if resp.status == http.StatusAccepted {
		fmt.Fprintf(c.stdout, "%s %s.\n", progress, name)
	} else {
		fmt.Fprintf(c.stdout, "%s %s: done.\n", progress, name)
	}
	return nil
}

func (c *cli) listNodes(args []string) error {
	var name, out string
	f := newFlagSet("trainyard computetarget list-nodes", "--name NAME [-o json|table]", "List the nodes of a compute target: ID, state, addresses, SSH port and the run on each.")
	f.Name(&name, "name of the compute target")
	f.Output(&out)
	if err := f.Parse(args, c.stdout); err != nil {
		return err
	}
	if err := f.Require("name", name); err != nil {
		return err
	}
	api, err := c.client()
	if err != nil {
		return err
	}
	nodes, err := api.listNodes(c.ctx, name)
	if err != nil {
		return err
	}
	if out == "json" {
		return printJSON(c.stdout, arm.NodeList{Nodes: nodes})
	}
	return printNodeTable(c.stdout, nodes)
}

// approveHostKey pins the SSH host key of an attached machine. The server
// refuses a fingerprint the machine is not presenting.
func (c *cli) approveHostKey(args []string) error {
	var name, fingerprint, out string
	f := newFlagSet("trainyard computetarget approve-host-key", "--name NAME --fingerprint SHA256:…",
		"Trust the SSH host key of an attached VM or HDInsight cluster, after comparing the fingerprint with 'ssh-keygen -lf' on the machine. "+
			"The server checks that the machine presents exactly this key, pins it, and checks the machine again with it.")
	f.Name(&name, "name of the compute target")
	f.String(&fingerprint, "fingerprint", "", "SHA256:…", "", "the host key's SHA256 fingerprint, as attach or show printed it")
	f.Output(&out)
	if err := f.Parse(args, c.stdout); err != nil {
		return err
	}
	if err := f.Require("name", name); err != nil {
		return err
	}
	if err := f.Require("fingerprint", fingerprint); err != nil {
		return err
	}
	api, err := c.client()
	if err != nil {
		return err
	}
	resp, err := api.do(c.ctx, http.MethodPost, api.computePath(name, "approveHostKey"), nil, map[string]string{"fingerprint": fingerprint}, nil)
	if err != nil {
		return err
	}
	if out == "json" {
		return printCompute(c.stdout, resp, out, false)
	}
	fmt.Fprintf(c.stdout, "Approved host key %s for %s; checking the machine with it.\n", fingerprint, name)
	return nil
}
