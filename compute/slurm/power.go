package slurm

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// Autoscaling a partition of power-saving (CLOUD) nodes.
//
// Slurm scales such a partition by itself: a job for powered-down nodes runs
// ResumeProgram, and nodes idle for SuspendTime seconds go through
// SuspendProgram. Trainyard maps Azure's scale settings onto that:
//
//	max nodes   the CLOUD nodes of the partition that are not drained with
//	            maxReason (the first MaxNodes by name stay usable, the rest
//	            are drained: Slurm cannot add node lines at runtime)
//	min nodes   SuspendExcNodes=<usable cloud nodes>:<min> (a counted set:
//	            at most min of them are kept from power-down) plus a
//	            power_up of the missing ones, as the exclusion only stops
//	            power-down
//	idle secs   SuspendTime (cluster-wide in Slurm 22.05)
//
// slurmrestd v0.0.38 reads node states (state_flags CLOUD, POWERED_DOWN,
// POWERING_UP, DRAIN) but neither reads nor writes SuspendTime or
// SuspendExcNodes, and scontrol cannot update them either ("Update of this
// parameter is not supported"): they are read with `scontrol show config`
// and written to PowerConfName, an include file next to slurm.conf that
// Trainyard owns, followed by `scontrol reconfigure`. So editing needs the
// target's slurm.conf path (AttachSpec.SlurmConf), a slurm.conf that ends
// with `Include <dir>/trainyard-power.conf`, and a server that runs scontrol
// as root or SlurmUser. Every command runs with exec and an argv: no user
// value reaches a shell.

// PowerConfName is the include file Trainyard writes next to slurm.conf.
const PowerConfName = "trainyard-power.conf"

// maxReason marks the nodes Trainyard drained because they are above the
// maximum node count; only nodes with this reason are resumed again.
const maxReason = "trainyard: above max nodes"

// powerNode is one CLOUD node of the partition as slurmrestd shows it.
type powerNode struct {
	name                                        string
	poweredDown, poweringUp, poweringDown, busy bool
	excluded                                    bool // drained by Trainyard (above max)
	drained                                     bool // drained or down for any reason
}

func (b *Backend) scontrolPath() string {
	if b.scontrol != "" {
		return b.scontrol
	}
	if _, err := os.Stat("/usr/bin/scontrol"); err == nil {
		return "/usr/bin/scontrol"
	}
	return "scontrol"
}

// runScontrol runs scontrol with args against conf. SLURM_JWT is removed
// from the environment: with it scontrol would switch to auth/jwt.
func (b *Backend) runScontrol(ctx context.Context, conf string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.scontrolPath(), args...)
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SLURM_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "SLURM_CONF="+conf)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	text := strings.TrimSpace(out.String())
	if err != nil {
		return text, fmt.Errorf("scontrol %s: %w: %s", strings.Join(args, " "), err, excerpt(text))
	}
	b.log.Debug("scontrol", "args", args)
	return text, nil
}

// liveConfig is what `scontrol show config` says about power saving.
type liveConfig struct {
	suspendTime int // -1 when power saving is off (NONE/INFINITE)
	excNodes    string
}

func parseShowConfig(out string) liveConfig {
	lc := liveConfig{suspendTime: -1}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "SuspendTime":
			f := strings.Fields(v)
			if len(f) > 0 {
				if n, err := strconv.Atoi(f[0]); err == nil && n >= 0 {
					lc.suspendTime = n
				}
			}
		case "SuspendExcNodes":
			if v != "(null)" {
				lc.excNodes = v
			}
		}
	}
	return lc
}

// excEntry is one item of SuspendExcNodes: a hostlist with an optional
// count ("cloud[1-2]:1").
type excEntry struct {
	text  string
	hosts []string
	count int // -1: no count (all of hosts)
}

