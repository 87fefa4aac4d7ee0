// Package slurmtest starts a real Slurm 22.05 cluster on loopback for tests:
// its own munged (own key, own socket), slurmctld, N slurmd (one per node,
// Slurm's multiple-slurmd mode: node1..N all on this host, each on its own
// port), optional power-saving CLOUD nodes, and slurmrestd with JWT auth.
// Everything lives in a short temporary directory under /tmp (unix socket
// paths are limited to ~108 bytes) and every process is killed by pid when
// the cluster stops. Nothing outside that directory is written.
//
// The recipe (and its gotchas: SLURM_JWT=daemon for slurmrestd, never
// SLURM_JWT in the CLIs' environment, batch_sched_delay=0, NoInAddrAny) was
// measured on this kind of machine; Options has the knobs.
//
// One cluster per test binary is the intended use: Launch it in TestMain
// and share it (it starts in about half a second); Start gives a test its
// own cluster, e.g. one with power-saving nodes.
package slurmtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/trainyard/trainyard/compute/computetest"
)

// ErrNotInstalled is returned by Launch when the Slurm, munge or slurmrestd
// binaries (or the jwt auth plugin) are missing on this machine.
var ErrNotInstalled = errors.New("slurm is not installed (slurmctld, slurmd, slurmrestd, munged, auth_jwt.so)")

// Options shape the cluster. Zero values take the defaults.
type Options struct {
	// Nodes is the number of static nodes node1..N in partition "debug"
	// (default 3).
	Nodes int
	// CloudNodes is the number of power-saving nodes cloud1..M in partition
	// "cloud" (default 0). Powering one up starts a slurmd for it, powering
	// it down kills that slurmd.
	CloudNodes int
	// SuspendTime is the idle seconds before a cloud node is powered down
	// (default 20).
	SuspendTime int
	// CPUs and MemoryMB are what each node advertises (default 2 and 2000;
	// they may exceed the real machine).
	CPUs, MemoryMB int
	// KillWait is the seconds between SIGTERM and SIGKILL when Slurm stops a
	// job (default 2: tests wait for cancels).
	KillWait int
	// CredExpire is Slurm's cred_expire (default 10 s): a requeued job may
	// not start again before it has passed (Slurm's default is 120 s).
	CredExpire int
	// Timeout bounds the start (default 60 s).
	Timeout time.Duration
	// PowerInclude writes SuspendTime and SuspendExcNodes into
	// etc/trainyard-power.conf, which slurm.conf names with an Include line
	// at its end: the layout an admin sets up so that Trainyard can edit the
	// power-saving settings (Cluster.PowerConf). Needs CloudNodes.
	PowerInclude bool
}

// Cluster is a running test cluster.
type Cluster struct {
	// Dir holds everything: etc/, log/, run/, spool/, munge/, shared/.
	Dir string
	// Conf is the slurm.conf path (what SLURM_CONF must name for the CLIs).
	Conf string
	// RESTURL is slurmrestd's base URL, e.g. http://127.0.0.1:40123.
	RESTURL string
	// JWTKeyFile is slurmctld's HS256 key (raw bytes, mode 0600).
	JWTKeyFile string
	// SharedDir is a world-writable directory every node sees (it is this
	// machine's filesystem).
	SharedDir string
	// User is the Slurm user the REST calls act as ("root").
	User string
	// Partition is the default partition ("debug"); CloudPartition is
	// "cloud" when there are cloud nodes.
	Partition, CloudPartition string
	// Nodes are the static node names node1..N; CloudNodes cloud1..M.
	Nodes, CloudNodes []string
	// CtldPort and RESTPort are the ports picked at start.
	CtldPort, RESTPort int
	// PowerConf is the power-saving include file (Options.PowerInclude),
	// else "".
	PowerConf string

	opts   Options
	jwtKey []byte

	mu           sync.Mutex
	procs        []*exec.Cmd
	stopped      bool
	releasePorts func() // set by start; called by Stop once the daemons are gone
}

// Require skips the test when Slurm is not installed, or fails it when the
// CI environment variable is set (CI must run the Slurm tests).
func Require(t testing.TB) {
	t.Helper()
	if err := installed(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%v: run `make slurm` (apt-get install slurm-wlm slurmrestd munge slurm-wlm-jwt-plugin)", err)
		}
		t.Skipf("%v; skipping (install with `make slurm`)", err)
	}
}

