package runconfig

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/syntax"
)

// ErrShell marks a v2 command that needs a shell (pipes, redirections,
// command lists, substitutions): Trainyard runs a command as an argv.
var ErrShell = errors.New("needs a shell")

// SplitCommand splits a v2 job's command into argv words the way a POSIX
// shell splits a simple command, with mvdan.cc/sh's parser (the parser of
// shfmt): blanks and newlines separate words; '…' quotes literally; "…"
// quotes with \ escaping " \ $ and `; a \ outside quotes escapes the next
// character and \<newline> continues the line; # starts a comment.
// ${{…}} placeholders are kept as written (they are substituted per word
// later). Anything a shell would act on rather than pass along — pipes,
// redirections, command lists, variable or command substitutions,
// assignments — is refused with an error wrapping ErrShell, since Trainyard
// runs an argv, never a shell; an unclosed quote is an error too.
func SplitCommand(cmd string) ([]string, error) {
	masked, placeholders, err := maskPlaceholders(cmd)
	if err != nil {
		return nil, err
	}
	file, err := syntax.NewParser(syntax.Variant(syntax.LangPOSIX)).Parse(strings.NewReader(masked), "")
	if err != nil {
		var pe syntax.ParseError
		if errors.As(err, &pe) {
			if _, q, ok := strings.Cut(pe.Text, "without closing quote `"); ok {
				return nil, fmt.Errorf("unclosed %s quote (the command ends inside it)", strings.TrimSuffix(q, "`"))
			}
			return nil, fmt.Errorf("%s at character %d", pe.Text, pe.Pos.Col())
		}
		return nil, err
	}
	var words []string
	for i, stmt := range file.Stmts {
		// A command written over several lines (YAML's | block) is one
		// command, as Trainyard always read it; a ; or & between two is a
		// command list, which needs a shell.
		if i < len(file.Stmts)-1 && stmt.Semicolon.IsValid() {
			return nil, shellOnly("a command list (; or &)", stmt.Semicolon)
		}
		w, err := simpleCommand(stmt)
		if err != nil {
			return nil, err
		}
		words = append(words, w...)
	}
	for i, w := range words {
		words[i] = unmaskPlaceholders(w, placeholders)
	}
	return words, nil
}

// simpleCommand is the words of one statement that is a plain command: no
// operators, redirections or assignments.
func simpleCommand(stmt *syntax.Stmt) ([]string, error) {
	switch {
	case stmt.Negated:
		return nil, shellOnly("!", stmt.Pos())
	case stmt.Background:
		return nil, shellOnly("&", stmt.Pos())
	case len(stmt.Redirs) > 0:
		return nil, shellOnly("a redirection ("+stmt.Redirs[0].Op.String()+")", stmt.Redirs[0].OpPos)
	}
	var call *syntax.CallExpr
	switch c := stmt.Cmd.(type) {
	case *syntax.CallExpr:
		call = c
	case *syntax.BinaryCmd: // a | b, a && b, a || b
		return nil, shellOnly(fmt.Sprintf("%q", c.Op.String()), c.OpPos)
	case *syntax.Subshell:
		return nil, shellOnly(`"("`, c.Lparen)
	case *syntax.Block:
		return nil, shellOnly(`"{"`, c.Lbrace)
	default:
		return nil, shellOnly("shell syntax", stmt.Pos())
	}
	if len(call.Assigns) > 0 {
		return nil, shellOnly("a variable assignment", call.Assigns[0].Pos())
	}
	words := make([]string, 0, len(call.Args))
	for _, w := range call.Args {
		word, err := literalWord(w)
		if err != nil {
			return nil, err
		}
		words = append(words, word)
	}
	return words, nil
}

// literalWord is the value of a word made only of literal text and quotes;
// a word with an expansion (parameter, command, arithmetic, process
// substitution) is refused: there is no shell to expand it.
func literalWord(w *syntax.Word) (string, error) {
	var bad error
	syntax.Walk(w, func(n syntax.Node) bool {
		if bad != nil {
			return false
		}
		switch n.(type) {
		case *syntax.ParamExp:
			bad = shellOnly("a variable ($…)", n.Pos())
		case *syntax.CmdSubst:
			bad = shellOnly("a command substitution", n.Pos())
		case *syntax.ArithmExp:
			bad = shellOnly("an arithmetic expansion", n.Pos())
		case *syntax.ProcSubst, *syntax.ExtGlob:
			bad = shellOnly("shell syntax", n.Pos())
		}
		return bad == nil
	})
	if bad != nil {
		return "", bad
	}
	// Document: quotes and escapes are read, nothing is expanded (no tilde,
	// no braces, no globs), which is what an argv word is.
	return expand.Document(nil, &syntax.Word{Parts: unquoteParts(w.Parts)})
}

