package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// DefaultScriptTimeout is how long an instance's creation or startup script
// may run.
const DefaultScriptTimeout = 30 * time.Minute

// maxScriptLog is how much of a script's output is kept with the instance.
const maxScriptLog = 16 << 10

// runScript runs one of the instance's setup scripts as the instance's user,
// in its sandbox and home, with bash reading the script from its standard
// input (the script's text never becomes an argument or a file the server
// names). It returns the end of the output, and a *compute.ScriptFailure
// when the script failed or ran out of time.
func (b *Backend) runScript(ctx context.Context, t *compute.Target, which, script string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.ScriptTimeout)
	defer cancel()
	// 2>&1 inside: stdout and stderr interleave as they were written.
	s, err := b.openSession(ctx, t, compute.SessionSpec{Purpose: which, Argv: []string{"/bin/bash", "-c", "exec 2>&1; exec /bin/bash -s", "trainyard-script"}})
	if err != nil {
		return "", fmt.Errorf("starting the %s of %s: %w", which, t.Name, err)
	}
	defer s.Close()
	go func() {
		_, _ = io.WriteString(s, script+"\n")
		_ = s.CloseInput()
	}()
	out := &tailBuffer{max: maxScriptLog}
	copied := make(chan struct{})
	go func() { _, _ = io.Copy(out, s); close(copied) }()
	exited := make(chan struct{})
	var code int
	var werr error
	go func() { code, werr = s.Wait(); close(exited) }()
	select {
	case <-exited:
	case <-ctx.Done():
		_ = s.Close()
		<-exited
		<-copied
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return out.String(), &compute.ScriptFailure{Script: which, TimedOut: b.cfg.ScriptTimeout, Tail: compute.LastLines(out.String(), 20)}
		}
		return out.String(), ctx.Err()
	}
	<-copied
	if werr != nil {
		return out.String(), fmt.Errorf("running the %s of %s: %w", which, t.Name, werr)
	}
	if code != 0 {
		return out.String(), &compute.ScriptFailure{Script: which, ExitCode: code, Tail: compute.LastLines(out.String(), 20)}
	}
	b.log.Info("setup script done", "target", t.Name, "script", which)
	return out.String(), nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (w *tailBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if extra := w.buf.Len() - w.max; extra > 0 {
		w.buf.Next(extra)
	}
	return len(p), nil
}

func (w *tailBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// startupScripts runs the creation script (on create) and then the startup
// script of instance t, and records their output in t.Instance. A failed
// creation script is the create's error; a failed startup script is
// recorded as a warning and returned as a *compute.ScriptFailure.
func (b *Backend) startupScripts(ctx context.Context, t *compute.Target, creating bool) error {
	in := t.Instance
	in.StartupWarning = ""
	if creating && in.SetupScript != "" {
		log, err := b.runScript(ctx, t, compute.ScriptCreation, in.SetupScript)
		in.SetupLog = log
		if err != nil {
			return err
		}
	}
	if in.StartupScript == "" {
		return nil
	}
	log, err := b.runScript(ctx, t, compute.ScriptStartup, in.StartupScript)
	in.StartupLog = log
	var sf *compute.ScriptFailure
	if errors.As(err, &sf) {
		in.StartupWarning = sf.Error()
	}
	return err
}
