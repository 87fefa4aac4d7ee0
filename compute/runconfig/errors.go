package runconfig

import (
	"errors"
	"slices"
	"strconv"
	"strings"
)

// Error is a problem found in a configuration file: which file, the line
// (and column when known) it is on, the field as a dotted path with the
// schema's spelling (e.g. environment.python.interpreterPath), and what is
// wrong. It prints as "file:line: field: message", the way compilers do.
type Error struct {
	File    string
	Line    int
	Column  int
	Field   string
	Message string
	// Err, when set, is a sentinel such as ErrNotSupported that errors.Is finds.
	Err error
}

// ErrNotSupported marks a file of a kind Trainyard recognises but cannot
// read yet (e.g. a sweep job).
var ErrNotSupported = errors.New("not supported yet")

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// Error renders "file:line: field: message"; parts that are unknown are left out.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		b.WriteString("line " + strconv.Itoa(e.Line) + ": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Note is a form Trainyard accepts though today's schema has another one
// (the az CLI ml extension's preview forms, e.g. code: {local_path: …}),
// with what Trainyard does with it. It prints as
// "file:line: warning: field: message", the way compilers warn.
type Note struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

// String renders "file:line: warning: field: message".
func (n Note) String() string {
	return (&Error{File: n.File, Line: n.Line, Field: "warning: " + n.Field, Message: n.Message}).Error()
}

// sortErrors orders problems by line, keeping the order of those on one line.
func sortErrors(probs []*Error) {
	slices.SortStableFunc(probs, func(a, b *Error) int { return a.Line - b.Line })
}
