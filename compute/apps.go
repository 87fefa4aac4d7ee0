package compute

import (
	"net/url"
	"strconv"
	"strings"
)

// An instance's applications as Studio lists them (Applications column,
// the details page, properties.properties.applications in ARM): only those
// this server really serves, each with its address, or greyed out with the
// reason while the instance cannot use them.

// App names, as Studio and ARM spell them.
const (
	AppJupyter    = "Jupyter"
	AppJupyterLab = "JupyterLab"
	AppVSCode     = "VS Code (Desktop)"
	AppTerminal   = "Terminal"
)

// App is one application of an instance.
type App struct {
	Name string
	// URL opens it: a path on this server for the browser apps, a
	// vscode:// link for VS Code Desktop.
	URL string
	// Reason is why it cannot be opened now ("" when it can); the link is
	// shown greyed out with it.
	Reason string
}

// AppHost is what this server offers instances: the browser apps it serves
// and where its SSH server listens.
type AppHost struct {
	// Sessions is true when the instance's backend opens sessions
	// (SessionOpener); without it there are no applications.
	Sessions bool
	// Jupyter and JupyterLab are true when Debian's jupyter-notebook (or
	// jupyter-lab) is installed and proxied.
	Jupyter, JupyterLab bool
	// SSHHost and SSHPort are where the embedded SSH server is reached;
	// SSHPort 0 means it is off.
	SSHHost string
	SSHPort int
}

// SSHEndpoint is how an instance is reached over SSH.
type SSHEndpoint struct {
	User string // the instance's name: the SSH server routes by user name
	Host string
	Port int
}

// Command is the exact command that opens a shell on the instance.
func (e SSHEndpoint) Command() string {
	return "ssh -p " + strconv.Itoa(e.Port) + " " + e.User + "@" + e.Host
}

// SSH returns how the instance is reached over SSH, if it is: the server's
// SSH server is on, and the instance was created with SSH public access and
// a public key (the only way in is that key).
func (h AppHost) SSH(t *Target) (SSHEndpoint, bool) {
	if t.Kind != KindInstance || t.Instance == nil || !h.Sessions || h.SSHPort == 0 ||
		!t.Instance.SSHEnabled || strings.TrimSpace(t.Instance.SSHPublicKey) == "" {
		return SSHEndpoint{}, false
	}
	return SSHEndpoint{User: t.Name, Host: h.SSHHost, Port: h.SSHPort}, true
}

// InstanceApps lists the applications of instance t that this server
// serves, each greyed out with the reason while t is not running.
func InstanceApps(t *Target, h AppHost) []App {
	if t.Kind != KindInstance || t.Instance == nil || !h.Sessions {
		return nil
	}
	base := "/computes/" + url.PathEscape(t.Name)
	reason := ""
	if st := t.Instance.State; st != InstanceRunning && st != InstanceJobRunning {
		reason = "The compute instance is " + string(st) + "; start it to use its applications."
		if st == "" {
			reason = "The compute instance is not running."
		}
	}
	var apps []App
	if h.JupyterLab {
		apps = append(apps, App{Name: AppJupyterLab, URL: base + "/apps/jupyter/lab", Reason: reason})
	}
	if h.Jupyter {
		apps = append(apps, App{Name: AppJupyter, URL: base + "/apps/jupyter/tree", Reason: reason})
	}
	if e, ok := h.SSH(t); ok {
		// VS Code's Remote - SSH extension opens ssh-remote+<host>; a
		// user@host:port host needs no ~/.ssh/config entry.
		// It opens the instance's home, where the SSH session starts.
		remote := e.User + "@" + e.Host + ":" + strconv.Itoa(e.Port)
		apps = append(apps, App{Name: AppVSCode, URL: "vscode://vscode-remote/ssh-remote+" + url.PathEscape(remote) + t.Instance.WorkDir, Reason: reason})
	}
	apps = append(apps, App{Name: AppTerminal, URL: base + "/terminal", Reason: reason})
	return apps
}
