package handlers

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/arm"
	"github.com/trainyard/trainyard/views/components"
	"github.com/trainyard/trainyard/views/pages"
)

// An instance's applications (Terminal, Jupyter, SSH) run code as the
// instance's user, in its home. Studio's rule is stricter than the one for
// starting and stopping: only the user the instance is assigned to opens
// them, not an operator and not even an Admin (docs/design/security.md;
// docs/SECURITY.md, "What an app session can reach").

// appsOpener returns the instance t and what opens its sessions, after
// checking that the signed-in user may open its applications now. Every
// refusal is audited.
func (h *Handlers) appsOpener(r *http.Request, name, app string) (*compute.Target, compute.SessionOpener, error) {
	t, so, err := h.appsTarget(r.Context(), compute.UserFrom(r.Context()), name)
	if err != nil {
		h.audit(r, "open "+app, auditObject("compute", name), err)
	}
	return t, so, err
}

// appsTarget is the check of appsOpener for one user, also used by the SSH
// server, which has no request.
func (h *Handlers) appsTarget(ctx context.Context, u *compute.User, name string) (*compute.Target, compute.SessionOpener, error) {
	t, err := h.cfg.Store.GetTarget(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	if t.Kind != compute.KindInstance || t.Instance == nil {
		return nil, nil, compute.NotFoundf("name", "%s is a %s; only compute instances have applications.", name, t.Kind.Label())
	}
	if err := mayOpenApps(u, t); err != nil {
		return nil, nil, err
	}
	so := h.cfg.Backends.Capabilities(t.Kind).Sessions
	if so == nil {
		return nil, nil, compute.Conflictf("OperationNotSupported", "name", "Compute instance %s has no applications on this server.", name)
	}
	if st := t.Instance.State; st != compute.InstanceRunning && st != compute.InstanceJobRunning {
		return nil, nil, compute.Conflictf("ComputeInstanceNotRunning", "state", "Compute instance %s is %s; start it to open its applications.", name, st)
	}
	return t, so, nil
}

// mayOpenApps lets only the instance's own user through.
func mayOpenApps(u *compute.User, t *compute.Target) error {
	owner := instanceOwner(t)
	if u != nil && u.ID != "" && owner != "" && owner == u.ID {
		return nil
	}
	return &compute.CodedError{Kind: compute.ErrForbidden, Code: "AuthorizationFailed", Target: "name",
		Message: fmt.Sprintf("Only the user compute instance %s is assigned to can open its applications (terminal, Jupyter, SSH); not even an Admin opens another user's.", t.Name)}
}

// appHost is what this server offers the instance t: the configured apps,
// when t's backend opens sessions at all.
func (h *Handlers) appHost(t *compute.Target) compute.AppHost {
	host := h.cfg.Apps
	host.Sessions = h.cfg.Backends.Capabilities(t.Kind).Sessions != nil
	return host
}

// armCompute is a target in the API's shape, with an instance's
// applications and SSH endpoint.
func (h *Handlers) armCompute(t *compute.Target) arm.Compute {
	return arm.WithInstanceAccess(arm.FromTarget(t, h.cfg.ARMPrefix), t, h.cfg.PublicURL, h.appHost(t))
}

// appLinks are the instance's applications as the pages show them to u:
// greyed out with the reason while the instance is not running, or when
// they are someone else's.
func (h *Handlers) appLinks(u *compute.User, t *compute.Target) []components.AppVM {
	apps := compute.InstanceApps(t, h.appHost(t))
	others := ""
	if mayOpenApps(u, t) != nil {
		others = "Only the user this compute instance is assigned to can open its applications."
	}
	out := make([]components.AppVM, 0, len(apps))
	for _, a := range apps {
		vm := components.AppVM{Name: a.Name, URL: a.URL, Reason: a.Reason}
		if others != "" {
			vm.Reason = others
		}
		out = append(out, vm)
	}
	return out
}

// instanceAccess adds an instance's Applications section to its live
// state: the apps, and the SSH command when SSH is on.
func (h *Handlers) instanceAccess(r *http.Request, t *compute.Target, vm *pages.ComputeLiveVM) {
	vm.Apps = h.appLinks(compute.UserFrom(r.Context()), t)
	if e, ok := h.appHost(t).SSH(t); ok {
		vm.SSHCommand = e.Command()
	} else if t.Instance.SSHEnabled {
		vm.SSHUnavailable = h.sshUnavailable(t)
	}
	in := t.Instance
	if in.SetupScript != "" {
		vm.Scripts = append(vm.Scripts, pages.ScriptVM{Name: "Creation script", Log: in.SetupLog})
	}
	if in.StartupScript != "" {
		vm.Scripts = append(vm.Scripts, pages.ScriptVM{Name: "Startup script", Log: in.StartupLog})
	}
	vm.StartupWarning = in.StartupWarning
	if in.State == compute.InstanceStopped || in.State == compute.InstanceStopping {
		vm.StopReason = in.StopReason
	}
}

// sshUnavailable says why an instance created with SSH access has no SSH
// command.
func (h *Handlers) sshUnavailable(t *compute.Target) string {
	switch {
	case strings.TrimSpace(t.Instance.SSHPublicKey) == "":
		return "SSH is enabled but the instance has no public key, and keys are the only way in."
	case h.cfg.Apps.SSHPort == 0:
		return "This server's SSH server is off (trainyard serve --ssh-addr turns it on)."
	}
	return "This instance's machine has no SSH server."
}

// realConnections keeps a node's ssh connection string only where an SSH
// server really listens: never on the simulated nodes of this machine's
// clusters (their ports are Azure's numbering, nobody listens there); an
// instance's one node gets the embedded SSH server's command when SSH is on.
func (h *Handlers) realConnections(t *compute.Target, rows []pages.NodeRowVM) []pages.NodeRowVM {
	reg, _ := h.cfg.Backends.For(t.Kind)
	simulated := reg.Backend != nil && reg.Backend.Name() == "local"
	if !simulated {
		return rows
	}
	e, ok := h.appHost(t).SSH(t)
	for i := range rows {
		rows[i].Connection = ""
		if ok {
			rows[i].Connection = e.Command()
		}
	}
	return rows
}