func parseExcNodes(s string) []excEntry {
	var out []excEntry
	for _, item := range splitTop(s, ',', '[', ']') {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		e := excEntry{text: item, count: -1}
		list := item
		if i := strings.LastIndexByte(item, ':'); i > strings.LastIndexByte(item, ']') {
			if n, err := strconv.Atoi(item[i+1:]); err == nil {
				e.count, list = n, item[:i]
			}
		}
		e.hosts, _ = expandHostlist(list)
		out = append(out, e)
	}
	return out
}

// minFromExc is how many of nodes SuspendExcNodes keeps up.
func minFromExc(entries []excEntry, nodes []string) int {
	n := 0
	for _, e := range entries {
		mine := 0
		for _, h := range e.hosts {
			if slices.Contains(nodes, h) {
				mine++
			}
		}
		if mine == 0 {
			continue
		}
		if e.count >= 0 {
			n += min(e.count, mine)
		} else {
			n += mine
		}
	}
	return n
}

// mergeExc keeps the entries of live that name none of cloud (static
// nodes stay excluded) and puts the counted set of usable first, as Slurm's
// documentation writes counted sets.
func mergeExc(live string, cloud, usable []string, minNodes int) (string, error) {
	var parts []string
	if minNodes > 0 {
		hl, err := compressHostlist(usable)
		if err != nil {
			return "", err
		}
		parts = append(parts, hl+":"+strconv.Itoa(minNodes))
	}
	for _, e := range parseExcNodes(live) {
		if slices.ContainsFunc(e.hosts, func(h string) bool { return slices.Contains(cloud, h) }) {
			continue
		}
		parts = append(parts, e.text)
	}
	return strings.Join(parts, ","), nil
}

// compressHostlist writes names as one Slurm hostlist, "cloud[1-3,5]". A
// counted set needs one bracket expression, so names must share a prefix
// and end in numbers (or be a single name).
func compressHostlist(names []string) (string, error) {
	if len(names) == 1 {
		return names[0], nil
	}
	if len(names) == 0 {
		return "", errors.New("no nodes")
	}
	// Zero-padded numbers ("gpu01") fix the width; unpadded ones must be
	// at least that long ("gpu10"), as Slurm's own ranges are.
	prefix, width, minLen := "", 0, 0
	var nums []int
	for i, n := range names {
		j := len(n)
		for j > 0 && n[j-1] >= '0' && n[j-1] <= '9' {
			j--
		}
		if j == len(n) {
			return "", fmt.Errorf("node %q has no number at its end: write SuspendExcNodes by hand", n)
		}
		p, digits := n[:j], n[j:]
		if i == 0 {
			prefix, minLen = p, len(digits)
		}
		minLen = min(minLen, len(digits))
		padded := len(digits) > 1 && digits[0] == '0'
		if p != prefix || (padded && width != 0 && len(digits) != width) {
			return "", fmt.Errorf("nodes %s do not share one name pattern: write SuspendExcNodes by hand", strings.Join(names, ","))
		}
		if padded {
			width = len(digits)
		}
		v, err := strconv.Atoi(digits)
		if err != nil {
			return "", err
		}
		nums = append(nums, v)
	}
	if width != 0 && minLen < width {
		return "", fmt.Errorf("nodes %s do not share one name pattern: write SuspendExcNodes by hand", strings.Join(names, ","))
	}
	slices.Sort(nums)
	nums = slices.Compact(nums)
	f := func(v int) string { return fmt.Sprintf("%0*d", width, v) }
	var ranges []string
	for i := 0; i < len(nums); {
		j := i
		for j+1 < len(nums) && nums[j+1] == nums[j]+1 {
			j++
		}
		if i == j {
			ranges = append(ranges, f(nums[i]))
		} else {
			ranges = append(ranges, f(nums[i])+"-"+f(nums[j]))
		}
		i = j + 1
	}
	return prefix + "[" + strings.Join(ranges, ",") + "]", nil
}

// naturalLess orders node names by prefix, then numeric suffix (cloud2 <
// cloud10), so "the first max nodes" means what an admin expects.
func naturalCompare(a, b string) int {
	split := func(s string) (string, int) {
		i := len(s)
		for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
			i--
		}
		n, _ := strconv.Atoi(s[i:])
		return s[:i], n
	}
	pa, na := split(a)
	pb, nb := split(b)
	if c := strings.Compare(pa, pb); c != 0 {
		return c
	}
	if na != nb {
		return na - nb
	}
	return strings.Compare(a, b)
}

