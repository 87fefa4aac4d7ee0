package compute

import (
	"fmt"
	"strings"
	"time"
)

// Which of an instance's setup scripts ran (Studio's names).
const (
	ScriptCreation = "creation script"
	ScriptStartup  = "startup script"
)

// MaxScriptBytes bounds a setup script's text (it is stored with the
// instance).
const MaxScriptBytes = 64 << 10

// ScriptFailure is a setup script of an instance that failed: it exited
// non-zero or ran out of time. A failed creation script fails the create;
// a failed startup script leaves the instance running with a warning. It
// matches ErrInvalid: the script is the user's.
type ScriptFailure struct {
	Script   string // ScriptCreation or ScriptStartup
	ExitCode int
	// TimedOut is the time limit the script ran out of (0: it exited).
	TimedOut time.Duration
	// Tail is the last lines of its output.
	Tail string
}

func (e *ScriptFailure) Error() string {
	how := fmt.Sprintf("exited with code %d", e.ExitCode)
	if e.TimedOut > 0 {
		how = "did not finish within " + e.TimedOut.String()
	}
	msg := "The " + e.Script + " " + how
	if t := strings.TrimSpace(e.Tail); t != "" {
		msg += ". Its last lines:\n" + t
	}
	return msg
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ScriptFailure) Is(target error) bool { return target == ErrInvalid }

// LastLines is the end of a script's output: at most n lines, at most 2 KiB.
func LastLines(out string, n int) string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	s := strings.Join(lines, "\n")
	if len(s) > 2048 {
		s = s[len(s)-2048:]
	}
	return s
}
