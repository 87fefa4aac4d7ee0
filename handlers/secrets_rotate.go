package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"
	"golang.org/x/crypto/ssh"

	"github.com/trainyard/trainyard/compute"
)

// updateSecretsRequest is the body of POST /api/v1/computes/{name}/updateSecrets.
// Empty fields keep what is stored.
type updateSecretsRequest struct {
	Password             string `json:"password"`
	PrivateKey           string `json:"privateKey"`
	PrivateKeyPassphrase string `json:"privateKeyPassphrase"`
}

// APIUpdateSecrets handles POST /api/v1/computes/{name}/updateSecrets
// {"password": …} or {"privateKey": …, "privateKeyPassphrase": …}: it
// replaces an SSH target's credentials (compute operators). The answer is the
// target, which names the stored secrets and never their values.
func (h *Handlers) APIUpdateSecrets(w http.ResponseWriter, r *http.Request) error {
	var req updateSecretsRequest
	if err := decodeJSON(w, r, maxBodyBytes, &req); err != nil {
		return err
	}
	t, err := h.updateSecrets(r, chi.URLParam(r, "name"), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h.armCompute(t))
	return nil
}

// UpdateSecretsPage handles POST /computes/{name}/update-secrets, the
// details page's write-only "Replace credentials" form. A refused value
// renders the page again with the reason (and empty fields).
func (h *Handlers) UpdateSecretsPage(w http.ResponseWriter, r *http.Request) error {
	name := chi.URLParam(r, "name")
	req := updateSecretsRequest{Password: r.PostFormValue("password"), PrivateKey: r.PostFormValue("privateKey"),
		PrivateKeyPassphrase: r.PostFormValue("privateKeyPassphrase")}
	_, err := h.updateSecrets(r, name, req)
	if v := asValidation(err); v != nil {
		return h.computeDetailsPage(w, r, name, "details", v.Fields[0].Message, http.StatusUnprocessableEntity)
	}
	if err != nil {
		return err
	}
	setFlash(w, "Credentials of "+name+" replaced; the next connection uses them.")
	http.Redirect(w, r, "/computes/"+url.PathEscape(name), http.StatusSeeOther)
	return nil
}

// updateSecrets replaces the password, private key or passphrase of an SSH
// target: sealed in the store like at attach, audited (never the values),
// and the pooled connection is dropped so the next one signs in with them.
// A new private key replaces the passphrase too (none given: none stored).
// A target that failed its check is checked again with the new credentials.
func (h *Handlers) updateSecrets(r *http.Request, name string, req updateSecretsRequest) (_ *compute.Target, err error) {
	defer func() { h.audit(r, "updateSecrets", auditObject("compute", name), err) }()
	if err := require(r, compute.RoleComputeOperator); err != nil {
		return nil, err
	}
	ctx := r.Context()
	t, err := h.cfg.Store.GetTarget(ctx, name)
	if err != nil {
		return nil, err
	}
	if t.Kind != compute.KindVirtualMachine && t.Kind != compute.KindHDInsight {
		return nil, compute.Conflictf("OperationNotSupported", "name", "%s is a %s; only machines reached over SSH have a password or private key to replace.", name, t.Kind.Label())
	}
	if t.ProvisioningState == compute.ProvisioningDeleting {
		return nil, compute.Conflictf("OperationNotAllowed", "state", "%s is being detached.", name)
	}
	secrets, drop, err := checkNewSecrets(req)
	if err != nil {
		return nil, err
	}
	if err := h.cfg.Store.SetSecrets(ctx, name, secrets); err != nil {
		return nil, err
	}
	if len(drop) > 0 {
		if err := h.cfg.Store.DeleteSecrets(ctx, name, drop...); err != nil {
			return nil, err
		}
	}
	if rc := h.cfg.Backends.Capabilities(t.Kind).SecretRotation; rc != nil {
		rc.ResetConnection(ctx, t)
	}
	t, err = h.cfg.Store.UpdateTarget(ctx, name, func(cur *compute.Target) error {
		if cur.ProvisioningState == compute.ProvisioningFailed && cur.Attach != nil && cur.Attach.PendingHostKeyFingerprint == "" {
			cur.ProvisioningState = compute.ProvisioningCreating
			cur.ProvisioningErrors = nil
			cur.Attach.StatusMessage = "Credentials replaced; checking the machine with them."
			cur.LastOperation = compute.Operation{Name: "Update", Status: "InProgress", Trigger: "User", Time: h.cfg.Now()}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	h.cfg.Controller.Kick()
	return t, nil
}

// checkNewSecrets validates replacement credentials and returns what to
// store and which stored secrets to remove. Error messages never quote a value.
func checkNewSecrets(req updateSecretsRequest) (map[string]string, []string, error) {
	key := strings.TrimSpace(req.PrivateKey)
	v := &compute.ValidationError{}
	switch {
	case req.Password == "" && key == "" && req.PrivateKeyPassphrase != "":
		v.Add(compute.FieldPrivateKey, "Give the private key the passphrase belongs to.")
	case req.Password == "" && key == "":
		v.Add(compute.FieldPassword, "Give a new password or a new private key.")
	case strings.ContainsAny(req.Password, "\x00\n\r"):
		v.Add(compute.FieldPassword, "The password cannot contain line breaks or NUL bytes.")
	}
	if key != "" {
		key += "\n"
		var err error
		if req.PrivateKeyPassphrase != "" {
			_, err = ssh.ParseRawPrivateKeyWithPassphrase([]byte(key), []byte(req.PrivateKeyPassphrase))
		} else {
			_, err = ssh.ParseRawPrivateKey([]byte(key))
		}
		var missing *ssh.PassphraseMissingError
		switch {
		case errors.As(err, &missing):
			v.Add(compute.SecretPassphrase, "The private key is encrypted: give its passphrase.")
		case err != nil && req.PrivateKeyPassphrase != "":
			v.Add(compute.FieldPrivateKey, "The private key cannot be opened with that passphrase, or is not a PEM or OpenSSH private key.")
		case err != nil:
			v.Add(compute.FieldPrivateKey, "The private key must be a PEM or OpenSSH private key (-----BEGIN … PRIVATE KEY-----).")
		}
	}
	if err := v.Err(); err != nil {
		return nil, nil, err
	}
	secrets := map[string]string{compute.SecretPassword: req.Password}
	var drop []string
	if key != "" {
		secrets[compute.SecretPrivateKey] = key
		secrets[compute.SecretPassphrase] = req.PrivateKeyPassphrase
		if req.PrivateKeyPassphrase == "" {
			drop = append(drop, compute.SecretPassphrase)
		}
	}
	return secrets, drop, nil
}
