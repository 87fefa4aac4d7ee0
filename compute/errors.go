package compute

import (
	"errors"
	"fmt"
	"strings"
)

// The error vocabulary shared by every layer. Store, backends and handlers wrap
// these with %w; the web layer maps them to HTTP statuses in one table.
var (
	// ErrNotFound means the object named does not exist (404).
	ErrNotFound = errors.New("not found")
	// ErrInvalid means the input breaks a rule (400/422); see ValidationError.
	ErrInvalid = errors.New("invalid input")
	// ErrConflict means the object exists already or is in the wrong state (409).
	ErrConflict = errors.New("conflict")
	// ErrUnauthenticated means no valid credentials came with the request (401).
	ErrUnauthenticated = errors.New("not signed in")
	// ErrForbidden means the caller's role does not allow the action (403).
	ErrForbidden = errors.New("forbidden")
	// ErrUnavailable means a backend cannot be reached right now (503).
	ErrUnavailable = errors.New("unavailable")
	// ErrTooManyRequests means the caller must wait before trying again (429).
	ErrTooManyRequests = errors.New("too many requests")
)

// FieldError is one rule broken by one field, in words a user can act on.
type FieldError struct {
	Field   string // the form field / JSON path, e.g. "name" or "properties.properties.scaleSettings.maxNodeCount"
	Message string
}

// ValidationError collects every field error of one request so a form can show
// them all at once. It matches ErrInvalid with errors.Is.
type ValidationError struct {
	Fields []FieldError
}

// Add records a broken rule.
func (v *ValidationError) Add(field, format string, args ...any) {
	v.Fields = append(v.Fields, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Err returns nil when nothing was added, so callers can `return v.Err()`.
func (v *ValidationError) Err() error {
	if v == nil || len(v.Fields) == 0 {
		return nil
	}
	return v
}

// For returns the first message for a field, or "".
func (v *ValidationError) For(field string) string {
	if v == nil {
		return ""
	}
	for _, f := range v.Fields {
		if f.Field == field {
			return f.Message
		}
	}
	return ""
}

func (v *ValidationError) Error() string {
	parts := make([]string, 0, len(v.Fields))
	for _, f := range v.Fields {
		parts = append(parts, f.Field+": "+f.Message)
	}
	return strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrInvalid) true for validation errors.
func (v *ValidationError) Is(target error) bool { return target == ErrInvalid }

// Invalid returns a ValidationError for a single field.
func Invalid(field, format string, args ...any) error {
	v := &ValidationError{}
	v.Add(field, format, args...)
	return v
}

// CodedError carries an Azure-style error code (e.g. "AlreadyExists") next to
// one of the vocabulary errors, so API bodies can name it.
type CodedError struct {
	Kind    error  // one of the Err* values above
	Code    string // Azure-style code shown in API error bodies
	Message string
	Target  string
}

func (e *CodedError) Error() string { return e.Message }

// Unwrap lets errors.Is see the vocabulary error.
func (e *CodedError) Unwrap() error { return e.Kind }

// Conflictf builds a 409 error with an Azure-style code.
func Conflictf(code, target, format string, args ...any) error {
	return &CodedError{Kind: ErrConflict, Code: code, Target: target, Message: fmt.Sprintf(format, args...)}
}

// NotFoundf builds a 404 error naming the missing object.
func NotFoundf(target, format string, args ...any) error {
	return &CodedError{Kind: ErrNotFound, Code: "NotFound", Target: target, Message: fmt.Sprintf(format, args...)}
}

// UntrustedHostKey is a backend's error for an SSH host key that is not
// pinned yet (Changed false: trust on first use waits for an operator) or
// differs from the pinned one (Changed true: a reinstalled machine or a man
// in the middle). Presented is the SHA256 fingerprint the host showed. Such
// errors also match ErrConflict.
type UntrustedHostKey interface {
	error
	HostKeyPresented() (presented string, changed bool)
}
