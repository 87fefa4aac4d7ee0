package runconfig

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// MaxFileBytes bounds the size of a configuration file the parsers accept.
const MaxFileBytes = 8 << 20

// maxFlowDepth bounds the nesting of flow collections ([ and {) before the
// YAML parser sees the text: its recursion is not bounded otherwise.
const maxFlowDepth = 200

// maxExpandedNodes bounds how many nodes a free-form value (conda
// dependencies, data, …) may expand to once aliases are resolved, so a
// "billion laughs" file fails instead of eating memory.
const maxExpandedNodes = 100_000

type kind int

const (
	nullNode kind = iota
	scalarNode
	mapNode
	seqNode
)

// String names the kind for messages.
func (k kind) String() string {
	switch k {
	case scalarNode:
		return "a scalar"
	case mapNode:
		return "a mapping"
	case seqNode:
		return "a list"
	}
	return "null"
}

// scalarType tells how YAML resolved a scalar.
type scalarType int

const (
	strScalar scalarType = iota
	intScalar
	floatScalar
	boolScalar
)

// node is a parsed YAML or JSON value with its position. Mapping keys keep
// the spelling of the file; look-ups are case-insensitive.
type node struct {
	kind  kind
	line  int
	col   int
	text  string // a scalar's value: the decoded string, or the source text of a number or boolean
	stype scalarType
	// keyLine is the line of the key this value was last seen under; errors
	// about a section point there, not at its first entry.
	keyLine int
	keys    []*node // mapping keys (scalars), in file order
	vals    []*node // mapping values
	items   []*node // list items
	// fromMerge marks mapping entries that came from a merge key (<<); a key
	// written in the mapping itself overrides them.
	fromMerge map[int]bool
}

// get returns the value of key, matched case-insensitively, or nil.
func (n *node) get(key string) *node {
	if n == nil || n.kind != mapNode {
		return nil
	}
	for i, k := range n.keys {
		if strings.EqualFold(k.text, key) {
			return n.vals[i]
		}
	}
	return nil
}

// has reports whether the mapping has key, even with a null value.
func (n *node) has(key string) bool {
	if n == nil || n.kind != mapNode {
		return false
	}
	for _, k := range n.keys {
		if strings.EqualFold(k.text, key) {
			return true
		}
	}
	return false
}

// isNull reports whether n is absent or null.
func (n *node) isNull() bool { return n == nil || n.kind == nullNode }

// parseError turns a YAML library error into an *Error with a line.
func parseError(file string, err error) *Error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		e := &Error{File: file, Message: ye.GetMessage()}
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			e.Line, e.Column = tk.Position.Line, tk.Position.Column
		}
		if e.Line == 0 {
			e.Line = 1
		}
		return e
	}
	return &Error{File: file, Line: 1, Message: err.Error()}
}

// parseTree parses YAML (JSON is YAML) into a tree. An empty document is an
// error; so is more than one document.
func parseTree(file string, data []byte) (root *node, err error) {
	if len(data) > MaxFileBytes {
		return nil, &Error{File: file, Line: 1, Message: fmt.Sprintf("the file is larger than %d bytes", MaxFileBytes)}
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	if line, deep := tooDeep(data); deep {
		return nil, &Error{File: file, Line: line, Message: fmt.Sprintf("lists and mappings are nested more than %d deep", maxFlowDepth)}
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, &Error{File: file, Line: 1 + bytes.Count(data[:bytes.IndexByte(data, 0)], []byte("\n")), Message: "the file contains a NUL byte; it is not a YAML or JSON text file"}
	}
	// The YAML library is third-party code fed with user input: a panic in it
	// becomes an error, never a crash.
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, &Error{File: file, Line: 1, Message: fmt.Sprintf("cannot parse the file as YAML: %v", r)}
		}
	}()
	f, perr := parser.ParseBytes(data, 0)
	if perr != nil {
		return nil, parseError(file, perr)
	}
	var docs []*ast.DocumentNode
	for _, d := range f.Docs {
		if d != nil && d.Body != nil {
			docs = append(docs, d)
		}
	}
	if len(docs) == 0 {
		return nil, &Error{File: file, Line: 1, Message: "the file is empty"}
	}
	if len(docs) > 1 {
		line := 1
		if tk := docs[1].Body.GetToken(); tk != nil && tk.Position != nil {
			line = tk.Position.Line
		}
		return nil, &Error{File: file, Line: line, Message: "the file holds more than one YAML document; put one configuration in each file"}
	}
	c := &converter{file: file, anchors: map[string]*node{}}
	return c.convert(docs[0].Body, 0)
}