// cloudNodes reads the CLOUD nodes of the target's partition.
func (b *Backend) cloudNodes(ctx context.Context, t *compute.Target) ([]powerNode, error) {
	ep, err := endpointOf(t)
	if err != nil {
		return nil, err
	}
	part, err := b.partition(ctx, ep, t.Attach.SlurmPartition)
	if err != nil {
		return nil, err
	}
	var nr nodesResponse
	if err := b.c.call(ctx, ep, http.MethodGet, "nodes", nil, &nr); err != nil {
		return nil, err
	}
	var out []powerNode
	for _, n := range nr.Nodes {
		if !slices.Contains(n.Partitions, part.Name) && !slices.Contains(part.Nodes, n.Name) {
			continue
		}
		set := map[string]bool{}
		for _, x := range append(slices.Clone([]string(n.State)), n.StateFlags...) {
			set[strings.ToUpper(strings.TrimSpace(x))] = true
		}
		if !set["CLOUD"] {
			continue
		}
		pn := powerNode{name: n.Name}
		pn.busy = set["ALLOCATED"] || set["MIXED"] || set["COMPLETING"]
		pn.poweringUp = set["POWERING_UP"] || set["POWER_UP"] || ((set["POWERED_DOWN"] || set["POWER_DOWN"]) && pn.busy)
		pn.poweredDown = !pn.poweringUp && (set["POWERED_DOWN"] || set["POWER_DOWN"])
		pn.poweringDown = set["POWERING_DOWN"]
		pn.drained = set["DRAIN"] || set["DOWN"] || set["FAIL"]
		pn.excluded = set["DRAIN"] && n.Reason == maxReason
		out = append(out, pn)
	}
	slices.SortFunc(out, func(a, b powerNode) int { return naturalCompare(a.name, b.name) })
	return out, nil
}

// includes reports whether slurm.conf names the power include file.
func includes(conf, include string) (bool, error) {
	data, err := os.ReadFile(conf)
	if err != nil {
		return false, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || !strings.EqualFold(f[0], "include") {
			continue
		}
		p := f[1]
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(conf), p)
		}
		if filepath.Clean(p) == include {
			return true, nil
		}
	}
	return false, nil
}

// editable says why the target's settings cannot be edited ("" if they can).
func editable(t *compute.Target) string {
	conf := ""
	if t.Attach != nil {
		conf = t.Attach.SlurmConf
	}
	if conf == "" {
		return "Read-only: no slurm.conf path was given when the cluster was attached, so Trainyard cannot read or change SuspendTime and SuspendExcNodes (see docs/OPERATIONS.md)."
	}
	inc := filepath.Join(filepath.Dir(conf), PowerConfName)
	ok, err := includes(conf, inc)
	switch {
	case err != nil:
		return "Read-only: cannot read " + conf + ": " + err.Error()
	case !ok:
		return "Read-only: " + conf + " has no line `Include " + inc + "`; add it at the end of slurm.conf (see docs/OPERATIONS.md)."
	}
	return ""
}