// Start launches a cluster for a test and stops it when the test ends. It
// skips the test when Slurm is not installed (fails it under CI).
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	Require(t)
	c, err := Launch(opts)
	if err != nil {
		t.Fatalf("starting the Slurm test cluster: %v", err)
	}
	t.Cleanup(c.Stop)
	return c
}

var binaries = []string{
	"/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/sbin/slurmrestd", "/usr/sbin/munged",
	"/usr/sbin/mungekey", "/usr/bin/scontrol", "/usr/bin/sinfo", "/usr/bin/squeue", "/usr/bin/srun",
}

func installed() error {
	for _, b := range binaries {
		if _, err := os.Stat(b); err != nil {
			return fmt.Errorf("%w: %s missing", ErrNotInstalled, b)
		}
	}
	plugins, _ := filepath.Glob("/usr/lib/*/slurm-wlm/auth_jwt.so")
	if len(plugins) == 0 {
		return fmt.Errorf("%w: auth_jwt.so missing (package slurm-wlm-jwt-plugin)", ErrNotInstalled)
	}
	return nil
}

// Launch starts a cluster without a testing.TB (for TestMain, where one
// cluster serves every test of a binary); the caller must call Stop. It
// returns an error matching ErrNotInstalled when Slurm is missing.
func Launch(opts Options) (*Cluster, error) {
	if err := installed(); err != nil {
		return nil, err
	}
	if opts.Nodes <= 0 {
		opts.Nodes = 3
	}
	if opts.SuspendTime <= 0 {
		opts.SuspendTime = 20
	}
	if opts.CPUs <= 0 {
		opts.CPUs = 2
	}
	if opts.MemoryMB <= 0 {
		opts.MemoryMB = 2000
	}
	if opts.KillWait <= 0 {
		opts.KillWait = 2
	}
	if opts.CredExpire <= 0 {
		opts.CredExpire = 10
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 60 * time.Second
	}
	// The ports are picked free, then bound by the daemons a moment later:
	// another cluster starting beside this one (tests of several packages
	// run at once) can take one in between, and that daemon dies with
	// "Address already in use". Start again afresh then.
	var err error
	for range 3 {
		var c *Cluster
		if c, err = launchOnce(opts); err == nil {
			return c, nil
		}
		if !strings.Contains(err.Error(), "Address already in use") {
			return nil, err
		}
	}
	return nil, err
}