// tooDeep reports whether flow collections nest deeper than maxFlowDepth,
// and the line where they do. Brackets inside quotes and comments are
// skipped; the count is an upper bound, which is all a guard needs.
func tooDeep(data []byte) (int, bool) {
	depth, line := 0, 1
	var quote byte
	comment := false
	for i, b := range data {
		switch {
		case b == '\n':
			line++
			comment = false
			if quote == '\'' || quote == '"' {
				continue
			}
		case comment:
		case quote != 0:
			if b == quote && (quote == '\'' || i == 0 || data[i-1] != '\\') {
				quote = 0
			}
		case b == '#' && (i == 0 || data[i-1] == ' ' || data[i-1] == '\t' || data[i-1] == '\n'):
			comment = true
		case b == '"' || b == '\'':
			quote = b
		case b == '[' || b == '{':
			depth++
			if depth > maxFlowDepth {
				return line, true
			}
		case b == ']' || b == '}':
			if depth > 0 {
				depth--
			}
		}
	}
	return 0, false
}

type converter struct {
	file    string
	anchors map[string]*node
}

func pos(tk *token.Token) (int, int) {
	if tk == nil || tk.Position == nil {
		return 0, 0
	}
	return tk.Position.Line, tk.Position.Column
}

func (c *converter) errAt(tk *token.Token, format string, args ...any) *Error {
	line, col := pos(tk)
	if line == 0 {
		line = 1
	}
	return &Error{File: c.file, Line: line, Column: col, Message: fmt.Sprintf(format, args...)}
}

func (c *converter) convert(n ast.Node, depth int) (*node, error) {
	if n == nil {
		return &node{kind: nullNode}, nil
	}
	if depth > 2*maxFlowDepth {
		return nil, c.errAt(n.GetToken(), "the document is nested too deep")
	}
	line, col := pos(n.GetToken())
	switch v := n.(type) {
	case *ast.NullNode:
		return &node{kind: nullNode, line: line, col: col}, nil
	case *ast.StringNode:
		return &node{kind: scalarNode, line: line, col: col, text: v.Value, stype: strScalar}, nil
	case *ast.LiteralNode:
		s := ""
		if v.Value != nil {
			s = v.Value.Value
		}
		return &node{kind: scalarNode, line: line, col: col, text: s, stype: strScalar}, nil
	case *ast.IntegerNode:
		return &node{kind: scalarNode, line: line, col: col, text: tokenText(v.Token), stype: intScalar}, nil
	case *ast.FloatNode:
		return &node{kind: scalarNode, line: line, col: col, text: tokenText(v.Token), stype: floatScalar}, nil
	case *ast.InfinityNode:
		return &node{kind: scalarNode, line: line, col: col, text: tokenText(v.Token), stype: floatScalar}, nil
	case *ast.NanNode:
		return &node{kind: scalarNode, line: line, col: col, text: tokenText(v.Token), stype: floatScalar}, nil
	case *ast.BoolNode:
		return &node{kind: scalarNode, line: line, col: col, text: tokenText(v.Token), stype: boolScalar}, nil
	case *ast.TagNode:
		inner, err := c.convert(v.Value, depth+1)
		if err != nil {
			return nil, err
		}
		if v.Start != nil && (v.Start.Value == "!!str" || v.Start.Value == "!str") && inner.kind == scalarNode {
			inner.stype = strScalar
		}
		return inner, nil
	case *ast.AnchorNode:
		inner, err := c.convert(v.Value, depth+1)
		if err != nil {
			return nil, err
		}
		if v.Name != nil {
			c.anchors[v.Name.String()] = inner
		}
		return inner, nil
	case *ast.AliasNode:
		name := ""
		if v.Value != nil {
			name = v.Value.String()
		}
		target, ok := c.anchors[name]
		if !ok {
			return nil, c.errAt(n.GetToken(), "alias *%s refers to no anchor defined before it", name)
		}
		return target, nil
	case *ast.MappingNode:
		m := &node{kind: mapNode, line: line, col: col}
		for _, mv := range v.Values {
			if err := c.addPair(m, mv, depth); err != nil {
				return nil, err
			}
		}
		return m, nil
	case *ast.MappingValueNode:
		m := &node{kind: mapNode, line: line, col: col}
		if err := c.addPair(m, v, depth); err != nil {
			return nil, err
		}
		if m.line == 0 && len(m.keys) > 0 {
			m.line, m.col = m.keys[0].line, m.keys[0].col
		}
		return m, nil
	case *ast.SequenceNode:
		s := &node{kind: seqNode, line: line, col: col}
		for _, item := range v.Values {
			x, err := c.convert(item, depth+1)
			if err != nil {
				return nil, err
			}
			s.items = append(s.items, x)
		}
		return s, nil
	case *ast.MappingKeyNode:
		return c.convert(v.Value, depth+1)
	case *ast.CommentGroupNode, *ast.CommentNode:
		return &node{kind: nullNode, line: line, col: col}, nil
	}
	return nil, c.errAt(n.GetToken(), "unsupported YAML construct (%s)", n.Type())
}