// PowerStatus implements compute.PowerManager.
func (b *Backend) PowerStatus(ctx context.Context, t *compute.Target) (compute.PowerStatus, error) {
	nodes, err := b.cloudNodes(ctx, t)
	if err != nil {
		return compute.PowerStatus{}, err
	}
	ps := compute.PowerStatus{CloudNodes: len(nodes), Settings: compute.ScaleSettings{MinNodes: -1, IdleSeconds: -1}}
	if len(nodes) == 0 {
		return ps, nil
	}
	for _, n := range nodes {
		switch {
		case n.excluded:
			ps.Excluded++
		}
		switch {
		case n.poweringUp:
			ps.PoweringUp++
		case n.poweredDown:
			ps.PoweredDown++
		case n.poweringDown:
			ps.PoweringDown++
		default:
			ps.PoweredUp++
			if n.busy {
				ps.Busy++
			}
		}
	}
	ps.Settings.MaxNodes = len(nodes) - ps.Excluded
	ps.Why = editable(t)
	if t.Attach != nil && t.Attach.SlurmConf != "" {
		out, err := b.runScontrol(ctx, t.Attach.SlurmConf, "show", "config")
		if err != nil {
			ps.Why = "Cannot read the power-saving settings: " + err.Error()
			return ps, nil
		}
		lc := parseShowConfig(out)
		ps.Settings.IdleSeconds = lc.suspendTime
		ps.Settings.MinNodes = minFromExc(parseExcNodes(lc.excNodes), names(nodes))
	}
	ps.Editable = ps.Why == ""
	return ps, nil
}

func names(ns []powerNode) []string {
	out := make([]string, 0, len(ns))
	for _, n := range ns {
		out = append(out, n.name)
	}
	return out
}

// UpdateScale implements compute.PowerManager: it writes SuspendTime and
// SuspendExcNodes to the include file, reconfigures slurmctld (restoring
// the old file if that fails), drains the nodes above max and resumes the
// ones Trainyard drained below it, and powers up nodes until min are up.
func (b *Backend) UpdateScale(ctx context.Context, t *compute.Target, s compute.ScaleSettings) error {
	b.powerMu.Lock()
	defer b.powerMu.Unlock()
	nodes, err := b.cloudNodes(ctx, t)
	if err != nil {
		return err
	}
	if len(nodes) == 0 {
		return compute.Invalid(compute.FieldScaleSettings, "The partition has no power-saving (CLOUD) nodes, so it has no scale settings.")
	}
	if why := editable(t); why != "" {
		return compute.Invalid(compute.FieldScaleSettings, "%s", why)
	}
	if verr := validateScaleSettings(s, len(nodes)); verr != nil {
		return verr
	}
	conf := t.Attach.SlurmConf
	out, err := b.runScontrol(ctx, conf, "show", "config")
	if err != nil {
		return err
	}
	lc := parseShowConfig(out)
	all := names(nodes)
	usable, above := all[:s.MaxNodes], all[s.MaxNodes:]
	exc, err := mergeExc(lc.excNodes, all, usable, s.MinNodes)
	if err != nil {
		return compute.Invalid(compute.FieldMinNodes, "%v", err)
	}
	inc := filepath.Join(filepath.Dir(conf), PowerConfName)
	var body strings.Builder
	fmt.Fprintf(&body, "# Written by Trainyard for compute target %s at %s; edit it from Trainyard\n", t.Name, time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(&body, "# (min %d, max %d of %d CLOUD nodes, idle %d s). slurm.conf includes this file.\n", s.MinNodes, s.MaxNodes, len(nodes), s.IdleSeconds)
	fmt.Fprintf(&body, "SuspendTime=%d\n", s.IdleSeconds)
	if exc != "" {
		fmt.Fprintf(&body, "SuspendExcNodes=%s\n", exc)
	}
	old, err := os.ReadFile(inc)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("reading %s: %w", inc, err)
	}
	if err := writeFileAtomic(inc, []byte(body.String())); err != nil {
		return fmt.Errorf("writing %s: %w", inc, err)
	}
	if _, err := b.runScontrol(ctx, conf, "reconfigure"); err != nil {
		// Put the old file back so that the next slurmctld start reads a
		// configuration that worked.
		if old != nil {
			if rerr := writeFileAtomic(inc, old); rerr == nil {
				_, _ = b.runScontrol(ctx, conf, "reconfigure")
			}
		}
		return fmt.Errorf("applying the scale settings: %w", err)
	}
	for _, n := range nodes {
		switch {
		case slices.Contains(above, n.name) && !n.excluded:
			// Drain, not down: a job running there finishes first.
			if _, err := b.runScontrol(ctx, conf, "update", "nodename="+n.name, "state=drain", "reason="+maxReason); err != nil {
				return err
			}
		case slices.Contains(usable, n.name) && n.excluded:
			if _, err := b.runScontrol(ctx, conf, "update", "nodename="+n.name, "state=resume"); err != nil {
				return err
			}
		}
	}
	up := 0
	var down []string
	for _, n := range nodes {
		if !slices.Contains(usable, n.name) {
			continue
		}
		if n.poweredDown {
			down = append(down, n.name)
		} else if !n.poweringDown && !(n.drained && !n.excluded) {
			up++
		}
	}
	if need := s.MinNodes - up; need > 0 && len(down) > 0 {
		wake := down[:min(need, len(down))]
		if _, err := b.runScontrol(ctx, conf, "update", "nodename="+strings.Join(wake, ","), "state=power_up"); err != nil {
			return err
		}
	}
	b.log.Info("scale settings applied", "target", t.Name, "min", s.MinNodes, "max", s.MaxNodes, "idle", s.IdleSeconds, "SuspendExcNodes", exc)
	return nil
}

