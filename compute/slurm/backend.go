// Package slurm runs Trainyard jobs on a Slurm cluster through slurmrestd,
// Slurm's REST API. It implements compute.Backend and compute.OutputFetcher.
//
// Talking to Slurm: every call goes to slurmrestd with the headers
// X-SLURM-USER-NAME and X-SLURM-USER-TOKEN. A target stores either a token
// or slurmctld's HS256 jwt key; with the key the backend mints its own
// short-lived tokens (claims exp, iat, sun) and re-mints them before they
// expire, so no long-lived token has to be pasted anywhere. The REST API
// version is chosen from the paths the server lists in /openapi/v3,
// preferring v0.0.38 (Slurm 22.05, the version tested on a real cluster).
//
// Why a shared directory and not an SSH push to a login node: Slurm's own
// model is a filesystem that the submit host and every compute node see at
// the same path (home or scratch on NFS/Lustre/GPFS); batch scripts, their
// working directories and their output files all live there. Staging a run
// there means the nodes read it directly, Slurm writes the job's output
// where this server can stream it without another hop, no credentials to a
// login node are needed, and multi-node jobs need no copy per node. The
// admin names the directory (Target.Attach.SharedDir) at attach time.
//
// On the shared directory, run RUN lives in SharedDir/trainyard/runs/RUN/:
//
//	work/        the job's files (a copy of JobSpec.WorkDir) and its cwd;
//	             ./outputs and ./logs are fetched back from here
//	output.log   stdout and stderr of every rank and every attempt (appended)
//	exit         the exit code, written by the wrapper (see jobScript)
//	stop         "timeout LIMIT" when the wrapper stopped the job at its limit
//	cancel       written before a requested cancel
//	gaveup       why Trainyard gave up on a job requeued too often
//	job.json     the Slurm job id, for an idempotent Submit
//
// Everything needed to find a job again is in its Handle (target, REST URL,
// user, Slurm job id, run folder), so Status, Logs and Cancel work after a
// server restart without any state kept here.
package slurm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// BackendName is the Name of the backend and the Backend of its handles.
const BackendName = "slurm"

// Credentials returns the target's sealed secrets: a slurmrestd token and/or
// slurmctld's HS256 jwt key (raw file content). With a key, tokens are
// minted from it and the token is not used.
type Credentials func(ctx context.Context, target string) (token, jwtKey string, err error)

// Config is what a Backend is built with.
type Config struct {
	Credentials Credentials
	// Logger receives what the backend does (never secrets); nil discards.
	Logger *slog.Logger
	// HTTPClient talks to slurmrestd; nil = a client with sane timeouts
	// whose dialer checks AttachNetworks. Either way redirects are never
	// followed: they would carry the Slurm token to another address.
	HTTPClient *http.Client
	// AttachNetworks are the networks slurmrestd may be in, checked for
	// every address a connection is about to use (after DNS); link-local
	// and cloud metadata addresses are refused whatever it says. Nil =
	// compute.DefaultNetPolicy (loopback and private ranges).
	AttachNetworks *compute.NetPolicy
	// Now is the clock (token expiry); nil = time.Now.
	Now func() time.Time
	// Scontrol is the scontrol binary used to read and apply power-saving
	// settings (targets with AttachSpec.SlurmConf); "" = /usr/bin/scontrol,
	// else scontrol on PATH.
	Scontrol string
}

// Backend runs jobs on Slurm clusters. It is safe for concurrent use; its
// only state is a cache of API versions and minted tokens.
type Backend struct {
	log      *slog.Logger
	c        *client
	scontrol string
	// powerMu serializes UpdateScale: two edits must not interleave their
	// include-file writes, reconfigures and node updates.
	powerMu sync.Mutex
}

// maxRequeues bounds the attempts of a job that Slurm requeues (preemption,
// node failure): once it has been requeued this often (so maxRequeues
// attempts have run), it is canceled and reported Failed instead of
// starting again.
const maxRequeues = 3

// killGrace is the time between SIGTERM and SIGKILL when the wrapper stops a
// job at its maximum duration.
const killGrace = 5

var (
	_ compute.Backend       = (*Backend)(nil)
	_ compute.OutputFetcher = (*Backend)(nil)
	_ compute.PowerManager  = (*Backend)(nil)
)

// New returns a Backend.
func New(cfg Config) *Backend {
	if cfg.AttachNetworks == nil {
		cfg.AttachNetworks = compute.DefaultNetPolicy()
	}
	hc := cfg.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		// No proxy from the environment: the address check must see the
		// address the connection really goes to.
		tr.Proxy = nil
		tr.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second, Control: cfg.AttachNetworks.DialControl}).DialContext
		tr.ResponseHeaderTimeout = 30 * time.Second
		tr.MaxIdleConnsPerHost = 8
		hc = &http.Client{Transport: tr, Timeout: 60 * time.Second}
	}
	noRedirects := *hc
	noRedirects.CheckRedirect = refuseRedirect
	hc = &noRedirects
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Backend{
		scontrol: cfg.Scontrol,
		log:      log.With("backend", BackendName),
		c: &client{http: hc, creds: cfg.Credentials, now: now,
			versions: map[string]versionInfo{}, tokens: map[string]mintedToken{}},
	}
}

