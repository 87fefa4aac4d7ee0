package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/computetest"
	"github.com/trainyard/trainyard/web/jupyter"
	"github.com/trainyard/trainyard/web/webtest"
)

// TestJupyterThroughTheProxy is a notebook user's day through Trainyard's
// proxy, with Debian's real Jupyter Notebook in the instance's sandbox: a
// notebook is created and saved in the instance's home, a kernel runs a
// cell over its WebSocket and the output comes back; nobody else gets in;
// stopping the instance ends Jupyter and its kernel.
func TestJupyterThroughTheProxy(t *testing.T) {
	if !jupyter.Installed() {
		if os.Getenv("CI") != "" {
			t.Fatal("jupyter-notebook is not installed; `make test` installs it")
		}
		t.Skip("jupyter-notebook not installed (make instance-apps)")
	}
	env := webtest.New(t, webtest.Options{})
	const aliceID = "tid-1/oid-alice"
	inst := env.RunningInstance(t, "ci-nb", aliceID)
	alice := env.TokenFor(t, aliceID, compute.RoleDataScientist)
	bob := env.TokenFor(t, "tid-1/oid-bob", compute.RoleDataScientist)
	admin := env.TokenFor(t, "tid-1/oid-admin", compute.RoleAdmin)
	base := env.URL + "/computes/ci-nb/apps/jupyter/"
	call := func(token, method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		c := &http.Client{Timeout: 3 * time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	for who, tok := range map[string]string{"bob": bob, "admin": admin} {
		if st, body := call(tok, "GET", "api/status", ""); st != http.StatusForbidden {
			t.Errorf("%s GET Jupyter: %d, want 403 (%s)", who, st, body)
		}
	}
	if st, body := call(alice, "GET", "tree", ""); st != http.StatusOK || !strings.Contains(body, "Jupyter") || strings.Contains(body, "token=") {
		t.Fatalf("alice opens Jupyter: %d; want its tree page, with no token in sight\n%.400s", st, body)
	}

	// A notebook, saved in the instance's home.
	nb := `{"type":"notebook","content":{"cells":[{"cell_type":"code","source":"print(6*7)","metadata":{},"outputs":[],"execution_count":null}],"metadata":{},"nbformat":4,"nbformat_minor":5}}`
	if st, body := call(alice, "PUT", "api/contents/analysis.ipynb", nb); st != http.StatusCreated && st != http.StatusOK {
		t.Fatalf("save a notebook: %d %s", st, body)
	}
	if data, err := os.ReadFile(filepath.Join(inst.Instance.WorkDir, "analysis.ipynb")); err != nil || !strings.Contains(string(data), "print(6*7)") {
		t.Errorf("analysis.ipynb in the instance's home: %v %.200s", err, data)
	}

	// A kernel runs the cell; its output comes back over the WebSocket.
	st, body := call(alice, "POST", "api/kernels", `{"name":"python3"}`)
	if st != http.StatusCreated {
		t.Fatalf("start a kernel: %d %s", st, body)
	}
	var kernel struct{ ID string }
	_ = json.Unmarshal([]byte(body), &kernel)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute*computetest.Slack)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(base, "http") + "api/kernels/" + kernel.ID + "/channels"
	if _, resp, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + alice}, "Origin": {"https://evil.example"}}}); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("kernel WebSocket from another origin: %v; want 403", err)
	}
	conn, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + alice}, "Origin": {env.URL}}})
	if err != nil {
		t.Fatalf("kernel WebSocket: %v", err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 22)
	exec := `{"header":{"msg_id":"m1","username":"alice","session":"s1","msg_type":"execute_request","version":"5.3"},"parent_header":{},"metadata":{},` +
		`"content":{"code":"import os\nprint(6*7, os.getcwd())","silent":false,"store_history":true,"user_expressions":{},"allow_stdin":false,"stop_on_error":true},"channel":"shell","buffers":[]}`
	if err := conn.Write(ctx, websocket.MessageText, []byte(exec)); err != nil {
		t.Fatal(err)
	}
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("reading the kernel's messages: %v", err)
		}
		var msg struct {
			Header struct {
				MsgType string `json:"msg_type"`
			} `json:"header"`
			Content struct{ Text string } `json:"content"`
		}
		_ = json.Unmarshal(data, &msg)
		if msg.Header.MsgType == "stream" {
			if want := "42 " + inst.Instance.WorkDir + "\n"; msg.Content.Text != want {
				t.Errorf("the cell printed %q, want %q", msg.Content.Text, want)
			}
			break
		}
	}
	conn.Close(websocket.StatusNormalClosure, "")
	waitProcess(t, "ipykernel_launcher", true)

	// Stopping the instance ends Jupyter and its kernel.
	if err := env.Local.Power(context.Background(), inst, compute.ActionStop); err != nil {
		t.Fatal(err)
	}
	waitProcess(t, "ipykernel_launcher", false)
	waitProcess(t, "/usr/bin/jupyter-notebook", false)
}
