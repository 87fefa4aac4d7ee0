package sshvm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/pkg/sftp"

	"github.com/trainyard/trainyard/compute"
)

// lostJob is what the backend remembers, in memory, about a job whose VM
// stopped answering. A server restart forgets it, which is safe: the next
// dispatcher starts counting again and the job is re-adopted by its pid.
type lostJob struct {
	since  time.Time         // when the first failing attempt started
	last   time.Time         // when the last failing attempt ended
	err    error             // the last error
	final  *compute.JobState // set once LostGrace passed: the outcome for good
	target string
}

// unreachable reports whether err means the VM could not be reached (as
// opposed to a job that is gone, a bad handle, an untrusted host key or a
// cancelled caller).
func unreachable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, compute.ErrNotFound) || errors.Is(err, compute.ErrInvalid) || errors.Is(err, compute.ErrConflict) {
		return false
	}
	var ne net.Error
	return errors.Is(err, compute.ErrUnavailable) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, sftp.ErrSSHFxConnectionLost) ||
		errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne)
}

// lostOutcome returns the outcome reported for good for a job whose VM was
// lost for longer than LostGrace, or nil.
func (b *Backend) lostOutcome(id string) *compute.JobState {
	b.mu.Lock()
	defer b.mu.Unlock()
	if l := b.lost[id]; l != nil && l.final != nil {
		st := *l.final
		return &st
	}
	return nil
}

// noteLost records a failed attempt (started at started) to reach a job's VM
// and returns the job's final state once the VM has been unreachable for
// LostGrace.
func (b *Backend) noteLost(h compute.Handle, target string, started time.Time, err error) *compute.JobState {
	now := time.Now()
	b.mu.Lock()
	l := b.lost[h.ID]
	if l == nil {
		l = &lostJob{since: started, target: target}
		b.lost[h.ID] = l
	}
	l.err, l.last = err, now
	tell := !b.down[target]
	b.down[target] = true
	if l.final == nil && now.Sub(l.since) >= b.cfg.LostGrace {
		l.final = &compute.JobState{Phase: compute.JobFailed, ExitCode: -1,
			Reason: fmt.Sprintf("lost the connection to %s: %s", target, strings.TrimSuffix(err.Error(), ": "+compute.ErrUnavailable.Error()))}
	}
	final := l.final
	notify := b.cfg.OnUnreachable
	b.pruneLostLocked(now)
	b.mu.Unlock()
	if tell {
		b.log.Warn("lost the connection to a job's VM; reconnecting", "target", target, "err", err)
		if notify != nil {
			notify(target, err)
		}
	}
	if final != nil {
		b.log.Warn("giving up on a job whose VM does not answer", "target", target, "handle", h.ID, "since", l.since)
	}
	return final
}

// noteReached forgets an outage of a job's VM: it answered again.
func (b *Backend) noteReached(h compute.Handle, target string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if l := b.lost[h.ID]; l != nil && l.final == nil {
		delete(b.lost, h.ID)
		b.log.Info("reconnected to a job's VM", "target", target, "handle", h.ID, "after", time.Since(l.since).Round(time.Second))
	}
	delete(b.down, target)
}

// pruneLostLocked drops records older than a day (jobs long finalized).
func (b *Backend) pruneLostLocked(now time.Time) {
	for id, l := range b.lost {
		if now.Sub(l.since) > 24*time.Hour {
			delete(b.lost, id)
		}
	}
}

// errGaveUp is returned by FetchOutputs and Logs for a job whose VM was
// given up on, so that finalizing it takes no further connection attempts.
func errGaveUp(st *compute.JobState) error {
	return fmt.Errorf("%s: %w", st.Reason, compute.ErrUnavailable)
}

// NotifyUnreachable sets Config.OnUnreachable after New (the controller it
// reports to is usually made after the backend).
func (b *Backend) NotifyUnreachable(f func(target string, err error)) {
	b.mu.Lock()
	b.cfg.OnUnreachable = f
	b.mu.Unlock()
}