// Name implements compute.Backend.
func (b *Backend) Name() string { return BackendName }

// endpointOf checks the target's attach settings and returns its endpoint.
func endpointOf(t *compute.Target) (endpoint, error) {
	if t == nil || t.Attach == nil {
		return endpoint{}, compute.Invalid("attach", "the target has no Slurm settings")
	}
	u := strings.TrimRight(strings.TrimSpace(t.Attach.RESTURL), "/")
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return endpoint{}, compute.Invalid("restUrl", "the slurmrestd URL must start with http:// or https://, got %q", t.Attach.RESTURL)
	}
	if t.Attach.SlurmUser == "" {
		return endpoint{}, compute.Invalid("user", "a Slurm user name is required")
	}
	return endpoint{target: t.Name, url: u, user: t.Attach.SlurmUser}, nil
}

// Version reports the Slurm release and the REST API version used, e.g.
// "22.05.8 (REST API v0.0.38)".
func (b *Backend) Version(ctx context.Context, t *compute.Target) (string, error) {
	ep, err := endpointOf(t)
	if err != nil {
		return "", err
	}
	v, err := b.c.version(ctx, ep)
	if err != nil {
		return "", err
	}
	rel := v.release
	if rel == "" {
		rel = "Slurm"
	}
	return rel + " (REST API " + v.api + ")", nil
}

// ping checks that slurmctld answers through slurmrestd.
func (b *Backend) ping(ctx context.Context, ep endpoint) error {
	var p pingResponse
	if err := b.c.call(ctx, ep, http.MethodGet, "ping", nil, &p); err != nil {
		return err
	}
	for _, x := range p.Pings {
		s := strings.ToUpper(string(x.Ping) + string(x.Pinged))
		if s == "UP" || s == "" {
			return nil
		}
	}
	if len(p.Pings) == 0 {
		return nil
	}
	return fmt.Errorf("slurmctld does not answer slurmrestd at %s (ping: %s): %w", ep.url, p.Pings[0].Ping+p.Pings[0].Pinged, compute.ErrUnavailable)
}

// Provision checks that an attached cluster can be used: slurmrestd answers
// and accepts the credentials, the partition exists, and the shared
// directory exists here and is writable. Nothing is created on the cluster.
// (Whether the nodes see the same directory can only be shown by a job; the
// first run's log says so if they do not.)
func (b *Backend) Provision(ctx context.Context, t *compute.Target) error {
	ep, err := endpointOf(t)
	if err != nil {
		return err
	}
	if err := b.ping(ctx, ep); err != nil {
		return err
	}
	if _, err := b.partition(ctx, ep, t.Attach.SlurmPartition); err != nil {
		return err
	}
	if err := checkSharedDir(t.Attach.SharedDir); err != nil {
		return err
	}
	b.log.Info("slurm target checked", "target", t.Name, "url", ep.url, "user", ep.user)
	return nil
}

