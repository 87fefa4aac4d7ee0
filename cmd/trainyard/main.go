// Command trainyard is Trainyard in one binary: `trainyard serve` runs the web
// app and JSON API, and the other subcommands are a CLI that talks to a
// running server the way `az ml` talks to a workspace.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runMain(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// runMain runs the program and turns its error into "trainyard: <message>"
// on stderr and an exit status: 0, 1 for failures, 2 for usage errors.
func runMain(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	err := run(ctx, args, getenv, stdin, stdout, stderr)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "trainyard: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// run dispatches to a subcommand. A --help anywhere prints that command's
// usage on stdout and succeeds.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	err := dispatch(ctx, args, getenv, stdin, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

func dispatch(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, topUsage)
		return usagef("", "no command given")
	}
	c := &cli{ctx: ctx, getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], getenv, stdout, stderr)
	case "computetarget", "compute":
		return c.computetarget(args[1:])
	case "workspace":
		return c.workspaceCmd(args[1:])
	case "run":
		return c.runCmd(args[1:])
	case "job":
		return c.job(args[1:])
	case "experiment":
		return c.experiment(args[1:])
	case "folder":
		return c.folder(args[1:])
	case "validate":
		return c.validate(args[1:])
	case "login":
		return c.login(args[1:])
	case "version", "--version", "-version":
		return c.version()
	case "help":
		if len(args) == 1 {
			fmt.Fprint(stdout, topUsage)
			return nil
		}
		return dispatch(ctx, append(append([]string{}, args[1:]...), "--help"), getenv, stdin, stdout, stderr)
	case "-h", "-help", "--help":
		fmt.Fprint(stdout, topUsage)
		return nil
	}
	return usagef("trainyard help", "unknown command %q", args[0])
}

const topUsage = `Trainyard runs training on compute you bring, the way Azure ML Studio does.

Usage:
  trainyard serve [flags]              run the web app and JSON API
  trainyard computetarget <command>    create, attach, list and manage compute (alias: compute)
  trainyard workspace <command>        add, list, show, remove Azure ML workspaces (Admin)
  trainyard folder attach [flags]      write .azureml/*.runconfig templates for each target
  trainyard experiment <command>       create and list experiments
  trainyard run <command>              submit-script, list, show, cancel, monitor-logs
  trainyard job <command>              create -f job.yml (v2 command or sweep job), show, list
  trainyard validate FILE...           check runconfig and v2 job files offline
  trainyard login [--url URL]          store a personal access token for these commands
  trainyard version                    print the version
  trainyard help [command...]          show help for a command

Environment (for the CLI commands):
  TRAINYARD_URL     the server's base URL (default ` + defaultURL + `)
  TRAINYARD_TOKEN   a Trainyard access token, sent as "Authorization: Bearer <token>"
                    (both win over what 'trainyard login' stored)

Run 'trainyard <command> --help' for a command's usage, e.g. 'trainyard run --help'.
`

// cli carries what every CLI command needs: the context, the environment
// and the standard streams.
type cli struct {
	ctx    context.Context
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// workspace is the alias --workspace gave the computetarget verbs
	// ("": the local workspace).
	workspace string
}

// version prints the module version and VCS revision the binary was built from.
func (c *cli) version() error {
	v, rev := "(devel)", ""
	if info, ok := debug.ReadBuildInfo(); ok {
		if info.Main.Version != "" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				rev = " " + s.Value[:12]
			}
		}
	}
	fmt.Fprintf(c.stdout, "trainyard %s%s %s %s/%s\n", v, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

// usageError marks a command line that cannot be run as written; runMain
// exits with status 2 for it.
type usageError struct{ err error }

// Error returns the underlying message.
func (e usageError) Error() string { return e.err.Error() }

// Unwrap returns the underlying error.
func (e usageError) Unwrap() error { return e.err }

// usagef builds a usage error; help, when not empty, is the command whose
// --help explains the usage.
func usagef(help, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if help != "" {
		msg += "\nRun '" + help + "' for usage."
	}
	return usageError{errors.New(msg)}
}
