package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/arm"
)

const createUsage = `Usage: trainyard computetarget create <type> [flags]

Create compute that Trainyard manages.

Types:
  amlcompute        a compute cluster: an autoscaling pool of nodes
  computeinstance   a compute instance: a single-user workstation

Run 'trainyard computetarget create <type> --help' for its flags.
`

func (c *cli) create(args []string) error {
	return c.dispatchVerb(args, createUsage, "create needs a type: amlcompute or computeinstance", func(verb string) string {
		return fmt.Sprintf("cannot create %q: the types are amlcompute and computeinstance", verb)
	}, "trainyard computetarget create --help", map[string]func([]string) error{
		"amlcompute":      c.createCluster,
		"computeinstance": c.createInstance,
	})
}

func (c *cli) createCluster(args []string) error {
	var (
		name, vmSize, priority, adminUser, adminPass, adminPassFile string
		sshKey, identity, description, location, out                string
		maxNodes, minNodes, idle                                    int
	)
	f := newFlagSet("trainyard computetarget create amlcompute", "--name NAME [--vm-size SIZE] [flags]",
		"Create a compute cluster: a pool of nodes that grows to --max-nodes while jobs wait and shrinks to --min-nodes when nodes have been idle for --idle-seconds-before-scaledown.")
	f.Name(&name, "name of the cluster: 3–24 letters, digits and hyphens, starting with a letter")
	f.String(&vmSize, "vm-size", "s", "SIZE", compute.DefaultVMSize, "VM size of the nodes (case does not matter)")
	f.Int(&maxNodes, "max-nodes", "N", compute.DefaultMaxNodes, "most nodes the cluster scales up to")
	f.Int(&minNodes, "min-nodes", "N", 0, "nodes kept even when idle")
	f.Int(&idle, "idle-seconds-before-scaledown", "S", compute.DefaultIdleSeconds, "seconds a node above --min-nodes may stay idle before it is removed")
	f.String(&priority, "vm-priority", "p", "PRIORITY", "dedicated", "dedicated or lowpriority")
	f.String(&adminUser, "admin-username", "u", "USER", "", "admin user for SSH to the nodes")
	f.String(&adminPass, "admin-user-password", "", "PASSWORD", "", "the admin's password (visible in the process list; prefer --admin-user-password-file)")
	f.String(&adminPassFile, "admin-user-password-file", "", "FILE", "", "read the admin's password from FILE ('-' reads stdin)")
	f.String(&sshKey, "admin-user-ssh-key", "", "KEY", "", "the admin's SSH public key, or @FILE to read it from a file")
	f.String(&identity, "assign-identity", "", "IDENTITY", "", "'[system]' for a system-assigned identity, or the resource ID of a user-assigned one")
	if err := f.parseTarget(args, c.stdout, &name, &description, &location, &out); err != nil {
		return err
	}
	prio, ok := map[string]string{"dedicated": string(compute.Dedicated), "lowpriority": string(compute.LowPriority)}[strings.ToLower(priority)]
	if !ok {
		return f.usageErr("--vm-priority must be dedicated or lowpriority, not %q", priority)
	}
	pass, err := f.oneSecret("admin-user-password", adminPass, "admin-user-password-file", adminPassFile, c.stdin)
	if err != nil {
		return err
	}
	key, err := valueOrFile("admin-user-ssh-key", sshKey, c.stdin)
	if err != nil {
		return err
	}
	inner := &arm.AmlComputeProperties{
		VMSize:     vmSize,
		VMPriority: prio,
		ScaleSettings: &arm.ScaleSettings{
			MaxNodeCount:                maxNodes,
			MinNodeCount:                minNodes,
			NodeIdleTimeBeforeScaleDown: isoDuration(idle, "S"),
		},
	}
	if adminUser != "" || pass != "" || key != "" {
		inner.UserAccountCredentials = &arm.UserAccountCredentials{AdminUserName: adminUser, AdminUserPassword: pass, AdminUserSSHPublicKey: key}
	}
	body := envelope(compute.KindCluster, description, location, "")
	switch {
	case identity == "":
	case strings.EqualFold(identity, "[system]"):
		body.Identity = &arm.Identity{Type: "SystemAssigned"}
	default:
		body.Identity = &arm.Identity{Type: "UserAssigned", UserAssignedIdentities: map[string]arm.UserAssignedIdentity{identity: {}}}
	}
	return c.put(name, body, inner, out)
}