// checkSharedDir makes sure runs can be staged: the directory exists and a
// probe file can be written and removed in SharedDir/trainyard/runs.
func checkSharedDir(dir string) error {
	if dir == "" {
		return compute.Invalid("sharedDir", "a shared directory (seen by this server and every Slurm node at the same path) is required")
	}
	if !filepath.IsAbs(dir) {
		return compute.Invalid("sharedDir", "the shared directory must be an absolute path, got %q", dir)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return compute.Invalid("sharedDir", "the shared directory %s cannot be used on this server: %v", dir, errors.Unwrap(err))
	}
	if !fi.IsDir() {
		return compute.Invalid("sharedDir", "the shared directory %s is not a directory", dir)
	}
	runs := filepath.Join(dir, "trainyard", "runs")
	if err := os.MkdirAll(runs, 0o755); err != nil {
		return compute.Invalid("sharedDir", "cannot create %s: %v", runs, errors.Unwrap(err))
	}
	f, err := os.CreateTemp(runs, ".probe-*")
	if err != nil {
		return compute.Invalid("sharedDir", "the shared directory %s is not writable by this server: %v", dir, errors.Unwrap(err))
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil {
		return compute.Invalid("sharedDir", "cannot remove a probe file in %s: %v", runs, errors.Unwrap(err))
	}
	return nil
}

// Deprovision detaches: nothing on the cluster is touched. Jobs still
// running are the dispatcher's to cancel (it knows which runs are active);
// staged run folders stay for an operator to prune.
func (b *Backend) Deprovision(ctx context.Context, t *compute.Target) error {
	return nil
}

// Partition is one Slurm partition as Trainyard shows it.
type Partition struct {
	Name       string
	State      string // UP, DOWN, DRAIN, INACTIVE
	Nodes      []string
	TotalNodes int
	TotalCPUs  int
	Default    bool
	MaxTime    string // "UNLIMITED" or D-HH:MM:SS
}

// Partitions lists the cluster's partitions.
func (b *Backend) Partitions(ctx context.Context, t *compute.Target) ([]Partition, error) {
	ep, err := endpointOf(t)
	if err != nil {
		return nil, err
	}
	return b.partitions(ctx, ep)
}

func (b *Backend) partitions(ctx context.Context, ep endpoint) ([]Partition, error) {
	var r partitionsResponse
	if err := b.c.call(ctx, ep, http.MethodGet, "partitions", nil, &r); err != nil {
		return nil, err
	}
	out := make([]Partition, 0, len(r.Partitions))
	for _, p := range r.Partitions {
		nodes, err := expandHostlist(string(p.Nodes))
		if err != nil {
			b.log.Warn("unreadable partition node list", "partition", p.Name, "err", err)
		}
		state := strings.Join(p.State, ",")
		if p.Partition != nil && len(p.Partition.State) > 0 {
			state = strings.Join(p.Partition.State, ",")
		}
		cpus := p.TotalCPUs.Int()
		if cpus == 0 && p.CPUsV40 != nil {
			cpus = p.CPUsV40.Total.Int()
		}
		total := p.TotalNodes.Int()
		if total == 0 {
			total = len(nodes)
		}
		maxTime := p.MaxTime
		if p.Maximums != nil {
			maxTime = p.Maximums.Time
		}
		def := false
		for _, f := range p.Flags {
			if strings.EqualFold(f, "default") {
				def = true
			}
		}
		out = append(out, Partition{Name: p.Name, State: strings.ToUpper(state), Nodes: nodes, TotalNodes: total,
			TotalCPUs: cpus, Default: def, MaxTime: formatMinutes(maxTime)})
	}
	return out, nil
}

// formatMinutes renders a Slurm time limit the way sinfo does.
func formatMinutes(f flexInt) string {
	if !f.Set || f.Infinite || f.Value < 0 || f.Value >= 0xfffffffe {
		return "UNLIMITED"
	}
	m := f.Value
	d, h, mm := m/(24*60), (m/60)%24, m%60
	if d > 0 {
		return fmt.Sprintf("%d-%02d:%02d:00", d, h, mm)
	}
	return fmt.Sprintf("%d:%02d:00", h, mm)
}

// partition finds the named partition, or the default one for "".
func (b *Backend) partition(ctx context.Context, ep endpoint, name string) (Partition, error) {
	ps, err := b.partitions(ctx, ep)
	if err != nil {
		return Partition{}, err
	}
	var names []string
	for _, p := range ps {
		if (name == "" && p.Default) || (name != "" && p.Name == name) {
			return p, nil
		}
		names = append(names, p.Name)
	}
	if name == "" {
		return Partition{}, compute.Invalid("partition", "the Slurm cluster has no default partition; name one of: %s", orNone(names))
	}
	return Partition{}, compute.Invalid("partition", "the Slurm cluster has no partition %q; it has: %s", name, orNone(names))
}

// Nodes lists the nodes of the target's partition with their states mapped
// onto Studio's node states, and the run on each.
func (b *Backend) Nodes(ctx context.Context, t *compute.Target) ([]compute.Node, error) {
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
	runs, err := b.runsOnNodes(ctx, ep)
	if err != nil {
		return nil, err
	}
	var out []compute.Node
	for _, n := range nr.Nodes {
		if !slices.Contains(n.Partitions, part.Name) && !slices.Contains(part.Nodes, n.Name) {
			continue
		}
		state, reason, listed := nodeState(n.State, n.StateFlags, n.Reason)
		if !listed {
			continue
		}
		gpus, err := gresGPUs(n.Gres)
		if err != nil {
			b.log.Debug("unreadable gres", "node", n.Name, "gres", n.Gres, "err", err)
		}
		node := compute.Node{
			ID: n.Name, State: state, PrivateIP: n.Address, Port: n.Port.Int(), Reason: reason,
			CPUs: n.CPUs.Int(), MemoryMB: n.RealMemory.Int(), GPUs: gpus, RunID: runs[n.Name],
		}
		if n.ReasonSince.Int() > 0 && state == compute.NodeUnusable {
			node.Since = time.Unix(n.ReasonSince.Value, 0)
		}
		out = append(out, node)
	}
	slices.SortFunc(out, func(a, b compute.Node) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// runsOnNodes maps node name → run id for Trainyard's jobs that hold nodes.
func (b *Backend) runsOnNodes(ctx context.Context, ep endpoint) (map[string]string, error) {
	var jr jobsResponse
	if err := b.c.call(ctx, ep, http.MethodGet, "jobs", nil, &jr); err != nil {
		return nil, err
	}
	runs := map[string]string{}
	for _, j := range jr.Jobs {
		run, ok := runOfJob(j)
		if !ok {
			continue
		}
		base, completing := jobBaseState(j.JobState)
		// CONFIGURING holds its nodes while they boot (power saving).
		if base != "RUNNING" && base != "CONFIGURING" && base != "SUSPENDED" && base != "COMPLETING" && !completing {
			continue
		}
		hosts, err := expandHostlist(j.Nodes)
		if err != nil {
			continue
		}
		for _, h := range hosts {
			runs[h] = run
		}
	}
	return runs, nil
}
