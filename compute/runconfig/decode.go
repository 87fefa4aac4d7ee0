package runconfig

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// decoder reads typed values out of a tree, recording the line of every
// field it sees so later checks can point at it.
type decoder struct {
	file  string
	lines map[string]int
	notes []Note // preview forms read, in file order
}

// note records that the form at n (field) was read the way message says.
func (d *decoder) note(n *node, field, format string, args ...any) {
	line := d.lines[field]
	switch {
	case n == nil:
	case n.keyLine > 0:
		line = n.keyLine
	case n.line > 0:
		line = n.line
	}
	d.notes = append(d.notes, Note{File: d.file, Line: line, Field: field, Message: fmt.Sprintf(format, args...)})
}

func newDecoder(file string) *decoder { return &decoder{file: file, lines: map[string]int{}} }

func (d *decoder) errf(n *node, field, format string, args ...any) *Error {
	line, col := 0, 0
	if n != nil {
		line, col = n.line, n.col
	}
	if line == 0 {
		line = d.lines[field]
	}
	return &Error{File: d.file, Line: line, Column: col, Field: field, Message: fmt.Sprintf(format, args...)}
}

func (d *decoder) see(n *node, field string) {
	switch {
	case n == nil:
	case n.keyLine > 0:
		d.lines[field] = n.keyLine
	case n.line > 0:
		d.lines[field] = n.line
	}
}

// object returns a mapping (nil for null or absent) or an error for other kinds.
func (d *decoder) object(n *node, field string) (*node, error) {
	d.see(n, field)
	switch {
	case n.isNull():
		return nil, nil
	case n.kind == mapNode:
		return n, nil
	}
	return nil, d.errf(n, field, "must be a mapping of keys to values, not %s", n.kind)
}

// str reads a string; numbers and booleans are taken as written; null is "".
func (d *decoder) str(n *node, field string) (string, error) {
	d.see(n, field)
	switch {
	case n.isNull():
		return "", nil
	case n.kind == scalarNode:
		return n.text, nil
	}
	return "", d.errf(n, field, "must be a string, not %s", n.kind)
}

// boolean reads true/false (also yes/no/on/off, any case); null is nil.
func (d *decoder) boolean(n *node, field string) (*bool, error) {
	d.see(n, field)
	if n.isNull() {
		return nil, nil
	}
	if n.kind == scalarNode {
		if b, ok := parseBool(n.text); ok {
			return &b, nil
		}
	}
	return nil, d.errf(n, field, "must be true or false, not %s", describe(n))
}

// integer reads a whole number (a quoted one too, and 2.0); null is nil.
func (d *decoder) integer(n *node, field string) (*int64, error) {
	d.see(n, field)
	if n.isNull() {
		return nil, nil
	}
	if n.kind == scalarNode {
		s := strings.TrimSpace(strings.ReplaceAll(n.text, "_", ""))
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return &i, nil
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			i := int64(f)
			return &i, nil
		}
	}
	return nil, d.errf(n, field, "must be a whole number, not %s", describe(n))
}

// int32v reads a whole number that fits an int32 (counts).
func (d *decoder) int32v(n *node, field string) (*int, error) {
	i, err := d.integer(n, field)
	if err != nil || i == nil {
		return nil, err
	}
	if *i > math.MaxInt32 || *i < math.MinInt32 {
		return nil, d.errf(n, field, "%d is too large", *i)
	}
	v := int(*i)
	return &v, nil
}

// number reads a number; null is nil.
func (d *decoder) number(n *node, field string) (*float64, error) {
	d.see(n, field)
	if n.isNull() {
		return nil, nil
	}
	if n.kind == scalarNode {
		if f, err := strconv.ParseFloat(strings.TrimSpace(n.text), 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return &f, nil
		}
	}
	return nil, d.errf(n, field, "must be a number, not %s", describe(n))
}

// strList reads a list of scalars, each taken as written; null is nil. A
// null item is an error: Azure would pass the word None.
func (d *decoder) strList(n *node, field string) ([]string, error) {
	d.see(n, field)
	if n.isNull() {
		return nil, nil
	}
	if n.kind != seqNode {
		return nil, d.errf(n, field, "must be a list (e.g. [--lr, \"0.1\"]), not %s", describe(n))
	}
	out := make([]string, 0, len(n.items))
	for i, it := range n.items {
		f := fmt.Sprintf("%s[%d]", field, i)
		if it.kind != scalarNode {
			if it.line == 0 {
				it = &node{kind: it.kind, line: n.line}
			}
			return nil, d.errf(it, f, "must be a string, not %s", it.kind)
		}
		d.see(it, f)
		out = append(out, it.text)
	}
	return out, nil
}

// intList reads a list of whole numbers.
func (d *decoder) intList(n *node, field string) ([]int, error) {
	d.see(n, field)
	if n.isNull() {
		return nil, nil
	}
	if n.kind != seqNode {
		return nil, d.errf(n, field, "must be a list of numbers, not %s", describe(n))
	}
	out := make([]int, 0, len(n.items))
	for i, it := range n.items {
		v, err := d.int32v(it, fmt.Sprintf("%s[%d]", field, i))
		if err != nil {
			return nil, err
		}
		if v == nil {
			return nil, d.errf(n, fmt.Sprintf("%s[%d]", field, i), "must be a number, not null")
		}
		out = append(out, *v)
	}
	return out, nil
}

// strMap reads a mapping of names to scalar values (null values are "").
func (d *decoder) strMap(n *node, field string) (map[string]string, error) {
	m, err := d.object(n, field)
	if err != nil || m == nil {
		return nil, err
	}
	out := make(map[string]string, len(m.keys))
	for i, k := range m.keys {
		f := field + "." + k.text
		v, err := d.str(m.vals[i], f)
		if err != nil {
			return nil, err
		}
		out[k.text] = v
	}
	return out, nil
}

// freeform reads any value as JSON-ready data; null is nil.
func (d *decoder) freeform(n *node, field string) (any, error) {
	d.see(n, field)
	if n.isNull() {
		return nil, nil
	}
	budget := maxExpandedNodes
	v, err := toAny(n, &budget)
	if err != nil {
		return nil, d.errf(n, field, "%v", err)
	}
	return v, nil
}

// enum reads one of allowed, matched case-insensitively, and returns the
// canonical spelling. null and "" give "".
func (d *decoder) enum(n *node, field string, allowed ...string) (string, error) {
	s, err := d.str(n, field)
	if err != nil || strings.TrimSpace(s) == "" {
		return "", err
	}
	for _, a := range allowed {
		if strings.EqualFold(strings.TrimSpace(s), a) {
			return a, nil
		}
	}
	return "", d.errf(n, field, "%q is not one of %s", s, strings.Join(allowed, ", "))
}

// describe names a value for a message: its text for scalars, its kind otherwise.
func describe(n *node) string {
	if n == nil {
		return "null"
	}
	if n.kind == scalarNode {
		s := n.text
		if r := []rune(s); len(r) > 40 {
			s = string(r[:40]) + "…"
		}
		return strconv.Quote(s)
	}
	return n.kind.String()
}
