package web_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/trainyard/trainyard/store"
	"github.com/trainyard/trainyard/web/webtest"
)

// lockedBuffer is a log sink safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestNoSecretAtRestOrInLogs signs in with the OpenID provider, makes an
// access token, attaches computes with passwords, keys and tokens, is
// refused a few times, signs out — then reads the raw SQLite file and its
// WAL, and the server's debug log, and finds none of the secrets: not the
// OIDC client secret, not a compute secret, not the access token, not a
// session token.
func TestNoSecretAtRestOrInLogs(t *testing.T) {
	logs := &lockedBuffer{}
	p := webtest.NewProvider(t)
	env := webtest.New(t, webtest.Options{Provider: p, LogOutput: logs, NoController: true})
	c := env.SignInOIDC(t, webtest.Login{OID: "44444444-4444-4444-4444-444444444444", Name: "Op", Roles: []string{"ComputeOperator"}})

	secrets := map[string]string{
		"OIDC client secret": webtest.TestClientSecret,
		"VM password":        "vm-Passw0rd-never-stored-in-clear",
		"VM private key":     "PRIVATEKEYMATERIALneverInClear0123456789",
		"key passphrase":     "passphrase-never-in-clear-42",
		"Databricks token":   "dapi0123456789abcdefNEVERINCLEAR",
		"Slurm JWT":          "eyJhbGciOiJIUzI1NiJ9.slurm-jwt-never-in-clear.sig",
	}
	// The session token of the browser.
	u, _ := url.Parse(env.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if strings.Contains(ck.Name, "trainyard_session") {
			secrets["session token"] = ck.Value
		}
	}
	// A personal access token, made on the Profile page.
	_, body, _ := webtest.Do(t, c, "POST", env.URL+"/profile/tokens", url.Values{"name": {"ci"}, "days": {"30"}}, nil)
	d, _ := goquery.NewDocumentFromReader(strings.NewReader(body))
	pat, _ := d.Find(`#new-token-value`).Attr("value")
	if pat == "" || secrets["session token"] == "" {
		t.Fatalf("no PAT (%q) or session token", pat)
	}
	secrets["access token"] = pat

	attach := map[string]string{
		"vm-one": `{"properties":{"computeType":"VirtualMachine","properties":{"address":"10.0.0.4","sshPort":22,"administratorAccount":{"username":"azureuser","password":"` + secrets["VM password"] + `"}}}}`,
		"vm-two": `{"properties":{"computeType":"VirtualMachine","properties":{"address":"10.0.0.5","sshPort":22,"administratorAccount":{"username":"azureuser","privateKeyData":"-----BEGIN OPENSSH PRIVATE KEY-----\n` + secrets["VM private key"] + `\n-----END OPENSSH PRIVATE KEY-----\n","privateKeyPassphrase":"` + secrets["key passphrase"] + `"}}}}`,
		"dbx":    `{"properties":{"computeType":"Databricks","properties":{"databricksAccessToken":"` + secrets["Databricks token"] + `","workspaceName":"w","resourceGroup":"rg"}}}`,
		"hpc":    `{"properties":{"computeType":"Slurm","properties":{"restUrl":"http://slurm.internal:6820","user":"alice","token":"` + secrets["Slurm JWT"] + `"}}}`,
	}
	for name, b := range attach {
		req, _ := http.NewRequest("PUT", env.URL+"/api/v1/computes/"+name, strings.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+pat)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		rb, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("attach %s: %d %s", name, resp.StatusCode, rb)
		}
	}
	// Refusals and mistakes: a wrong bearer token, a cross-origin POST, a
	// refused sign-in, the access token sent as a login link.
	webtest.Do(t, http.DefaultClient, "POST", env.URL+"/api/v1/computes/vm-one/start", nil, map[string]string{"Authorization": "Bearer " + pat + "x"})
	webtest.Do(t, c, "POST", env.URL+"/computes/vm-one/detach", url.Values{}, map[string]string{"Sec-Fetch-Site": "cross-site"})
	webtest.Do(t, env.Client(), "GET", env.URL+"/login?token="+pat, nil, nil)
	p.Next(webtest.Login{OID: "55555555-5555-5555-5555-555555555555", Name: "Nobody"})
	env.OIDCFlow(t, env.Client(), "")
	webtest.Do(t, c, "POST", env.URL+"/logout", url.Values{}, nil)

	if _, _, err := env.Store.ListAudit(context.Background(), store.AuditFilter{}); err != nil {
		t.Fatal(err)
	}
	var raw []byte
	for _, f := range []string{store.DBFile, store.DBFile + "-wal"} {
		b, err := os.ReadFile(filepath.Join(env.DataDir, f))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		raw = append(raw, b...)
	}
	if len(raw) == 0 {
		t.Fatal("read nothing from the database files")
	}
	log := logs.String()
	if !strings.Contains(log, "sign-in refused") {
		t.Fatalf("the log does not look captured:\n%s", log)
	}
	for what, s := range secrets {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("the %s is in the SQLite files", what)
		}
		if strings.Contains(log, s) {
			t.Errorf("the %s is in the log", what)
		}
	}
}
