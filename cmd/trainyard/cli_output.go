package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/arm"
)

// printJSON writes v as indented JSON. Raw JSON from the server is
// re-indented as it is, so fields the CLI does not know are kept.
func printJSON(w io.Writer, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", data)
	return err
}

// printCompute writes one compute from a response, as JSON or a one-row
// table; with errors, provisioning errors follow the table.
func printCompute(w io.Writer, resp *response, format string, errors bool) error {
	if format == "json" {
		var buf bytes.Buffer
		if err := json.Indent(&buf, bytes.TrimSpace(resp.body), "", "  "); err != nil {
			return fmt.Errorf("the server's answer is not JSON: %w", err)
		}
		buf.WriteByte('\n')
		_, err := buf.WriteTo(w)
		return err
	}
	var c arm.Compute
	if err := resp.decode(&c); err != nil {
		return err
	}
	if err := printComputeTable(w, []arm.Compute{c}); err != nil {
		return err
	}
	if errors {
		for _, e := range c.Properties.ProvisioningErrors {
			fmt.Fprintf(w, "\nProvisioning error %s: %s\n", e.Error.Code, e.Error.Message)
		}
		if st := attachStatusOf(c); st != nil && st.StatusMessage != "" {
			fmt.Fprintf(w, "\nStatus: %s\n", st.StatusMessage)
		}
		if cost := c.Properties.TrainyardCost; cost != nil {
			fmt.Fprintf(w, "\nCost: %s\n", costText(*cost))
		}
		return printSlurmDetails(w, c)
	}
	return nil
}

// printComputeTable writes NAME, TYPE, STATE, VM SIZE, NODES, CREATED.
func printComputeTable(w io.Writer, items []arm.Compute) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTYPE\tSTATE\tVM SIZE\tNODES\tCREATED")
	for _, c := range items {
		state, size, nodes := summarize(c)
		created := "-"
		if !c.Properties.CreatedOn.IsZero() {
			created = c.Properties.CreatedOn.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.Name, dash(c.Properties.ComputeType), dash(state), dash(size), dash(nodes), created)
	}
	return tw.Flush()
}

// summarize picks a compute's state, VM size and node counts
// (current/min/max, for clusters) from its per-type properties.
func summarize(c arm.Compute) (state, size, nodes string) {
	state = c.Properties.ProvisioningState
	told := c.Properties.TrainyardStatus != nil
	if told { // the server's one story of the target (compute.StoryOf)
		state = c.Properties.TrainyardStatus.State
	}
	inner, err := c.Properties.Inner()
	if err != nil {
		return state, "", ""
	}
	switch p := inner.(type) {
	case *arm.AmlComputeProperties:
		size = p.VMSize
		if s := p.ScaleSettings; s != nil {
			nodes = fmt.Sprintf("%d/%d/%d", p.CurrentNodeCount, s.MinNodeCount, s.MaxNodeCount)
		}
	case *arm.ComputeInstanceProperties:
		size = p.VMSize
		if p.State != "" && state == "Succeeded" && !told {
			state = p.State
		}
	case *arm.VirtualMachineProperties:
		size = p.VirtualMachineSize
	case *arm.SlurmProperties:
		if len(p.Nodes) > 0 {
			nodes = strconv.Itoa(len(p.Nodes))
		}
	}
	return state, size, nodes
}

// attachStatusOf returns the attach status of an attached compute, or nil.
func attachStatusOf(c arm.Compute) *arm.AttachStatus {
	inner, err := c.Properties.Inner()
	if err != nil {
		return nil
	}
	switch p := inner.(type) {
	case *arm.VirtualMachineProperties:
		return &p.AttachStatus
	case *arm.HDInsightProperties:
		return &p.AttachStatus
	case *arm.DatabricksProperties:
		return &p.AttachStatus
	case *arm.DataLakeAnalyticsProperties:
		return &p.AttachStatus
	case *arm.AzureBatchProperties:
		return &p.AttachStatus
	case *arm.SlurmProperties:
		return &p.AttachStatus
	}
	return nil
}

// printNodeTable writes NODE ID, STATE, PRIVATE IP, PUBLIC IP, PORT, RUN ID.
func printNodeTable(w io.Writer, nodes []arm.NodeInfo) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE ID\tSTATE\tPRIVATE IP\tPUBLIC IP\tPORT\tRUN ID")
	for _, n := range nodes {
		port := ""
		if n.Port != 0 {
			port = strconv.Itoa(n.Port)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", n.NodeID, dash(n.NodeState), dash(n.PrivateIPAddress), dash(n.PublicIPAddress), dash(port), dash(n.RunID))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// costText tells a compute's cost in one line: price and where it comes
// from, node hours and since when, accrued cost.
func costText(c compute.Cost) string {
	from := "from the size catalogue, an estimate"
	if c.Source == compute.PriceAdmin {
		from = "set by an Admin"
	}
	s := fmt.Sprintf("$%.2f a node-hour (%s)", c.PricePerNodeHour, from)
	if c.Since.IsZero() {
		return s + "; no node hours recorded yet"
	}
	return s + fmt.Sprintf("; %.2f node hours since %s; accrued $%.2f", c.NodeHours, c.Since.UTC().Format(time.RFC3339), c.Accrued)
}
