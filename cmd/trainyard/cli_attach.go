package main

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/arm"
)

const attachUsage = `Usage: trainyard computetarget attach <type> [flags]

Attach compute that already exists. Detaching later leaves it as it is.

Types:
  remote       a Linux VM, reached over SSH
  hdinsight    an HDInsight cluster, reached over SSH to its head node
  databricks   a Databricks workspace
  adla         a Data Lake Analytics account
  batch        an Azure Batch account
  slurm        a Slurm cluster, through slurmrestd

Secrets (passwords, keys, tokens) are sent to the server, which stores them
sealed; they are never printed. Prefer the *-file flags: values on the command
line are visible in the process list. A file of '-' is read from stdin.

Run 'trainyard computetarget attach <type> --help' for its flags.
`

func (c *cli) attach(args []string) error {
	return c.dispatchVerb(args, attachUsage, "attach needs a type: remote, hdinsight, databricks, adla, batch or slurm", func(verb string) string {
		return fmt.Sprintf("cannot attach %q: the types are remote, hdinsight, databricks, adla, batch and slurm", verb)
	}, "trainyard computetarget attach --help", map[string]func([]string) error{
		"remote":     func(a []string) error { return c.attachSSH(compute.KindVirtualMachine, a) },
		"hdinsight":  func(a []string) error { return c.attachSSH(compute.KindHDInsight, a) },
		"databricks": c.attachDatabricks,
		"adla":       func(a []string) error { return c.attachAccount(compute.KindDataLakeAnalytics, a) },
		"batch":      func(a []string) error { return c.attachAccount(compute.KindBatch, a) },
		"slurm":      c.attachSlurm,
	})
}

// attachSSH attaches a VM (attach remote) or an HDInsight cluster.
func (c *cli) attachSSH(kind compute.Kind, args []string) error {
	var (
		name, address, user, password, passwordFile, keyFile, passphrase string
		resourceID, description, out, hostKey                            string
		port                                                             int
	)
	verb, about := "remote", "Attach a Linux VM that Trainyard reaches over SSH. Give --address (the VM's host name or IP); --resource-id only records its ARM ID."
	if kind == compute.KindHDInsight {
		verb, about = "hdinsight", "Attach an HDInsight cluster, reached over SSH to its head node. Give --address, or --resource-id and the address <cluster>-ssh.azurehdinsight.net is used."
	}
	f := newFlagSet("trainyard computetarget attach "+verb, "--name NAME --address HOST --username USER (--password-file FILE | --private-key-file FILE) [flags]", about)
	f.Name(&name, "name for the compute target")
	f.String(&address, "address", "a", "HOST", "", "host name or IP address")
	f.String(&resourceID, "resource-id", "", "ID", "", "ARM resource ID of the machine or cluster")
	f.Int(&port, "ssh-port", "PORT", compute.DefaultSSHPort, "SSH port")
	f.String(&user, "username", "u", "USER", "", "SSH user name")
	f.String(&password, "password", "p", "PASSWORD", "", "SSH password (visible in the process list; prefer --password-file)")
	f.String(&passwordFile, "password-file", "", "FILE", "", "read the SSH password from FILE")
	f.String(&keyFile, "private-key-file", "k", "FILE", "", "SSH private key file (PEM or OpenSSH)")
	f.String(&passphrase, "private-key-passphrase", "", "PASSPHRASE", "", "passphrase of the private key")
	f.String(&hostKey, "host-key-fingerprint", "", "SHA256:…", "", "pin this SSH host key fingerprint up front (from ssh-keygen -lf on the machine); without it the key the machine presents is printed for approve-host-key")
	if err := f.parseTarget(args, c.stdout, &name, &description, nil, &out); err != nil {
		return err
	}
	pass, err := f.oneSecret("password", password, "password-file", passwordFile, c.stdin)
	if err != nil {
		return err
	}
	var key string
	if keyFile != "" {
		if pass != "" {
			return f.usageErr("give a password or --private-key-file, not both")
		}
		if key, err = readSecretFile("private-key-file", keyFile, c.stdin); err != nil {
			return err
		}
	} else if passphrase != "" {
		return f.usageErr("--private-key-passphrase needs --private-key-file")
	}
	account := &arm.AdministratorAccount{Username: user, Password: pass, PrivateKeyData: key, PrivateKeyPassphrase: passphrase}
	var inner any = &arm.VirtualMachineProperties{Address: address, SSHPort: port, AdministratorAccount: account, HostKeyFingerprint: hostKey}
	if kind == compute.KindHDInsight {
		inner = &arm.HDInsightProperties{Address: address, SSHPort: port, AdministratorAccount: account, HostKeyFingerprint: hostKey}
	}
	if err := c.put(name, envelope(kind, description, "", resourceID), inner, out); err != nil {
		return err
	}
	return c.awaitSSHAttach(name, out)
}

