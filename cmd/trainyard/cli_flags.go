package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
)

// flagSet is a stdlib flag.FlagSet with long names, optional one-letter
// aliases (-n for --name) and a help text that lists them together. Go's flag
// package accepts -name and --name alike.
type flagSet struct {
	fs       *flag.FlagSet
	cmd      string // e.g. "trainyard computetarget list"
	synopsis string // what follows cmd in the usage line
	about    string // a paragraph on what the command does
	entries  []flagEntry
}

type flagEntry struct {
	long, short, arg, usage, def string
}

func newFlagSet(cmd, synopsis, about string) *flagSet {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flagSet{fs: fs, cmd: cmd, synopsis: synopsis, about: about}
}

func (f *flagSet) add(long, short, arg, usage, def string) {
	f.entries = append(f.entries, flagEntry{long: long, short: short, arg: arg, usage: usage, def: def})
}

// String registers a string flag; short may be "".
func (f *flagSet) String(p *string, long, short, arg, def, usage string) {
	f.fs.StringVar(p, long, def, usage)
	if short != "" {
		f.fs.StringVar(p, short, def, usage)
	}
	if def != "" {
		def = strconv.Quote(def)
	}
	f.add(long, short, arg, usage, def)
}

// Int registers an int flag.
func (f *flagSet) Int(p *int, long, arg string, def int, usage string) {
	f.fs.IntVar(p, long, def, usage)
	f.add(long, "", arg, usage, strconv.Itoa(def))
}

// Bool registers a boolean flag, false by default.
func (f *flagSet) Bool(p *bool, long, short, usage string) {
	f.fs.BoolVar(p, long, false, usage)
	if short != "" {
		f.fs.BoolVar(p, short, false, usage)
	}
	f.add(long, short, "", usage, "")
}

// Output registers -o/--output, json or table.
func (f *flagSet) Output(p *string) {
	f.String(p, "output", "o", "FORMAT", "table", "json or table")
}

// Name registers -n/--name.
func (f *flagSet) Name(p *string, what string) {
	f.String(p, "name", "n", "NAME", "", what)
}

// Parse parses args. For -h/--help it prints the usage on stdout and returns
// flag.ErrHelp; bad flags and stray arguments are usage errors.
func (f *flagSet) Parse(args []string, stdout io.Writer) error {
	err := f.fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		f.Usage(stdout)
		return flag.ErrHelp
	case err != nil:
		return f.usageErr("%v", err)
	case f.fs.NArg() > 0:
		return f.usageErr("unexpected argument %q (flags take values, e.g. --name NAME)", f.fs.Arg(0))
	}
	if o := f.fs.Lookup("output"); o != nil && o.Value.String() != "json" && o.Value.String() != "table" {
		return f.usageErr("--output must be json or table, not %q", o.Value.String())
	}
	return nil
}

// Require returns a usage error naming the first empty required flag.
func (f *flagSet) Require(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if strings.TrimSpace(pairs[i+1]) == "" {
			return f.usageErr("--%s is required", pairs[i])
		}
	}
	return nil
}

// Set reports whether a flag was given on the command line.
func (f *flagSet) Set(long string) bool {
	set := false
	f.fs.Visit(func(fl *flag.Flag) { set = set || fl.Name == long })
	return set
}

func (f *flagSet) usageErr(format string, args ...any) error {
	return usagef(f.cmd+" --help", format, args...)
}

// Usage writes the command's help.
func (f *flagSet) Usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s %s\n\n%s\n\nFlags:\n", f.cmd, f.synopsis, wrap(strings.TrimSpace(f.about), 78))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, e := range f.entries {
		names := "    --" + e.long
		if e.short != "" {
			names = "-" + e.short + ", --" + e.long
		}
		if e.arg != "" {
			names += " " + e.arg
		}
		usage := e.usage
		if e.def != "" && e.def != "0" {
			usage += " (default " + e.def + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", names, usage)
	}
	fmt.Fprintf(tw, "  -h, --help\tshow this help\n")
	tw.Flush()
}

// maxSecretBytes bounds what a secret file may hold.
const maxSecretBytes = 1 << 20

// readSecretFile reads a secret from a file, or from stdin when path is "-".
// The error names the flag and the path, never the content.
func readSecretFile(flagName, path string, stdin io.Reader) (string, error) {
	var (
		data []byte
		err  error
	)
	if path == "-" {
		data, err = io.ReadAll(io.LimitReader(stdin, maxSecretBytes+1))
	} else {
		var fh *os.File
		fh, err = os.Open(path)
		if err == nil {
			data, err = io.ReadAll(io.LimitReader(fh, maxSecretBytes+1))
			fh.Close()
		}
	}
	if err != nil {
		return "", fmt.Errorf("--%s: %w", flagName, err)
	}
	if len(data) > maxSecretBytes {
		return "", fmt.Errorf("--%s: %s is larger than %d bytes", flagName, path, maxSecretBytes)
	}
	if len(data) == 0 {
		return "", fmt.Errorf("--%s: %s is empty", flagName, path)
	}
	return string(data), nil
}

// valueOrFile returns v, or the trimmed content of the file it names as @FILE
// (the az CLI convention, for SSH public keys).
func valueOrFile(flagName, v string, stdin io.Reader) (string, error) {
	if !strings.HasPrefix(v, "@") {
		return strings.TrimSpace(v), nil
	}
	s, err := readSecretFile(flagName, v[1:], stdin)
	return strings.TrimSpace(s), err
}

// oneSecret returns the secret given either inline or as a file (trailing
// newlines trimmed), and a usage error when both are given.
func (f *flagSet) oneSecret(inlineFlag, inline, fileFlag, file string, stdin io.Reader) (string, error) {
	switch {
	case inline != "" && file != "":
		return "", f.usageErr("give --%s or --%s, not both", inlineFlag, fileFlag)
	case file != "":
		s, err := readSecretFile(fileFlag, file, stdin)
		return strings.TrimRight(s, "\r\n"), err
	}
	return inline, nil
}

// wrap breaks text into lines of at most width columns at spaces.
func wrap(text string, width int) string {
	var b strings.Builder
	col := 0
	for i, word := range strings.Fields(text) {
		n := len([]rune(word))
		switch {
		case i == 0:
		case col+1+n > width:
			b.WriteByte('\n')
			col = 0
		default:
			b.WriteByte(' ')
			col++
		}
		b.WriteString(word)
		col += n
	}
	return b.String()
}

// dispatchVerb runs the verb named by args[0] from verbs. With no verb it
// prints usage on stderr and fails with missing; help prints usage on
// stdout; an unknown verb fails with unknown(verb), pointing at helpCmd.
func (c *cli) dispatchVerb(args []string, usage, missing string, unknown func(verb string) string, helpCmd string, verbs map[string]func([]string) error) error {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, usage)
		return usagef("", "%s", missing)
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(c.stdout, usage)
		return nil
	}
	if run, ok := verbs[args[0]]; ok {
		return run(args[1:])
	}
	return usagef(helpCmd, "%s", unknown(args[0]))
}
