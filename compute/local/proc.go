package local

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// This file finds and signals a job's processes through /proc, so it works for
// processes this server did not start (after a restart they are children of
// init). The local backend is therefore Linux-only.

// rankProc identifies the process that leads one rank of a job: the wrapper
// shell, started with setsid so that its pid is also the process group and
// session id of everything the job runs. Start is the kernel's start time of
// that pid (clock ticks since boot, /proc/<pid>/stat field 22): a pid can be
// reused after the wrapper is gone, a (pid, start) pair cannot.
type rankProc struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start"`
}

// procInfo is the part of /proc/<pid>/stat the backend needs.
type procInfo struct {
	pid     int
	state   byte // R, S, D, Z, ...
	pgrp    int
	session int
	start   uint64
}

// readProc reads /proc/<pid>/stat. The command name (field 2) may hold spaces
// and parentheses, so fields are counted from the last ')'.
func readProc(pid int) (procInfo, error) {
	return readProcInto(pid, make([]byte, statBufSize))
}

// statBufSize holds any /proc/<pid>/stat line (52 numbers and a command
// name of at most 64 bytes).
const statBufSize = 2048

// readProcInto is readProc reading into buf: one open, read and close, where
// os.ReadFile also stats the file and reads again for the end; a scan of
// /proc does this for every process on the machine, on every scan, and
// syscalls are what a scan costs.
func readProcInto(pid int, buf []byte) (procInfo, error) {
	path := "/proc/" + strconv.Itoa(pid) + "/stat"
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return procInfo{}, &os.PathError{Op: "open", Path: path, Err: err}
	}
	n, err := syscall.Read(fd, buf)
	syscall.Close(fd)
	if err != nil {
		return procInfo{}, &os.PathError{Op: "read", Path: path, Err: err}
	}
	b := buf[:max(n, 0)]
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procInfo{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state), so field n is f[n-3].
	if len(f) < 20 || len(f[0]) != 1 {
		return procInfo{}, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	p := procInfo{pid: pid, state: f[0][0]}
	if p.pgrp, err = strconv.Atoi(string(f[2])); err != nil {
		return procInfo{}, fmt.Errorf("/proc/%d/stat: pgrp: %w", pid, err)
	}
	if p.session, err = strconv.Atoi(string(f[3])); err != nil {
		return procInfo{}, fmt.Errorf("/proc/%d/stat: session: %w", pid, err)
	}
	if p.start, err = strconv.ParseUint(string(f[19]), 10, 64); err != nil {
		return procInfo{}, fmt.Errorf("/proc/%d/stat: starttime: %w", pid, err)
	}
	return p, nil
}

// processTable is one scan of /proc: the live (non-zombie) processes by
// session. Zombies are left out because nothing may reap them: in a container
// whose pid 1 does not wait for orphans they stay forever, and a job whose
// processes are all zombies has ended.
type processTable struct {
	bySession map[int][]procInfo
	leaders   map[int]procInfo // every process whose pid is a session id we asked about, zombie or not
}

// scanProcesses reads /proc once for all the sessions asked about.
func scanProcesses(sessions []int) (*processTable, error) {
	var ents []string
	want := make(map[int]bool, len(sessions))
	for _, s := range sessions {
		want[s] = true
	}
	// Names only: ReadDir would sort them, which a scan does not need.
	d, err := os.Open("/proc")
	if err == nil {
		var names []string
		names, err = d.Readdirnames(-1)
		d.Close()
		ents = names
	}
	if err != nil {
		return nil, fmt.Errorf("reading /proc (the local backend needs Linux): %w", err)
	}
	pt := &processTable{bySession: map[int][]procInfo{}, leaders: map[int]procInfo{}}
	buf := make([]byte, statBufSize)
	for _, name := range ents {
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		p, err := readProcInto(pid, buf)
		if err != nil {
			continue // gone between ReadDir and ReadFile
		}
		if want[pid] {
			pt.leaders[pid] = p
		}
		if want[p.session] && p.state != 'Z' {
			pt.bySession[p.session] = append(pt.bySession[p.session], p)
		}
	}
	return pt, nil
}

// ours reports whether the rank's session still belongs to the job: either its
// leader is the very process started (same start time), or the leader is gone
// and members remain (the kernel does not hand out a pid still used as a
// session or group id, so the members are the job's).
func (pt *processTable) ours(r rankProc) bool {
	if l, ok := pt.leaders[r.PID]; ok && l.start != r.Start {
		return false // the pid now belongs to an unrelated process
	}
	return true
}

// alive reports whether any process of the rank is still running.
func (pt *processTable) alive(r rankProc) bool {
	return pt.ours(r) && len(pt.bySession[r.PID]) > 0
}

// signal sends sig to the rank's process group and to any member of its
// session that moved to a group of its own, never to a reused pid.
func (pt *processTable) signal(r rankProc, sig syscall.Signal) error {
	if !pt.alive(r) {
		return nil
	}
	var errs []error
	if err := syscall.Kill(-r.PID, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		errs = append(errs, fmt.Errorf("signal %v to process group %d: %w", sig, r.PID, err))
	}
	for _, p := range pt.bySession[r.PID] {
		if p.pgrp == r.PID {
			continue
		}
		if err := syscall.Kill(p.pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("signal %v to process %d: %w", sig, p.pid, err))
		}
	}
	return errors.Join(errs...)
}

// processStart returns the start time of a process just started, for its rankProc.
func processStart(pid int) (uint64, error) {
	p, err := readProc(pid)
	if err != nil {
		return 0, err
	}
	return p.start, nil
}
