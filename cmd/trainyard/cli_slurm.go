package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/trainyard/trainyard/compute/arm"
)

// printSlurmDetails follows `computetarget show -o table` of a Slurm cluster
// with its version, partitions and nodes as the server last read them.
// Other computes print nothing.
func printSlurmDetails(w io.Writer, c arm.Compute) error {
	inner, err := c.Properties.Inner()
	if err != nil {
		return nil // the table above already said what could be said
	}
	p, ok := inner.(*arm.SlurmProperties)
	if !ok {
		return nil
	}
	fmt.Fprintf(w, "\nslurmrestd: %s as %s", dash(p.RestURL), dash(p.User))
	if p.Version != "" {
		fmt.Fprintf(w, " (Slurm %s)", p.Version)
	}
	fmt.Fprintf(w, "\nPartition for runs: %s\nShared directory: %s\n", orText(p.Partition, "the cluster's default"), orText(p.SharedDir, "none"))
	if len(p.Partitions) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "PARTITION\tSTATE\tNODES\tCPUS\tMAX TIME\tDEFAULT\tNODE LIST")
		for _, pt := range p.Partitions {
			def := ""
			if pt.Default {
				def = "yes"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\n", pt.Name, dash(pt.State), pt.TotalNodes, pt.TotalCPUs, dash(pt.MaxTime), dash(def), dash(strings.Join(pt.Nodes, ",")))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(p.Nodes) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "NODE\tSTATE\tCPUS\tMEMORY MB\tGPUS\tRUN ID\tREASON")
		for _, n := range p.Nodes {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.NodeID, dash(n.NodeState), count(n.CPUs), count(n.MemoryMB), count(n.GPUs), dash(n.RunID), dash(n.Reason))
		}
		return tw.Flush()
	}
	if p.CheckedOn.IsZero() {
		fmt.Fprintln(w, "\nNodes: not read yet.")
	}
	return nil
}

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func count(n int) string {
	if n == 0 {
		return "-"
	}
	return strconv.Itoa(n)
}
