package main

import (
	"fmt"
	"net/http"
)

// updateSecrets replaces the credentials of an attached VM or HDInsight
// cluster (compute operators): the server seals them like at attach and the
// next connection signs in with them. Values are never printed.
func (c *cli) updateSecrets(args []string) error {
	var name, password, passwordFile, keyFile, passphrase, out string
	f := newFlagSet("trainyard computetarget update-secrets", "--name NAME (--password-file FILE | --private-key-file FILE [--private-key-passphrase P])",
		"Replace the SSH password, or the private key (and its passphrase), of an attached VM or HDInsight cluster. "+
			"What is stored is never shown; the next connection signs in with the new credentials. A new private key replaces the stored passphrase too.")
	f.Name(&name, "name of the compute target")
	f.String(&password, "password", "p", "PASSWORD", "", "new SSH password (visible in the process list; prefer --password-file)")
	f.String(&passwordFile, "password-file", "", "FILE", "", "read the new SSH password from FILE (- for stdin)")
	f.String(&keyFile, "private-key-file", "k", "FILE", "", "new SSH private key file (PEM or OpenSSH; - for stdin)")
	f.String(&passphrase, "private-key-passphrase", "", "PASSPHRASE", "", "passphrase of the new private key")
	f.Output(&out)
	if err := f.Parse(args, c.stdout); err != nil {
		return err
	}
	if err := f.Require("name", name); err != nil {
		return err
	}
	pass, err := f.oneSecret("password", password, "password-file", passwordFile, c.stdin)
	if err != nil {
		return err
	}
	var key string
	switch {
	case keyFile != "":
		if key, err = readSecretFile("private-key-file", keyFile, c.stdin); err != nil {
			return err
		}
	case passphrase != "":
		return f.usageErr("--private-key-passphrase needs --private-key-file")
	case pass == "":
		return f.usageErr("give a new password (--password or --password-file) or --private-key-file")
	}
	api, err := c.client()
	if err != nil {
		return err
	}
	body := map[string]string{"password": pass, "privateKey": key, "privateKeyPassphrase": passphrase}
	resp, err := api.do(c.ctx, http.MethodPost, api.computePath(name, "updateSecrets"), nil, body, nil)
	if err != nil {
		return err
	}
	if out == "json" {
		return printCompute(c.stdout, resp, out, false)
	}
	what := "password"
	if key != "" {
		what = "private key"
		if pass != "" {
			what = "password and private key"
		}
	}
	fmt.Fprintf(c.stdout, "Replaced the %s of %s; the next connection uses it.\n", what, name)
	return nil
}
