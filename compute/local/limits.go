package local

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/containerd/cgroups/v3"
	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/trainyard/trainyard/compute"
)

// DefaultPidsLimit is how many processes and threads one rank of a job may
// have: a fork bomb stops there while the server and other runs go on. It is
// generous, because threads count (a PyTorch data loader has dozens).
const DefaultPidsLimit = 4096

// Limits bounds what one rank of a job may use; zero fields are unbounded.
// A compute instance or cluster node is as big as its VM size says; the
// built-in local target takes what `trainyard serve` was given.
type Limits struct {
	CPUs        float64 // CPU time, in cores (a quota of CPUs × the period)
	MemoryBytes int64
	Pids        int64
	// Of names what the limits are those of, for the out-of-memory reason
	// ("Standard_DS3_v2", "the local target").
	Of string
}

// limitsFor is what each rank of a job on t may use.
func (b *Backend) limitsFor(t *compute.Target) Limits {
	l := Limits{Pids: b.cfg.PidsLimit}
	size := ""
	switch {
	case t.Kind == compute.KindCluster && t.Cluster != nil:
		size = t.Cluster.VMSize
	case t.Kind == compute.KindInstance && t.Instance != nil:
		size = t.Instance.VMSize
	default:
		l.CPUs, l.MemoryBytes, l.Of = b.cfg.LocalCPUs, b.cfg.LocalMemoryBytes, "the local target"
		return l
	}
	if s, ok := compute.LookupVMSize(size); ok {
		l.CPUs, l.MemoryBytes, l.Of = float64(s.VCPUs), int64(s.MemoryGB*(1<<30)), s.Name
	}
	return l
}

// cgroupRoot is the folder under each hierarchy where jobs' cgroups live.
const cgroupRoot = "/trainyard"

// cgroupPeriod is the CFS period the CPU quota is a share of (100 ms).
const cgroupPeriod = 100_000

// limiter puts each rank of a job in a cgroup of its own with the job's
// Limits, on cgroup v2 or, where the controllers are mounted v1 (as with a
// cgroup2 "unified" mount beside them), on v1. Where neither can be written
// (a server without root), jobs run unbounded and the server says so once.
type limiter struct {
	mode cgroups.CGMode
	// off is why cgroups are not used; "" when they are.
	off string
}

func newLimiter(log *slog.Logger) limiter {
	l := limiter{mode: cgroups.Mode()}
	var err error
	switch l.mode {
	case cgroups.Unified:
		var m *cgroup2.Manager
		if m, err = cgroup2.NewManager("/sys/fs/cgroup", cgroupRoot, &cgroup2.Resources{}); err == nil {
			// The parent hands cpu, memory and pids down to the jobs' groups.
			err = m.ToggleControllers([]string{"cpu", "memory", "pids"}, cgroup2.Enable)
		}
	case cgroups.Legacy, cgroups.Hybrid:
		_, err = cgroup1.New(cgroup1.StaticPath(cgroupRoot), &specs.LinuxResources{}, cgroup1.WithHierarchy(v1Hierarchy))
	default:
		err = errors.New("no cgroup file system is mounted")
	}
	if err == nil {
		// The parent may be left from a server that ran as root: only a
		// group of our own shows that this server can make them.
		probe := fmt.Sprintf("%s/probe-%d", cgroupRoot, os.Getpid())
		if err = l.place(probe, 0, Limits{}); err == nil {
			l.remove(probe)
		}
	}
	if err != nil {
		l.off = err.Error()
		log.Warn("jobs on this machine run without CPU, memory and process limits: cgroups cannot be written", "err", err)
	}
	return l
}

// v1Hierarchy is the three v1 controllers the limits use.
func v1Hierarchy() ([]cgroup1.Subsystem, error) {
	return v1Controllers(true, true)()
}

// v1Controllers is the pids controller (which every rank's group has: it
// bounds the processes and lists them, for killAll), with cpu and memory
// when asked for. On v1 each controller is a group of its own to make, to
// move the rank into and to remove, and moving a process takes a lock
// that stalls every fork on the machine for an RCU grace period: a group
// per controller the rank has no limit in cost the server a few
// milliseconds per rank for nothing (docs/BENCHMARKS.md).
func v1Controllers(cpu, memory bool) cgroup1.Hierarchy {
	return func() ([]cgroup1.Subsystem, error) {
		const root = "/sys/fs/cgroup"
		subs := []cgroup1.Subsystem{cgroup1.NewPids(root)}
		if cpu {
			subs = append(subs, cgroup1.NewCpu(root))
		}
		if memory {
			subs = append(subs, cgroup1.NewMemory(root))
		}
		return subs, nil
	}
}

// cgroupName is the cgroup of one rank of a run.
func cgroupName(runID string, rank int) string {
	return fmt.Sprintf("%s/%s.%d", cgroupRoot, runID, rank)
}