func tokenText(tk *token.Token) string {
	if tk == nil {
		return ""
	}
	return tk.Value
}

// addPair adds one key: value to m. Merge keys (<<) add the keys of the
// merged mappings that m does not set itself.
func (c *converter) addPair(m *node, mv *ast.MappingValueNode, depth int) error {
	if mv == nil {
		return nil
	}
	val, err := c.convert(mv.Value, depth+1)
	if err != nil {
		return err
	}
	if mv.Key != nil && mv.Key.IsMergeKey() {
		var srcs []*node
		switch val.kind {
		case mapNode:
			srcs = []*node{val}
		case seqNode:
			srcs = val.items
		default:
			return c.errAt(mv.Key.GetToken(), "a merge key (<<) needs a mapping or a list of mappings")
		}
		for _, src := range srcs {
			if src.kind != mapNode {
				return c.errAt(mv.Key.GetToken(), "a merge key (<<) needs a mapping or a list of mappings")
			}
			for i, k := range src.keys {
				if !m.has(k.text) {
					if m.fromMerge == nil {
						m.fromMerge = map[int]bool{}
					}
					m.fromMerge[len(m.keys)] = true
					m.keys = append(m.keys, k)
					m.vals = append(m.vals, src.vals[i])
				}
			}
		}
		return nil
	}
	key, err := c.convert(mv.Key, depth+1)
	if err != nil {
		return err
	}
	switch key.kind {
	case scalarNode:
	case nullNode:
		key.kind, key.text = scalarNode, ""
		if key.line == 0 {
			key.line, key.col = pos(mv.GetToken())
		}
	default:
		return c.errAt(mv.Key.GetToken(), "a mapping key must be a scalar, not %s", key.kind)
	}
	for i, k := range m.keys {
		if strings.EqualFold(k.text, key.text) {
			if m.fromMerge[i] {
				// A key written after a merge overrides the merged one.
				val.keyLine = key.line
				m.keys[i], m.vals[i] = key, val
				delete(m.fromMerge, i)
				return nil
			}
			return &Error{File: c.file, Line: key.line, Column: key.col,
				Message: fmt.Sprintf("key %q is given twice (also as %q on line %d; keys are not case-sensitive)", key.text, k.text, k.line)}
		}
	}
	val.keyLine = key.line
	m.keys = append(m.keys, key)
	m.vals = append(m.vals, val)
	return nil
}

// toAny converts a free-form value to what encoding/json marshals: maps with
// string keys, lists, strings, numbers, booleans and nil. budget bounds the
// expansion of aliases.
func toAny(n *node, budget *int) (any, error) {
	*budget--
	if *budget < 0 {
		return nil, errors.New("the value expands to too many nodes (aliases?)")
	}
	if n == nil {
		return nil, nil
	}
	switch n.kind {
	case nullNode:
		return nil, nil
	case scalarNode:
		switch n.stype {
		case intScalar:
			if i, err := strconv.ParseInt(n.text, 0, 64); err == nil {
				return i, nil
			}
		case floatScalar:
			if f, err := strconv.ParseFloat(n.text, 64); err == nil {
				return f, nil
			}
			return n.text, nil
		case boolScalar:
			if b, ok := parseBool(n.text); ok {
				return b, nil
			}
		}
		return n.text, nil
	case seqNode:
		out := make([]any, 0, len(n.items))
		for _, it := range n.items {
			v, err := toAny(it, budget)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case mapNode:
		out := make(map[string]any, len(n.keys))
		for i, k := range n.keys {
			v, err := toAny(n.vals[i], budget)
			if err != nil {
				return nil, err
			}
			out[k.text] = v
		}
		return out, nil
	}
	return nil, nil
}

// parseBool accepts YAML 1.1 and 1.2 spellings, as Python's loaders do.
func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "y", "on":
		return true, true
	case "false", "no", "n", "off":
		return false, true
	}
	return false, false
}