// unquoteParts turns the quotes of a word into the literal text they stand
// for, so that expand.Document (which reads a here-document, where quotes
// are ordinary characters) yields the word's value.
func unquoteParts(parts []syntax.WordPart) []syntax.WordPart {
	out := make([]syntax.WordPart, 0, len(parts))
	for _, p := range parts {
		switch p := p.(type) {
		case *syntax.SglQuoted:
			out = append(out, &syntax.Lit{Value: strings.ReplaceAll(p.Value, `\`, `\\`)})
		case *syntax.DblQuoted:
			for _, q := range p.Parts {
				if lit, ok := q.(*syntax.Lit); ok {
					q = &syntax.Lit{Value: unescapeDouble(lit.Value)}
				}
				out = append(out, q)
			}
		case *syntax.Lit:
			out = append(out, &syntax.Lit{Value: unescapeBare(p.Value)})
		default:
			out = append(out, p)
		}
	}
	return out
}

// unescapeBare reads the backslashes of unquoted text: \x is x and
// \<newline> joins lines; what is left is escaped again for Document,
// which reads \\ as one backslash.
func unescapeBare(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			i++
			if s[i] == '\n' {
				continue
			}
			c = s[i]
		}
		if c == '\\' || c == '$' || c == '`' {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// unescapeDouble reads the backslashes of text inside "…": \ escapes only
// " \ $ ` and newline there, and stays a backslash before anything else;
// the result is escaped again for Document.
func unescapeDouble(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`\n", s[i+1]) >= 0 {
			i++
			if s[i] == '\n' {
				continue
			}
			c = s[i]
		}
		if c == '\\' || c == '$' || c == '`' {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// shellOnly is the error for something only a shell would act on.
func shellOnly(what string, pos syntax.Pos) error {
	return fmt.Errorf("%s at character %d: the command runs as an argv, not through a shell: %w", what, pos.Col(), ErrShell)
}

// placeholderToken stands in for the n-th ${{…}} while the command is
// parsed: ${{…}} is not shell syntax, and must reach the words as written.
const placeholderToken = "__trainyard_placeholder_%d__"

var placeholderRe = regexp.MustCompile(`\$\{\{.*?\}\}`)

// maskPlaceholders replaces every ${{…}} of cmd by a token a shell reads as
// plain text, returning them in order; an unclosed ${{ is an error.
func maskPlaceholders(cmd string) (string, []string, error) {
	if strings.Contains(cmd, "__trainyard_placeholder_") {
		return "", nil, errors.New("the command contains Trainyard's reserved text __trainyard_placeholder_")
	}
	var found []string
	masked := placeholderRe.ReplaceAllStringFunc(cmd, func(m string) string {
		found = append(found, m)
		return fmt.Sprintf(placeholderToken, len(found)-1)
	})
	if i := strings.Index(masked, "${{"); i >= 0 {
		return "", nil, fmt.Errorf("unclosed ${{ at character %d", len([]rune(masked[:i]))+1)
	}
	return masked, found, nil
}

// unmaskPlaceholders puts the ${{…}} placeholders back into a word.
func unmaskPlaceholders(word string, placeholders []string) string {
	for i := len(placeholders) - 1; i >= 0; i-- {
		word = strings.ReplaceAll(word, fmt.Sprintf(placeholderToken, i), placeholders[i])
	}
	return word
}

var pythonExe = regexp.MustCompile(`^python(\d+(\.\d+)?)?$`)

// PythonCommand reads an argv as Trainyard runs it, `python SCRIPT
// [ARGS…]` (python, python3 or python3.X, a path to one, optionally with
// flags such as -u before the script), and returns the script and its
// arguments. Anything else is refused: runs are Python scripts.
func PythonCommand(argv []string) (script string, args []string, err error) {
	if len(argv) == 0 {
		return "", nil, errors.New("the command is empty")
	}
	if !pythonExe.MatchString(path.Base(argv[0])) {
		if strings.HasSuffix(argv[0], ".py") {
			return argv[0], argv[1:], nil
		}
		return "", nil, fmt.Errorf("a run is a Python script: the command must be python SCRIPT [ARGS...], not %q…", argv[0])
	}
	i := 1
	for ; i < len(argv) && strings.HasPrefix(argv[i], "-") && len(argv[i]) > 1; i++ {
		switch argv[i] {
		case "-m", "-c":
			return "", nil, fmt.Errorf("python %s is not supported: give a script file (python SCRIPT [ARGS...])", argv[i])
		case "-W", "-X":
			i++ // these take a value
		}
	}
	if i >= len(argv) {
		return "", nil, errors.New("the command names no script: python SCRIPT [ARGS...]")
	}
	return argv[i], argv[i+1:], nil
}

// placeholder is one ${{…}} in a word.
var placeholder = regexp.MustCompile(`\$\{\{\s*([^}]*?)\s*\}\}`)

// SubstituteRefs replaces ${{inputs.<name>}} with the input's value (a
// literal, the default of a typed input, or a data input's path as
// written) and ${{outputs.<name>}} with outputs/<name> (a folder under the
// run's ./outputs, which is kept) in one argv word. ${{search_space.…}} is
// left for the sweep to fill in per trial. An unknown reference is an
// error.
func SubstituteRefs(word string, inputs map[string]JobInput, outputs map[string]JobOutput) (string, error) {
	var bad error
	out := placeholder.ReplaceAllStringFunc(word, func(ref string) string {
		expr := placeholder.FindStringSubmatch(ref)[1]
		switch {
		case strings.HasPrefix(expr, "inputs."):
			in, ok := inputs[strings.TrimPrefix(expr, "inputs.")]
			if !ok {
				bad = fmt.Errorf("${{%s}} names no input", expr)
				return ref
			}
			if in.Path != "" {
				return in.Path
			}
			return in.Value
		case strings.HasPrefix(expr, "outputs."):
			name := strings.TrimPrefix(expr, "outputs.")
			if _, ok := outputs[name]; !ok {
				bad = fmt.Errorf("${{%s}} names no output", expr)
				return ref
			}
			return "outputs/" + name
		case strings.HasPrefix(expr, "search_space."):
			return ref
		}
		bad = fmt.Errorf("unknown expression ${{%s}}", expr)
		return ref
	})
	return out, bad
}

// ScriptCommand turns a v2 command (a command job's command, a sweep's
// trial.command) into the script and arguments of a run: split as a shell
// would (SplitCommand), inputs and outputs substituted (SubstituteRefs),
// and read as python SCRIPT [ARGS…] (PythonCommand). ${{search_space.…}}
// stays in the arguments for the sweep.
func ScriptCommand(cmd string, inputs map[string]JobInput, outputs map[string]JobOutput) (string, []string, error) {
	words, err := SplitCommand(cmd)
	if err != nil {
		return "", nil, err
	}
	for i, w := range words {
		if words[i], err = SubstituteRefs(w, inputs, outputs); err != nil {
			return "", nil, err
		}
	}
	script, args, err := PythonCommand(words)
	if err != nil {
		return "", nil, err
	}
	if args == nil {
		args = []string{}
	}
	return script, args, nil
}

// SplitArguments reads an Arguments box as people type into it: one line is
// a command line, split as a POSIX shell would (`--lr 0.3 --name "a b"`);
// several lines are one argument per line, taken as written (blank lines
// skipped). Either way nothing is expanded and no shell runs.
func SplitArguments(text string) ([]string, error) {
	text = strings.TrimRight(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	if strings.TrimSpace(text) == "" {
		return []string{}, nil
	}
	if strings.Contains(text, "\n") {
		var out []string
		for _, l := range strings.Split(text, "\n") {
			if strings.TrimSpace(l) != "" {
				out = append(out, l)
			}
		}
		return out, nil
	}
	words, err := SplitCommand(text)
	if err != nil {
		return nil, err
	}
	if words == nil {
		words = []string{}
	}
	return words, nil
}

// JoinArguments writes arguments as one command line that SplitArguments
// reads back to the same list (each word quoted only where it needs it).
func JoinArguments(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		q, err := syntax.Quote(a, syntax.LangPOSIX)
		if err != nil {
			// Quote refuses control characters in LangPOSIX; single
			// quotes carry them as they are.
			q = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		quoted[i] = q
	}
	return strings.Join(quoted, " ")
}
