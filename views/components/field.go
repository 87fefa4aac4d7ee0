package components

import "github.com/a-h/templ"

// Input describes one form field.
type Input struct {
	Name         string
	Label        string
	Type         string // text, number, password, select, textarea
	Value        string
	Hint         string
	Error        string
	Required     bool
	Autocomplete string
	Options      []Option
	// Live holds htmx attributes that re-validate the field as the user types.
	Live templ.Attributes
}

// Option is one choice of a select.
type Option struct {
	Value string
	Label string
}

// ErrorID is the id of a field's error element, shared by the field and the
// live-validation response so the two cannot drift apart.
func ErrorID(name string) string { return "err-" + name }

func ariaInvalid(msg string) string {
	if msg != "" {
		return "true"
	}
	return "false"
}

func inputType(t string) string {
	if t == "" {
		return "text"
	}
	return t
}