// NodeSample implements compute.NodeSampler: the partition's nodes by
// state for the Monitoring tab. Two things differ from Nodes: powered-down
// nodes are counted (Nodes leaves them out), and a node whose jobs are all
// CONFIGURING counts as powering up. Measured here, a CLOUD node's
// POWERING_UP flag lasts about 0.2 s (its slurmd starts at once), while its
// job stays CONFIGURING until slurmctld's next 30 s pass: that is the boot
// as a user waits for it. Nodes drained above max count as powered down
// when they are (they are held back, not broken).
func (b *Backend) NodeSample(ctx context.Context, t *compute.Target) (compute.NodeSample, error) {
	ep, err := endpointOf(t)
	if err != nil {
		return compute.NodeSample{}, err
	}
	part, err := b.partition(ctx, ep, t.Attach.SlurmPartition)
	if err != nil {
		return compute.NodeSample{}, err
	}
	var nr nodesResponse
	if err := b.c.call(ctx, ep, http.MethodGet, "nodes", nil, &nr); err != nil {
		return compute.NodeSample{}, err
	}
	var jr jobsResponse
	if err := b.c.call(ctx, ep, http.MethodGet, "jobs", nil, &jr); err != nil {
		return compute.NodeSample{}, err
	}
	configuring, started := map[string]bool{}, map[string]bool{}
	for _, j := range jr.Jobs {
		base, completing := jobBaseState(j.JobState)
		hosts, err := expandHostlist(j.Nodes)
		if err != nil {
			continue
		}
		for _, h := range hosts {
			switch {
			case base == "CONFIGURING":
				configuring[h] = true
			case base == "RUNNING" || base == "SUSPENDED" || base == "COMPLETING" || completing:
				started[h] = true
			}
		}
	}
	var s compute.NodeSample
	for _, n := range nr.Nodes {
		if !slices.Contains(n.Partitions, part.Name) && !slices.Contains(part.Nodes, n.Name) {
			continue
		}
		set := map[string]bool{}
		for _, x := range append(slices.Clone([]string(n.State)), n.StateFlags...) {
			set[strings.ToUpper(strings.TrimSpace(x))] = true
		}
		down := set["POWERED_DOWN"] || set["POWER_DOWN"] || set["POWERING_DOWN"]
		state, _, listed := nodeState(n.State, n.StateFlags, n.Reason)
		switch {
		case set["FUTURE"]:
		case down && !set["ALLOCATED"] && !set["MIXED"] && (!listed || state == compute.NodeLeaving || n.Reason == maxReason):
			s.PoweredDown++
		case !listed:
		case state == compute.NodeRunning && configuring[n.Name] && !started[n.Name]:
			s.Preparing++
		case state == compute.NodePreparing:
			s.Preparing++
		case state == compute.NodeIdle:
			s.Idle++
		case state == compute.NodeRunning || state == compute.NodeLeaving:
			s.Busy++
		case state == compute.NodeUnusable:
			s.Unusable++
		case state == compute.NodePreempted:
			s.Preempted++
		}
	}
	return s, nil
}