// place creates the rank's cgroup with the limits and moves pid into it
// (the wrapper, stopped before it starts anything: see Submit).
func (l limiter) place(name string, pid int, lim Limits) error {
	if l.off != "" {
		return nil
	}
	var quota *int64
	if lim.CPUs > 0 {
		q := int64(math.Ceil(lim.CPUs * cgroupPeriod))
		quota = &q
	}
	mem := nonZero(lim.MemoryBytes)
	switch l.mode {
	case cgroups.Unified:
		res := &cgroup2.Resources{}
		if quota != nil {
			period := uint64(cgroupPeriod)
			res.CPU = &cgroup2.CPU{Max: cgroup2.NewCPUMax(quota, &period)}
		}
		if mem != nil {
			res.Memory = &cgroup2.Memory{Max: mem}
		}
		if lim.Pids > 0 {
			res.Pids = &cgroup2.Pids{Max: lim.Pids}
		}
		m, err := cgroup2.NewManager("/sys/fs/cgroup", name, res)
		if err != nil || pid == 0 {
			return err
		}
		return m.AddProc(uint64(pid))
	default:
		res := &specs.LinuxResources{}
		if quota != nil {
			period := uint64(cgroupPeriod)
			res.CPU = &specs.LinuxCPU{Quota: quota, Period: &period}
		}
		if mem != nil {
			res.Memory = &specs.LinuxMemory{Limit: mem}
		}
		if lim.Pids > 0 {
			res.Pids = &specs.LinuxPids{Limit: &lim.Pids}
		}
		cg, err := cgroup1.New(cgroup1.StaticPath(name), res, cgroup1.WithHierarchy(v1Controllers(quota != nil, mem != nil)))
		if err != nil || pid == 0 {
			return err
		}
		return cg.AddProc(uint64(pid))
	}
}

// oomKilled reports whether the kernel killed a process of the rank's
// cgroup because the rank ran out of memory.
func (l limiter) oomKilled(name string) bool {
	if l.off != "" {
		return false
	}
	switch l.mode {
	case cgroups.Unified:
		m, err := cgroup2.Load(name)
		if err != nil {
			return false
		}
		st, err := m.StatFiltered(cgroup2.StatMemoryEvents)
		return err == nil && st.GetMemoryEvents().GetOomKill() > 0
	default:
		// memory.oom_control's oom_kill counts the kills in this group,
		// which the rank has when it has a memory limit.
		cg, err := cgroup1.Load(cgroup1.StaticPath(name), cgroup1.WithHierarchy(v1Controllers(false, true)))
		if err != nil {
			return false
		}
		st, err := cg.Stat(cgroup1.IgnoreNotExist)
		return err == nil && st.GetMemoryOomControl().GetOomKill() > 0
	}
}

// killAll kills every process left in a cgroup, a few rounds in case one
// forks while it is being killed, then removes the cgroup. Without cgroups
// there is nothing to find this way (sessions are ended by their own Close).
func (l limiter) killAll(name string) {
	if l.off != "" {
		return
	}
	for range 5 {
		pids := l.procs(name)
		if len(pids) == 0 {
			break
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
	l.removeEventually(name)
}

// procs lists the processes in a cgroup (none when it does not exist).
func (l limiter) procs(name string) []int {
	var pids []int
	switch l.mode {
	case cgroups.Unified:
		m, err := cgroup2.Load(name)
		if err != nil {
			return nil
		}
		ps, _ := m.Procs(true)
		for _, p := range ps {
			pids = append(pids, int(p))
		}
	default:
		cg, err := cgroup1.Load(cgroup1.StaticPath(name), cgroup1.WithHierarchy(v1Controllers(false, false)))
		if err != nil {
			return nil
		}
		ps, _ := cg.Processes(cgroup1.Pids, true)
		for _, p := range ps {
			pids = append(pids, p.Pid)
		}
	}
	return pids
}

// remove deletes a rank's cgroup once its processes are gone; a cgroup
// already gone is no error. It reports whether the cgroup is gone.
func (l limiter) remove(name string) bool {
	if l.off != "" {
		return true
	}
	switch l.mode {
	case cgroups.Unified:
		m, err := cgroup2.Load(name)
		if err != nil {
			return true
		}
		err = m.Delete()
		return err == nil || errors.Is(err, os.ErrNotExist)
	default:
		gone := true
		for _, c := range []string{"cpu", "memory", "pids"} {
			if err := os.Remove(filepath.Join("/sys/fs/cgroup", c, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				gone = false
			}
		}
		return gone
	}
}

// Retries of removeEventually: a rank's cgroup is often still busy for a
// moment after its last process was reaped (the kernel releases it
// asynchronously), and a job that ended is not looked at again.
const (
	cgroupRemoveEvery = 50 * time.Millisecond
	cgroupRemoveFor   = 30 * time.Second
)

// removeEventually removes a rank's cgroup now, or keeps trying in the
// background until it can: each one left behind would stay for good (on a
// busy machine, a third of a sweep's groups did).
func (l limiter) removeEventually(name string) {
	if l.remove(name) {
		return
	}
	go func() {
		for deadline := time.Now().Add(cgroupRemoveFor); time.Now().Before(deadline); {
			time.Sleep(cgroupRemoveEvery)
			if l.remove(name) {
				return
			}
		}
	}()
}

func nonZero(v int64) *int64 {
	if v <= 0 {
		return nil
	}
	return &v
}

// formatBytes writes a memory limit as people read one: "14 GiB", "512 MiB".
func formatBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	default:
		return fmt.Sprintf("%d MiB", n>>20)
	}
}
