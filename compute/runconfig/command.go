package runconfig

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
)

// ErrShell marks a v2 command that needs a shell (pipes, redirections,
// command lists, substitutions): Trainyard runs a command as an argv.
var ErrShell = errors.New("needs a shell")

// SplitCommand splits a v2 job's command into argv words the way a POSIX
// shell splits a simple command: blanks and newlines separate words;
// '…' quotes literally; "…" quotes with \ escaping " \ $ and `; a \ outside
// quotes escapes the next character and \<newline> continues the line.
// ${{…}} placeholders are kept as written (they are substituted per word
// later). Operators a shell would act on (| & ; < > ( ) `, $( …) outside
// quotes are refused with an error wrapping ErrShell; an unclosed quote is
// an error too.
func SplitCommand(cmd string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool // inside a word
	)
	end := func() {
		if in {
			words = append(words, cur.String())
			cur.Reset()
			in = false
		}
	}
	r := []rune(cmd)
	for i := 0; i < len(r); i++ {
		c := r[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			end()
		case c == '\\':
			if i+1 < len(r) {
				i++
				if r[i] == '\n' {
					continue
				}
				cur.WriteRune(r[i])
			}
			in = true
		case c == '\'':
			j := i + 1
			for j < len(r) && r[j] != '\'' {
				j++
			}
			if j >= len(r) {
				return nil, fmt.Errorf("unclosed ' quote at character %d", i+1)
			}
			cur.WriteString(string(r[i+1 : j]))
			i, in = j, true
		case c == '"':
			j := i + 1
			for ; j < len(r) && r[j] != '"'; j++ {
				if r[j] == '\\' && j+1 < len(r) && strings.ContainsRune("\"\\$`\n", r[j+1]) {
					j++
					if r[j] != '\n' {
						cur.WriteRune(r[j])
					}
					continue
				}
				cur.WriteRune(r[j])
			}
			if j >= len(r) {
				return nil, fmt.Errorf("unclosed \" quote at character %d", i+1)
			}
			i, in = j, true
		case c == '$' && i+2 < len(r) && r[i+1] == '{' && r[i+2] == '{':
			j := strings.Index(string(r[i:]), "}}")
			if j < 0 {
				return nil, fmt.Errorf("unclosed ${{ at character %d", i+1)
			}
			n := len([]rune(string(r[i:])[:j+2]))
			cur.WriteString(string(r[i : i+n]))
			i, in = i+n-1, true
		case strings.ContainsRune("|&;<>()`", c) || c == '$' && i+1 < len(r) && r[i+1] == '(':
			return nil, fmt.Errorf("%q at character %d: the command runs as an argv, not through a shell: %w", string(c), i+1, ErrShell)
		default:
			cur.WriteRune(c)
			in = true
		}
	}
	end()
	return words, nil
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
