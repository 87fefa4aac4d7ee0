package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/trainyard/trainyard/compute"
)

// updateScale changes the scale settings of a compute target, as
// `az ml computetarget update amlcompute --min-nodes --max-nodes
// --idle-seconds-before-scaledown` does. Today it applies to Slurm
// partitions of power-saving nodes (POST .../updateScaleSettings); flags not
// given keep their value.
func (c *cli) updateScale(args []string) error {
	var name, out, price string
	var minNodes, maxNodes, idle int
	f := newFlagSet("trainyard computetarget update", "--name NAME [--min-nodes N] [--max-nodes N] [--idle-seconds-before-scaledown S] [--price-per-node-hour USD] [-o json|table]",
		"Change the scale settings of a compute target: for a Slurm partition of power-saving (CLOUD) nodes, the nodes kept powered up (min), "+
			"the nodes it may use (max, at most the CLOUD nodes slurm.conf defines) and the idle seconds before a node powers down (Slurm's SuspendTime, cluster-wide). "+
			"Flags not given keep their value. The cluster must have been attached with --slurm-conf. "+
			"--price-per-node-hour (Admins only) sets the price its accrued cost is reckoned at, for a target without a catalogue VM size (attached VMs, Slurm clusters).")
	f.Name(&name, "name of the compute target")
	f.Int(&minNodes, "min-nodes", "N", 0, "nodes kept powered up even when idle")
	f.Int(&maxNodes, "max-nodes", "N", 0, "most nodes the cluster may use")
	f.Int(&idle, "idle-seconds-before-scaledown", "S", 0, "idle seconds before a node powers down")
	f.String(&price, "price-per-node-hour", "", "USD", "", "price of one node for one hour, in US dollars (Admins only)")
	f.Output(&out)
	if err := f.Parse(args, c.stdout); err != nil {
		return err
	}
	if err := f.Require("name", name); err != nil {
		return err
	}
	ss := map[string]any{}
	if f.Set("min-nodes") {
		ss["minNodeCount"] = minNodes
	}
	if f.Set("max-nodes") {
		ss["maxNodeCount"] = maxNodes
	}
	if f.Set("idle-seconds-before-scaledown") {
		ss["nodeIdleTimeBeforeScaleDown"] = "PT" + strconv.Itoa(idle) + "S"
	}
	if len(ss) == 0 && !f.Set("price-per-node-hour") {
		return f.usageErr("give --min-nodes, --max-nodes, --idle-seconds-before-scaledown or --price-per-node-hour")
	}
	if f.Set("price-per-node-hour") {
		usd, err := strconv.ParseFloat(price, 64)
		if err != nil {
			return f.usageErr("--price-per-node-hour: %q is not a number of US dollars", price)
		}
		if err := c.updatePrice(name, usd, out); err != nil || len(ss) == 0 {
			return err
		}
	}
	api, err := c.client()
	if err != nil {
		return err
	}
	resp, err := api.do(c.ctx, http.MethodPost, api.computePath(name, "updateScaleSettings"), nil, map[string]any{"scaleSettings": ss}, nil)
	if err != nil {
		return err
	}
	if out == "json" {
		_, err := c.stdout.Write(resp.body)
		return err
	}
	var a struct {
		ScaleSettings struct {
			Min  int    `json:"minNodeCount"`
			Max  int    `json:"maxNodeCount"`
			Idle string `json:"nodeIdleTimeBeforeScaleDown"`
		} `json:"scaleSettings"`
		Nodes struct {
			Cloud       int `json:"cloudNodeCount"`
			PoweredUp   int `json:"poweredUpNodeCount"`
			Busy        int `json:"busyNodeCount"`
			PoweringUp  int `json:"poweringUpNodeCount"`
			PoweredDown int `json:"poweredDownNodeCount"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal(resp.body, &a); err != nil {
		return fmt.Errorf("reading the server's answer: %w", err)
	}
	fmt.Fprintf(c.stdout, "Updated %s: min nodes %d, max nodes %d (of %d), idle before scale down %s.\nNodes now: %d powered up (%d busy), %d powering up, %d powered down.\n",
		name, a.ScaleSettings.Min, a.ScaleSettings.Max, a.Nodes.Cloud, a.ScaleSettings.Idle, a.Nodes.PoweredUp, a.Nodes.Busy, a.Nodes.PoweringUp, a.Nodes.PoweredDown)
	return nil
}

// updatePrice sets the price per node-hour of a target the size catalogue
// cannot price (POST .../updateNodeHourPrice; Admins only).
func (c *cli) updatePrice(name string, usd float64, out string) error {
	api, err := c.client()
	if err != nil {
		return err
	}
	resp, err := api.do(c.ctx, http.MethodPost, api.computePath(name, "updateNodeHourPrice"), nil, map[string]any{"pricePerNodeHour": usd}, nil)
	if err != nil {
		return err
	}
	if out == "json" {
		_, err := c.stdout.Write(resp.body)
		return err
	}
	var cost compute.Cost
	if err := json.Unmarshal(resp.body, &cost); err != nil {
		return fmt.Errorf("reading the server's answer: %w", err)
	}
	fmt.Fprintf(c.stdout, "Updated %s: %s.\n", name, costText(cost))
	return nil
}
