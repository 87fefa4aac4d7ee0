package compute

import (
	"net"
	"strconv"
	"strings"
)

// CredentialKind names how an SSH target signs in: "a key" or "a password".
func CredentialKind(hasPrivateKey bool) string {
	if hasPrivateKey {
		return "a key"
	}
	return "a password"
}

// DuplicateAttach refuses attaching a machine over SSH that another target
// already attaches the same way (the seed warns that the same VM attached
// twice confuses everyone: two targets, one machine, runs that collide).
//
// "The same way" is precise: the same machine — the same address:port
// (host names compared case-insensitively, port 22 when none), or the same
// SSH host key fingerprint when both are known — AND the same SSH user AND
// the same kind of credential (key or password). A second target for the same
// user with the other kind of credential is allowed: it is how an operator
// moves a machine from password to key sign-in (attach the new way, move the
// runs, detach the old), and what the acceptance check does on purpose.
// Targets being detached do not count. The error names the target that
// already attaches the machine.
func DuplicateAttach(existing []*Target, req *CreateRequest) error {
	if req == nil || req.Attach == nil || (req.Kind != KindVirtualMachine && req.Kind != KindHDInsight) {
		return nil
	}
	a := req.Attach
	addr := sshEndpoint(a)
	fp := normalFingerprint(a.HostKeyFingerprint)
	cred := CredentialKind(req.Secrets[SecretPrivateKey] != "")
	for _, t := range existing {
		if t == nil || t.Attach == nil || t.Name == req.Name || t.ProvisioningState == ProvisioningDeleting {
			continue
		}
		if t.Kind != KindVirtualMachine && t.Kind != KindHDInsight {
			continue
		}
		e := t.Attach
		same := addr != "" && sshEndpoint(e) == addr
		if !same && fp != "" {
			for _, other := range []string{e.HostKeyFingerprint, e.PendingHostKeyFingerprint} {
				if normalFingerprint(other) == fp {
					same = true
				}
			}
		}
		if !same || e.UserName != a.UserName {
			continue
		}
		if CredentialKind(hasSecret(t, SecretPrivateKey)) != cred {
			continue
		}
		return Conflictf("AlreadyAttached", FieldAddress,
			"%s already attaches %s@%s with %s; detach it first or use it", t.Name, e.UserName, sshEndpoint(e), cred)
	}
	return nil
}

func hasSecret(t *Target, name string) bool {
	for _, s := range t.SecretsSet {
		if s == name {
			return true
		}
	}
	return false
}

// sshEndpoint is host:port of an SSH attach, lower-cased, port 22 by default.
func sshEndpoint(a *AttachSpec) string {
	if a.Address == "" {
		return ""
	}
	port := a.SSHPort
	if port == 0 {
		port = DefaultSSHPort
	}
	host := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(a.Address), "."))
	if ip := net.ParseIP(host); ip != nil {
		host = ip.String()
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// normalFingerprint reads "SHA256:abc", "abc" and "SHA256:abc=" alike.
func normalFingerprint(fp string) string {
	fp = strings.TrimSpace(fp)
	if fp == "" {
		return ""
	}
	fp = strings.TrimPrefix(fp, "SHA256:")
	return "SHA256:" + strings.TrimRight(fp, "=")
}
