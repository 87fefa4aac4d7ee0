package handlers

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/trainyard/trainyard/views/pages"
)

// machineCapacity is this machine's CPUs and memory, where the local
// workspace's nodes and instances run (memory 0 when /proc/meminfo cannot
// be read).
func machineCapacity() (cpus int, memGB float64) {
	cpus = runtime.NumCPU()
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return cpus, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err == nil {
				memGB = kb / (1 << 20)
			}
			break
		}
	}
	return cpus, memGB
}

// machineShare tells, for each size of the picker, how much of this
// machine one node takes, and marks the sizes larger than the machine: a
// node is limited to its size's vCPUs and memory (cgroups), so a larger
// size is not refused, but gets the machine, not the size.
func (h *Handlers) machineShare(p *pages.SizePickerVM) {
	cpus, memGB := machineCapacity()
	p.Machine = fmt.Sprintf("%d vCPUs", cpus)
	if memGB > 0 {
		p.Machine += fmt.Sprintf(", %.1f GB", memGB)
	}
	for i := range p.Rows {
		r := &p.Rows[i]
		mem, _ := strconv.ParseFloat(r.MemoryGB, 64)
		r.TooBig = r.VCPUs > cpus || (memGB > 0 && mem > memGB)
		switch {
		case r.TooBig:
			r.Share = fmt.Sprintf("more than this machine: a node gets %d vCPUs", min(r.VCPUs, cpus))
			if memGB > 0 && mem > memGB {
				r.Share += fmt.Sprintf(", %.1f GB", memGB)
			}
		case memGB > 0:
			r.Share = fmt.Sprintf("%d of %d vCPUs · %.0f%% of memory", r.VCPUs, cpus, 100*mem/memGB)
		default:
			r.Share = fmt.Sprintf("%d of %d vCPUs", r.VCPUs, cpus)
		}
	}
}
