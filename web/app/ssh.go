package app

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/store"
	"github.com/trainyard/trainyard/web/sshd"
)

// startSSH starts the SSH server of compute instances on cfg.SSHAddr, with
// its host key kept in the data folder and every login audited.
func startSSH(cfg Config, st *store.Store, reg *compute.Registry, log *slog.Logger) (*sshd.Server, error) {
	return sshd.Start(sshd.Config{
		Addr:        cfg.SSHAddr,
		HostKeyFile: filepath.Join(cfg.DataDir, "ssh_host_ed25519_key"),
		Targets:     st.GetTarget,
		Sessions:    func(k compute.Kind) compute.SessionOpener { return reg.Capabilities(k).Sessions },
		Logger:      log,
		Audit: func(ctx context.Context, instance, remote, action string, err error) {
			e := store.AuditEvent{Action: action, Object: "compute/" + instance, Outcome: store.AuditSucceeded, Remote: remote,
				UserName: "SSH key of " + instance}
			switch {
			case err == nil:
			case errors.Is(err, compute.ErrForbidden):
				e.Outcome, e.Detail = store.AuditDenied, err.Error()
			default:
				e.Outcome, e.Detail = store.AuditFailed, err.Error()
			}
			if aerr := st.AppendAudit(ctx, e); aerr != nil {
				log.Warn("audit of an SSH login", "err", aerr)
			}
		},
	})
}

// sshEndpoint is the host and port users are told to ssh to: the host the
// server listens on, or the public URL's host when it listens on every
// address.
func sshEndpoint(publicURL string, addr *net.TCPAddr) (string, int) {
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		if u, err := url.Parse(publicURL); err == nil && u.Hostname() != "" {
			host = u.Hostname()
		}
	}
	return host, addr.Port
}