// launchOnce starts a cluster in a new folder with new ports.
func launchOnce(opts Options) (*Cluster, error) {
	// A short path: munged's socket and slurmd's spool must fit in a
	// sockaddr_un (108 bytes).
	dir, err := os.MkdirTemp("/tmp", "sl")
	if err != nil {
		return nil, err
	}
	// Jobs may run as another user: they must reach the shared dir.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	c := &Cluster{
		Dir: dir, Conf: filepath.Join(dir, "etc", "slurm.conf"), JWTKeyFile: filepath.Join(dir, "etc", "jwt.key"),
		SharedDir: filepath.Join(dir, "shared"), User: "root", Partition: "debug", opts: opts,
	}
	for i := 1; i <= opts.Nodes; i++ {
		c.Nodes = append(c.Nodes, "node"+strconv.Itoa(i))
	}
	for i := 1; i <= opts.CloudNodes; i++ {
		c.CloudNodes = append(c.CloudNodes, "cloud"+strconv.Itoa(i))
	}
	if opts.CloudNodes > 0 {
		c.CloudPartition = "cloud"
		if opts.PowerInclude {
			c.PowerConf = filepath.Join(dir, "etc", "trainyard-power.conf")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), opts.Timeout)
	defer cancel()
	if err := c.start(ctx); err != nil {
		logs := c.tailLogs()
		c.Stop()
		return nil, fmt.Errorf("%w\n%s", err, logs)
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context) error {
	d := c.Dir
	for _, sub := range []string{"etc", "log", "run", "bin", "spool/ctld", "spool/d", "munge", "shared"} {
		if err := os.MkdirAll(filepath.Join(d, sub), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(c.SharedDir, 0o777); err != nil {
		return err
	}
	// Reserved, not merely free a moment ago: a power-saving node's slurmd
	// binds its port only when the node powers up, maybe minutes later
	// (see computetest.ReservePorts).
	ports, release, err := computetest.ReservePorts(2 + len(c.Nodes) + len(c.CloudNodes))
	if err != nil {
		return fmt.Errorf("picking ports: %w", err)
	}
	c.releasePorts = release
	c.CtldPort, c.RESTPort = ports[0], ports[1]
	c.RESTURL = "http://127.0.0.1:" + strconv.Itoa(c.RESTPort)
	nodePorts := ports[2:]

	// munge: own key, own socket, own daemon (it forks and writes a pid file).
	mdir := filepath.Join(d, "munge")
	key := filepath.Join(mdir, "munge.key")
	sock := filepath.Join(mdir, "sock")
	if out, err := exec.CommandContext(ctx, "/usr/sbin/mungekey", "--create", "--keyfile="+key, "--force").CombinedOutput(); err != nil {
		return fmt.Errorf("mungekey: %v: %s", err, out)
	}
	if err := os.Chmod(key, 0o600); err != nil {
		return err
	}
	jwtKey := make([]byte, 32)
	if _, err := rand.Read(jwtKey); err != nil {
		return err
	}
	c.jwtKey = jwtKey
	if err := os.WriteFile(c.JWTKeyFile, jwtKey, 0o600); err != nil {
		return err
	}
	if out, err := exec.CommandContext(ctx, "/usr/sbin/munged", "--key-file="+key, "--socket="+sock,
		"--pid-file="+filepath.Join(mdir, "munged.pid"), "--log-file="+filepath.Join(mdir, "munged.log"),
		"--seed-file="+filepath.Join(mdir, "munged.seed")).CombinedOutput(); err != nil {
		return fmt.Errorf("munged: %v: %s", err, out)
	}

	if err := c.writeConfig(sock, nodePorts); err != nil {
		return err
	}
	if err := c.daemon("slurmctld", nil, "/usr/sbin/slurmctld", "-D", "-f", c.Conf); err != nil {
		return err
	}
	if err := c.waitFor(ctx, "slurmctld to answer scontrol ping", func() bool {
		out, _ := c.run(ctx, "/usr/bin/scontrol", "ping")
		return strings.Contains(out, "is UP")
	}); err != nil {
		return err
	}
	for _, n := range c.Nodes {
		if err := os.MkdirAll(filepath.Join(d, "spool", "d", n), 0o755); err != nil {
			return err
		}
		if err := c.daemon("slurmd-"+n, nil, "/usr/sbin/slurmd", "-D", "-f", c.Conf, "-N", n); err != nil {
			return err
		}
	}
	if err := c.waitFor(ctx, "every static node to be idle", func() bool {
		out, _ := c.run(ctx, "/usr/bin/sinfo", "-h", "-p", c.Partition, "-t", "idle", "-o", "%D")
		n, _ := strconv.Atoi(strings.TrimSpace(out))
		return n == len(c.Nodes)
	}); err != nil {
		return err
	}
	// slurmrestd refuses to run as root (-u: setuid after bind) and only
	// forwards users' JWTs with SLURM_JWT=daemon; that variable is for
	// slurmrestd alone, never for the CLIs (see cliEnv).
	if err := c.daemon("slurmrestd", []string{"SLURM_JWT=daemon"}, "/usr/sbin/slurmrestd", "-f", c.Conf,
		"-u", "nobody", "-a", "rest_auth/jwt", "-s", "openapi/v0.0.38", "127.0.0.1:"+strconv.Itoa(c.RESTPort)); err != nil {
		return err
	}
	token, err := c.mint(time.Hour)
	if err != nil {
		return err
	}
	return c.waitFor(ctx, "slurmrestd to answer /ping", func() bool {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.RESTURL+"/slurm/v0.0.38/ping", nil)
		req.Header.Set("X-SLURM-USER-NAME", c.User)
		req.Header.Set("X-SLURM-USER-TOKEN", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func (c *Cluster) writeConfig(mungeSock string, nodePorts []int) error {
	d := c.Dir
	o := c.opts
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("# written by compute/slurm/slurmtest")
	p("ClusterName=trainyardtest")
	p("SlurmctldHost=localhost(127.0.0.1)")
	p("SlurmctldPort=%d", c.CtldPort)
	p("SlurmUser=root")
	p("SlurmdUser=root")
	// Listen on 127.0.0.1 only, not 0.0.0.0.
	p("CommunicationParameters=NoInAddrAny,NoCtldInAddrAny")
	p("AuthType=auth/munge")
	p("CredType=cred/munge")
	// cred_expire also delays a requeued job's restart (default 120 s).
	p("AuthInfo=socket=%s,cred_expire=%d", mungeSock, o.CredExpire)
	p("AuthAltTypes=auth/jwt")
	p("AuthAltParameters=jwt_key=%s", c.JWTKeyFile)
	p("StateSaveLocation=%s/spool/ctld", d)
	p("SlurmdSpoolDir=%s/spool/d/%%n", d)
	p("SlurmctldPidFile=%s/run/slurmctld.pid", d)
	p("SlurmdPidFile=%s/run/slurmd-%%n.pid", d)
	p("SlurmctldLogFile=%s/log/slurmctld.log", d)
	p("SlurmdLogFile=%s/log/slurmd-%%n.log", d)
	p("MailProg=/bin/true")
	p("ProctrackType=proctrack/linuxproc")
	p("TaskPlugin=task/none")
	p("JobAcctGatherType=jobacct_gather/none")
	p("AccountingStorageType=accounting_storage/none")
	p("JobCompType=jobcomp/filetxt")
	p("JobCompLoc=%s/log/jobcomp.log", d)
	p("SchedulerType=sched/backfill")
	// The default batch_sched_delay=3 makes every submit wait ~3 s; the
	// short intervals let a requeued job start again seconds after its
	// cred_expire hold instead of at the next 60 s main-scheduler pass.
	p("SchedulerParameters=batch_sched_delay=0,sched_interval=2,bf_interval=2")
	p("SelectType=select/cons_tres")
	p("SelectTypeParameters=CR_Core")
	p("MpiDefault=none")
	p("ReturnToService=2")
	p("MinJobAge=3600")
	p("SlurmctldTimeout=30")
	p("SlurmdTimeout=60")
	p("InactiveLimit=0")
	p("KillWait=%d", o.KillWait)
	p("JobRequeue=1")
	p("TreeWidth=65533")
	if len(c.CloudNodes) > 0 {
		if err := c.writePowerScripts(); err != nil {
			return err
		}
		p("SuspendProgram=%s/bin/suspend.sh", d)
		p("ResumeProgram=%s/bin/resume.sh", d)
		power := fmt.Sprintf("SuspendTime=%d\nSuspendExcNodes=node[1-%d]\n", o.SuspendTime, len(c.Nodes))
		if c.PowerConf == "" {
			b.WriteString(power)
		} else if err := os.WriteFile(c.PowerConf, []byte(power), 0o644); err != nil {
			return err
		}
		p("SuspendTimeout=10")
		p("ResumeTimeout=60")
		p("ResumeRate=0")
		p("SuspendRate=0")
		// Without it powered-down CLOUD nodes are invisible.
		p("PrivateData=cloud")
	}
	for i, n := range c.Nodes {
		p("NodeName=%s NodeHostname=localhost NodeAddr=127.0.0.1 Port=%d CPUs=%d RealMemory=%d State=UNKNOWN", n, nodePorts[i], o.CPUs, o.MemoryMB)
	}
	for i, n := range c.CloudNodes {
		p("NodeName=%s NodeHostname=localhost NodeAddr=127.0.0.1 Port=%d CPUs=%d RealMemory=%d State=CLOUD", n, nodePorts[len(c.Nodes)+i], o.CPUs, o.MemoryMB)
	}
	p("PartitionName=%s Nodes=%s Default=YES MaxTime=INFINITE State=UP", c.Partition, strings.Join(c.Nodes, ","))
	if len(c.CloudNodes) > 0 {
		p("PartitionName=%s Nodes=%s MaxTime=INFINITE State=UP", c.CloudPartition, strings.Join(c.CloudNodes, ","))
	}
	if c.PowerConf != "" {
		// Last, so that its settings win over any earlier ones.
		p("Include %s", c.PowerConf)
	}
	return os.WriteFile(c.Conf, []byte(b.String()), 0o644)
}

// writePowerScripts writes the ResumeProgram (start a slurmd for each node)
// and SuspendProgram (kill it). -b makes slurmd report a fresh boot, or
// slurmctld never accepts a powering-up node; perl resets the signal mask
// slurmscriptd leaves blocked, or the daemonized slurmd ignores SIGTERM.
func (c *Cluster) writePowerScripts() error {
	d := c.Dir
	resume := fmt.Sprintf(`#!/bin/bash
export SLURM_CONF=%[1]s
for n in $(/usr/bin/scontrol show hostnames "$1"); do
  mkdir -p %[2]s/spool/d/$n
  /usr/bin/perl -MPOSIX -e 'sigprocmask(SIG_SETMASK, POSIX::SigSet->new); exec @ARGV' -- \
    /usr/sbin/slurmd -b -f %[1]s -N $n </dev/null >>%[2]s/log/power.log 2>&1
done
`, c.Conf, d)
	suspend := fmt.Sprintf(`#!/bin/bash
export SLURM_CONF=%[1]s
for n in $(/usr/bin/scontrol show hostnames "$1"); do
  f=%[2]s/run/slurmd-$n.pid
  [ -s $f ] || continue
  p=$(cat $f); kill $p 2>/dev/null
  ( sleep 3; kill -0 $p 2>/dev/null && kill -9 $p ) >/dev/null 2>&1 &
done
exit 0
`, c.Conf, d)
	if err := os.WriteFile(filepath.Join(d, "bin", "resume.sh"), []byte(resume), 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(d, "bin", "suspend.sh"), []byte(suspend), 0o755)
}

// cliEnv is the environment of the Slurm CLIs and daemons: this cluster's
// SLURM_CONF and never SLURM_JWT (with it every CLI switches to auth/jwt
// and srun inside jobs fails against slurmd).
func (c *Cluster) cliEnv(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "SLURM_") {
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, "SLURM_CONF="+c.Conf), extra...)
}

// daemon starts a foreground daemon in its own session, output into log/.
func (c *Cluster) daemon(name string, extraEnv []string, argv ...string) error {
	logf, err := os.OpenFile(filepath.Join(c.Dir, "log", name+".out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = c.cliEnv(extraEnv)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	c.mu.Lock()
	c.procs = append(c.procs, cmd)
	c.mu.Unlock()
	go cmd.Wait() // reap; Stop kills by pid
	return nil
}

func (c *Cluster) run(ctx context.Context, argv ...string) (string, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = c.cliEnv(nil)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (c *Cluster) waitFor(ctx context.Context, what string, ok func() bool) error {
	for {
		if ok() {
			return nil
		}
		// A daemon that lost its port to another cluster has died: no use
		// waiting for it (Launch starts again).
		if outs, _ := filepath.Glob(filepath.Join(c.Dir, "log", "*.out")); len(outs) > 0 {
			for _, f := range outs {
				if data, _ := os.ReadFile(f); bytes.Contains(data, []byte("Address already in use")) {
					return fmt.Errorf("waiting for %s: %s: Address already in use", what, filepath.Base(f))
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for %s", what)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *Cluster) tailLogs() string {
	var b strings.Builder
	files, _ := filepath.Glob(filepath.Join(c.Dir, "log", "*"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		if len(data) > 2000 {
			data = data[len(data)-2000:]
		}
		fmt.Fprintf(&b, "--- %s\n%s\n", f, data)
	}
	return b.String()
}

// mint signs a token for c.User the way slurmctld checks it: HS256 over the
// raw key, claims exp, iat, sun.
func (c *Cluster) mint(life time.Duration) (string, error) {
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iat": now.Unix(), "exp": now.Add(life).Unix(), "sun": c.User,
	})
	return tok.SignedString(c.jwtKey)
}

// JWTKey returns slurmctld's jwt key (what a target's slurmJWTKey secret holds).
func (c *Cluster) JWTKey() string { return string(c.jwtKey) }

// Token returns a token for c.User valid for an hour.
func (c *Cluster) Token(t testing.TB) string {
	t.Helper()
	s, err := c.mint(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Scontrol runs scontrol with the arguments and returns its output; a
// failure fails the test.
func (c *Cluster) Scontrol(t testing.TB, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := c.run(ctx, append([]string{"/usr/bin/scontrol"}, args...)...)
	if err != nil {
		t.Fatalf("scontrol %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return out
}

// Squeue returns the ids of the jobs that are pending or running
// (completing included).
func (c *Cluster) Squeue(t testing.TB) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := c.run(ctx, "/usr/bin/squeue", "-h", "-t", "PD,R,CG,CF,S", "-o", "%i")
	if err != nil {
		t.Fatalf("squeue: %v: %s", err, out)
	}
	return strings.Fields(out)
}

// SetNodeState runs scontrol update nodename=NODE state=STATE [reason=...].
// RESUME of a node that is neither down nor drained is not an error: with
// ReturnToService=2 a DOWN node comes back by itself once its slurmd
// registers again, which may happen before the test resumes it.
func (c *Cluster) SetNodeState(t testing.TB, node, state, reason string) {
	t.Helper()
	args := []string{"update", "nodename=" + node, "state=" + state}
	if reason != "" {
		args = append(args, "reason="+reason)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := c.run(ctx, append([]string{"/usr/bin/scontrol"}, args...)...)
	if err != nil && !(strings.EqualFold(state, "resume") && strings.Contains(out, "Invalid node state specified")) {
		t.Fatalf("scontrol %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// Stop kills every process of the cluster (daemons by pid, then whatever
// job or slurmstepd still runs with this cluster's SLURM_CONF) and removes
// its directory. It is safe to call twice.
func (c *Cluster) Stop() {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return
	}
	c.stopped = true
	procs := c.procs
	c.mu.Unlock()

	var pids []int
	for i := len(procs) - 1; i >= 0; i-- { // slurmrestd, slurmds, then slurmctld
		pids = append(pids, procs[i].Process.Pid)
	}
	// Cloud nodes' slurmd were started by resume.sh with pid files.
	files, _ := filepath.Glob(filepath.Join(c.Dir, "run", "slurmd-cloud*.pid"))
	for _, f := range files {
		if pid := readPid(f); pid > 0 {
			pids = append(pids, pid)
		}
	}
	killAll(pids)
	// slurmstepd and job processes carry this cluster's SLURM_CONF.
	killAll(c.strays())
	if pid := readPid(filepath.Join(c.Dir, "munge", "munged.pid")); pid > 0 {
		killAll([]int{pid})
	}
	if c.releasePorts != nil {
		c.releasePorts()
	}
	os.RemoveAll(c.Dir)
}

func readPid(f string) int {
	data, err := os.ReadFile(f)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid
}

// strays lists the processes whose environment names this cluster's
// slurm.conf: slurmstepd (inherits slurmd's environment) and job processes
// (slurmd puts SLURM_CONF into every job).
func (c *Cluster) strays() []int {
	want := []byte("SLURM_CONF=" + c.Conf + "\x00")
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		if bytes.Contains(env, want) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killAll sends SIGTERM, waits up to 3 s, then SIGKILLs the survivors.
func killAll(pids []int) {
	for _, p := range pids {
		syscall.Kill(p, syscall.SIGTERM)
	}
	deadline := time.Now().Add(3 * time.Second)
	for _, p := range pids {
		for syscall.Kill(p, 0) == nil && time.Now().Before(deadline) && !zombie(p) {
			time.Sleep(20 * time.Millisecond)
		}
		if syscall.Kill(p, 0) == nil && !zombie(p) {
			syscall.Kill(p, syscall.SIGKILL)
		}
	}
}

func zombie(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// Sbatch runs sbatch --parsable with the arguments and returns the job id
// (for jobs that are not Trainyard's, e.g. one holding every node).
func (c *Cluster) Sbatch(t testing.TB, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := c.run(ctx, append([]string{"/usr/bin/sbatch", "--parsable", "--chdir=" + c.SharedDir, "--output=/dev/null"}, args...)...)
	if err != nil {
		t.Fatalf("sbatch %s: %v: %s", strings.Join(args, " "), err, out)
	}
	id, _, _ := strings.Cut(strings.TrimSpace(out), ";")
	return id
}

// Scancel cancels jobs by id.
func (c *Cluster) Scancel(t testing.TB, ids ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := c.run(ctx, append([]string{"/usr/bin/scancel"}, ids...)...); err != nil {
		t.Fatalf("scancel %s: %v: %s", strings.Join(ids, " "), err, out)
	}
}

// WaitIdle waits until every static node is idle and responding (after a
// RESUME a node shows idle* for a moment until its slurmd re-registers).
func (c *Cluster) WaitIdle(t testing.TB, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last string
	err := c.waitFor(ctx, "idle nodes", func() bool {
		out, _ := c.run(ctx, "/usr/bin/sinfo", "-h", "-N", "-p", c.Partition, "-o", "%N %t")
		last = out
		n := 0
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[1] == "idle" {
				n++
			}
		}
		return n == len(c.Nodes)
	})
	if err != nil {
		t.Fatalf("%v; sinfo:\n%s", err, last)
	}
}
