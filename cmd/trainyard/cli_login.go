package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// cliConfig is what `trainyard login` stores for the other commands: the
// server and a personal access token for it. TRAINYARD_URL and
// TRAINYARD_TOKEN win over it.
type cliConfig struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

// cliConfigPath is $XDG_CONFIG_HOME/trainyard/config.json, else
// $HOME/.config/trainyard/config.json; "" when neither variable is set.
func cliConfigPath(getenv func(string) string) string {
	if d := getenv("XDG_CONFIG_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "trainyard", "config.json")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".config", "trainyard", "config.json")
	}
	return ""
}

// loadCLIConfig reads the stored login; a missing or unreadable file is an
// empty one (the commands then say how to sign in).
func loadCLIConfig(getenv func(string) string) cliConfig {
	var c cliConfig
	p := cliConfigPath(getenv)
	if p == "" {
		return c
	}
	b, err := os.ReadFile(p)
	if err != nil || json.Unmarshal(b, &c) != nil {
		return cliConfig{}
	}
	c.URL = strings.TrimSuffix(strings.TrimSpace(c.URL), "/")
	return c
}

// tokenFor returns the stored token when it was stored for this server, so
// it is never sent to another one.
func (c cliConfig) tokenFor(base *url.URL) string {
	if c.Token == "" || c.URL == "" {
		return ""
	}
	u, err := url.Parse(c.URL)
	if err != nil || u.Scheme != base.Scheme || u.Host != base.Host || strings.TrimSuffix(u.Path, "/") != base.Path {
		return ""
	}
	return c.Token
}

// saveCLIConfig writes the file owner-only (0600, folder 0700) through a
// temporary file, so a reader never sees half of it.
func saveCLIConfig(path string, c cliConfig) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

const loginUsage = `usage: trainyard login [--url URL] [--token-stdin]

Stores a personal access token for the CLI. Create one on the server's
Profile page (URL/profile → Personal access tokens), then paste it when asked,
or pipe it in with --token-stdin. The token is checked with the server and
saved in $XDG_CONFIG_HOME/trainyard/config.json (else ~/.config/trainyard/),
readable only by you. TRAINYARD_URL and TRAINYARD_TOKEN still win over it.

`

// login is `trainyard login`.
func (c *cli) login(args []string) error {
	fs := flag.NewFlagSet("trainyard login", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	server := fs.String("url", "", "the server's `URL` (default TRAINYARD_URL, else the stored one, else "+defaultURL+")")
	fromStdin := fs.Bool("token-stdin", false, "read the token from standard input without a prompt")
	fs.Usage = func() {
		fmt.Fprint(c.stdout, loginUsage)
		fs.SetOutput(c.stdout)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("trainyard login --help", "%v", err)
	}
	if fs.NArg() > 0 {
		return usagef("trainyard login --help", "unexpected argument %q", fs.Arg(0))
	}
	path := cliConfigPath(c.getenv)
	if path == "" {
		return errors.New("cannot tell where to store the login: set HOME or XDG_CONFIG_HOME")
	}
	base := strings.TrimSpace(*server)
	if base == "" {
		base = strings.TrimSpace(c.getenv("TRAINYARD_URL"))
	}
	if base == "" {
		base = loadCLIConfig(c.getenv).URL
	}
	if base == "" {
		base = defaultURL
	}
	client, err := newAPIClient(func(k string) string {
		if k == "TRAINYARD_URL" {
			return base
		}
		return ""
	})
	if err != nil {
		return usagef("trainyard login --help", "--url: %v", err)
	}
	if !*fromStdin {
		fmt.Fprintf(c.stderr, "Create a personal access token at %s/profile and paste it here: ", client.base)
	}
	line, err := bufio.NewReader(io.LimitReader(c.stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading the token: %w", err)
	}
	client.token = strings.TrimSpace(line)
	if client.token == "" {
		return usagef("trainyard login --help", "no token given")
	}
	resp, err := client.do(c.ctx, http.MethodGet, "/api/v1/me", nil, nil, nil)
	if err != nil {
		return fmt.Errorf("the server did not accept the token: %w", err)
	}
	var me struct{ ID, Name, Role string }
	if err := resp.decode(&me); err != nil {
		return err
	}
	if err := saveCLIConfig(path, cliConfig{URL: client.base.String(), Token: client.token}); err != nil {
		return fmt.Errorf("storing the login: %w", err)
	}
	fmt.Fprintf(c.stdout, "Signed in to %s as %s (%s); the token is stored in %s.\n", client.base, me.Name, me.Role, path)
	return nil
}