// attachWait bounds how long attach waits for the server's first check of
// an SSH machine (reading its host key, or signing in with a pinned one);
// 0 does not wait (tests of the request alone).
var attachWait = 45 * time.Second

// awaitSSHAttach follows an SSH attach until the server has checked the
// machine, and says what came of it: the host key fingerprint waiting for
// approval, the machine's facts, or why it cannot be used (an error).
// With -o json the words go to stderr, leaving stdout JSON.
func (c *cli) awaitSSHAttach(name, out string) error {
	if attachWait <= 0 {
		return nil
	}
	w := c.stdout
	if out == "json" {
		w = c.stderr
	}
	api, err := c.client()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(attachWait)
	for {
		resp, err := api.do(c.ctx, http.MethodGet, api.computePath(name), nil, nil, nil)
		if err != nil {
			return err
		}
		var item arm.Compute
		if err := resp.decode(&item); err != nil {
			return err
		}
		st := attachStatusOf(item)
		switch state := item.Properties.ProvisioningState; {
		case st != nil && st.PendingHostKeyFingerprint != "" && state != string(compute.ProvisioningFailed):
			fp := st.PendingHostKeyFingerprint
			fmt.Fprintf(w, "\nHost key fingerprint: %s\nCompare it with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the machine; nothing is sent to it until you approve it with:\n    trainyard computetarget approve-host-key -n %s --fingerprint %s\n", fp, name, fp)
			return nil
		case state == string(compute.ProvisioningSucceeded):
			if st != nil && st.StatusMessage != "" {
				fmt.Fprintf(w, "\nChecked: %s\n", st.StatusMessage)
			}
			return nil
		case state == string(compute.ProvisioningFailed):
			msg := "the machine cannot be used"
			if len(item.Properties.ProvisioningErrors) > 0 {
				msg = item.Properties.ProvisioningErrors[0].Error.Message
			}
			return fmt.Errorf("%s was attached, but checking it failed: %s", name, msg)
		case state != string(compute.ProvisioningCreating):
			return nil
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(w, "\n%s is still being checked; see 'trainyard computetarget show -n %s'.\n", name, name)
			return nil
		}
		select {
		case <-c.ctx.Done():
			return c.ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func (c *cli) attachDatabricks(args []string) error {
	var name, workspace, group, token, tokenFile, description, out string
	f := newFlagSet("trainyard computetarget attach databricks", "--name NAME --workspace-name WS --resource-group RG (--access-token-file FILE | --access-token TOKEN) [flags]",
		"Attach an Azure Databricks workspace for pipeline steps that run on Databricks.")
	f.Name(&name, "name for the compute target")
	f.String(&workspace, "workspace-name", "w", "WS", "", "Databricks workspace name")
	f.String(&group, "resource-group", "g", "RG", "", "resource group of the workspace")
	f.String(&token, "access-token", "", "TOKEN", "", "Databricks access token (visible in the process list; prefer --access-token-file)")
	f.String(&tokenFile, "access-token-file", "", "FILE", "", "read the Databricks access token from FILE")
	if err := f.parseTarget(args, c.stdout, &name, &description, nil, &out); err != nil {
		return err
	}
	secret, err := f.oneSecret("access-token", token, "access-token-file", tokenFile, c.stdin)
	if err != nil {
		return err
	}
	inner := &arm.DatabricksProperties{WorkspaceName: workspace, ResourceGroup: group, DatabricksAccessToken: strings.TrimSpace(secret)}
	return c.put(name, envelope(compute.KindDatabricks, description, "", ""), inner, out)
}

// attachAccount attaches a Data Lake Analytics (adla) or Azure Batch account.
func (c *cli) attachAccount(kind compute.Kind, args []string) error {
	var name, account, group, description, out string
	verb, about := "adla", "Attach an Azure Data Lake Analytics account."
	if kind == compute.KindBatch {
		verb, about = "batch", "Attach an Azure Batch account."
	}
	f := newFlagSet("trainyard computetarget attach "+verb, "--name NAME --account-name ACCOUNT --resource-group RG [flags]", about)
	f.Name(&name, "name for the compute target")
	f.String(&account, "account-name", "", "ACCOUNT", "", "account name: 3–24 lower-case letters and digits")
	f.String(&group, "resource-group", "g", "RG", "", "resource group of the account")
	if err := f.parseTarget(args, c.stdout, &name, &description, nil, &out); err != nil {
		return err
	}
	var inner any = &arm.DataLakeAnalyticsProperties{DataLakeStoreAccountName: account, ResourceGroup: group}
	if kind == compute.KindBatch {
		inner = &arm.AzureBatchProperties{AccountName: account, ResourceGroup: group}
	}
	return c.put(name, envelope(kind, description, "", ""), inner, out)
}

func (c *cli) attachSlurm(args []string) error {
	var name, restURL, tokenFile, keyFile, user, partition, sharedDir, slurmConf, description, out string
	f := newFlagSet("trainyard computetarget attach slurm", "--name NAME --rest-url URL --user USER (--jwt-key-file FILE | --token-file FILE) [--partition P] [--shared-dir DIR] [flags]",
		"Attach a Slurm cluster through its slurmrestd. With --jwt-key-file (the cluster's jwt_hs256.key, the AuthAltParameters=jwt_key file) "+
			"the server makes its own short-lived tokens for --user; with --token-file it uses that token (e.g. from 'scontrol token lifespan=…') until it expires. "+
			"Either is sent to the server, stored sealed and never printed. --shared-dir names a folder that this server and every node see at the same path: "+
			"runs are staged and their logs written there. The command waits until the server has reached slurmrestd and says what it found.")
	f.Name(&name, "name for the compute target")
	f.String(&restURL, "rest-url", "", "URL", "", "slurmrestd URL, e.g. http://slurm-head:6820")
	f.String(&user, "user", "u", "USER", "", "the Slurm user jobs run as")
	f.String(&keyFile, "jwt-key-file", "", "FILE", "", "read the cluster's JWT signing key (jwt_hs256.key) from FILE ('-' reads stdin)")
	f.String(&tokenFile, "token-file", "", "FILE", "", "read a slurmrestd JWT from FILE ('-' reads stdin)")
	f.String(&partition, "partition", "p", "PARTITION", "", "the partition jobs go to (default: the cluster's default partition)")
	f.String(&sharedDir, "shared-dir", "", "DIR", "", "absolute path of a folder shared by this server and every node")
	f.String(&slurmConf, "slurm-conf", "", "FILE", "", "slurm.conf as the server sees it (optional: makes a power-saving partition's min/max nodes and idle seconds editable)")
	if err := f.parseTarget(args, c.stdout, &name, &description, nil, &out); err != nil {
		return err
	}
	if tokenFile == "" && keyFile == "" {
		return f.usageErr("give --jwt-key-file or --token-file")
	}
	if tokenFile == "-" && keyFile == "-" {
		return f.usageErr("only one of --jwt-key-file and --token-file can read stdin")
	}
	inner := &arm.SlurmProperties{RestURL: restURL, User: user, Partition: partition, SharedDir: sharedDir, SlurmConf: slurmConf}
	if tokenFile != "" {
		tok, err := readSecretFile("token-file", tokenFile, c.stdin)
		if err != nil {
			return err
		}
		inner.Token = strings.TrimPrefix(strings.TrimSpace(tok), "SLURM_JWT=")
	}
	if keyFile != "" {
		key, err := readSecretFile("jwt-key-file", keyFile, c.stdin)
		if err != nil {
			return err
		}
		// The key is raw bytes (often binary): base64 carries it in JSON.
		inner.JWTKey = base64.StdEncoding.EncodeToString([]byte(key))
	}
	if err := c.put(name, envelope(compute.KindSlurm, description, "", ""), inner, out); err != nil {
		return err
	}
	return c.awaitSSHAttach(name, out)
}