func (c *cli) createInstance(args []string) error {
	var (
		name, vmSize, sshKey, assigned, description, location, out string
		setupScript, startupScript                                 string
		idle                                                       int
		sshAccess                                                  bool
	)
	f := newFlagSet("trainyard computetarget create computeinstance", "--name NAME [--vm-size SIZE] [flags]",
		"Create a compute instance: a single-user workstation that can be stopped and started.")
	f.Name(&name, "name of the instance: 3–24 letters, digits and hyphens, starting with a letter")
	f.String(&vmSize, "vm-size", "s", "SIZE", compute.DefaultVMSize, "VM size (case does not matter)")
	f.Int(&idle, "idle-shutdown-minutes", "MINUTES", 0, "stop the instance after this many idle minutes, 15 to 4320 (0 = never)")
	f.Bool(&sshAccess, "ssh-public-access", "", "allow SSH to the instance")
	f.String(&sshKey, "ssh-key", "", "KEY", "", "SSH public key for the admin user, or @FILE to read it from a file")
	f.String(&assigned, "assigned-user", "", "OBJECTID", "", "create the instance for another user: their object ID, or TENANTID/OBJECTID")
	f.String(&setupScript, "setup-script", "", "FILE", "", "a bash script run once when the instance is created, as its user in its home")
	f.String(&startupScript, "startup-script", "", "FILE", "", "a bash script run at every start of the instance (creation included)")
	if err := f.parseTarget(args, c.stdout, &name, &description, &location, &out); err != nil {
		return err
	}
	key, err := valueOrFile("ssh-key", sshKey, c.stdin)
	if err != nil {
		return err
	}
	creation, err := scriptFile("setup-script", setupScript)
	if err != nil {
		return err
	}
	startup, err := scriptFile("startup-script", startupScript)
	if err != nil {
		return err
	}
	inner := &arm.ComputeInstanceProperties{
		VMSize:      vmSize,
		SSHSettings: &arm.SSHSettings{SSHPublicAccess: "Disabled", AdminPublicKey: key},
	}
	if sshAccess {
		inner.SSHSettings.SSHPublicAccess = "Enabled"
	}
	if idle != 0 {
		inner.IdleTimeBeforeShutdown = isoDuration(idle, "M")
	}
	if creation != nil || startup != nil {
		inner.SetupScripts = &arm.SetupScripts{Scripts: &arm.ScriptsToExecute{CreationScript: creation, StartupScript: startup}}
	}
	if assigned != "" {
		u := &arm.AssignedUser{ObjectID: assigned}
		if tid, oid, ok := strings.Cut(assigned, "/"); ok {
			u = &arm.AssignedUser{ObjectID: oid, TenantID: tid}
		}
		inner.ComputeInstanceAuthorizationType = "personal"
		inner.PersonalComputeInstanceSettings = &arm.PersonalComputeInstanceSettings{AssignedUser: u}
	}
	return c.put(name, envelope(compute.KindInstance, description, location, ""), inner, out)
}

// parseTarget ends the flags of every create and attach command: it
// registers what goes into the PUT body's envelope (-d/--description, and
// -l/--location where location is not nil, as create has it) and
// -o/--output, parses args and requires --name.
func (f *flagSet) parseTarget(args []string, stdout io.Writer, name, description, location, out *string) error {
	f.String(description, "description", "d", "TEXT", "", "description")
	if location != nil {
		f.String(location, "location", "l", "REGION", "", "region label")
	}
	f.Output(out)
	if err := f.Parse(args, stdout); err != nil {
		return err
	}
	return f.Require("name", *name)
}

// envelope starts a PUT body.
func envelope(kind compute.Kind, description, location, resourceID string) arm.Compute {
	return arm.Compute{
		Location: location,
		Properties: arm.Properties{
			ComputeType: string(kind),
			Description: description,
			ResourceID:  resourceID,
		},
	}
}

// put creates or attaches a compute: PUT with If-None-Match: * so that an
// existing compute of that name is not replaced.
func (c *cli) put(name string, body arm.Compute, inner any, out string) error {
	if err := body.Properties.SetInner(inner); err != nil {
		return err
	}
	api, err := c.client()
	if err != nil {
		return err
	}
	resp, err := api.do(c.ctx, http.MethodPut, api.computePath(name), nil, body, http.Header{"If-None-Match": {"*"}})
	if err != nil {
		return err
	}
	if len(resp.body) == 0 {
		fmt.Fprintf(c.stdout, "Accepted %s.\n", name)
		return nil
	}
	return printCompute(c.stdout, resp, out, false)
}

// isoDuration writes n seconds ("S") or minutes ("M") as the SDKs do, e.g.
// PT120S or PT30M, so the server can judge out-of-range values itself.
func isoDuration(n int, unit string) string {
	if n < 0 {
		return fmt.Sprintf("-PT%d%s", -n, unit)
	}
	return fmt.Sprintf("PT%d%s", n, unit)
}

// scriptFile reads a setup script for the request body (stored with the
// instance, so its text goes inline, base64 as ARM's inline scripts).
func scriptFile(flagName, path string) (*arm.ScriptReference, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", flagName, err)
	}
	if len(data) > compute.MaxScriptBytes {
		return nil, fmt.Errorf("--%s: %s is %d bytes; a setup script may have at most %d", flagName, path, len(data), compute.MaxScriptBytes)
	}
	return &arm.ScriptReference{ScriptSource: "inline", ScriptData: base64.StdEncoding.EncodeToString(data)}, nil
}
