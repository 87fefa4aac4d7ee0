// Package jupyter runs Debian's classic Jupyter Notebook for compute
// instances, one server per instance started on demand inside the
// instance's sandbox, and reverse-proxies it (HTTP and the kernels'
// WebSockets) under /computes/{name}/apps/jupyter/.
//
// Each server listens on a Unix socket in the instance's own home, with no
// token: no other sandbox on the machine sees that folder, so no other
// user's code can reach it (a loopback port would be open to every run on
// the machine, and with no token it would run anyone's code as this
// instance's user). Users never see a Jupyter token because there is none;
// Trainyard's session, its per-object rule and its Origin checks guard the
// way in.
package jupyter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// Program is Debian's classic Notebook server (package jupyter-notebook).
const Program = "jupyter-notebook"

// Installed reports whether the Notebook server is on this machine.
func Installed() bool {
	_, err := exec.LookPath(Program)
	return err == nil
}

// socketName is the server's socket, in a folder of the instance's home.
const socketName = ".trainyard/jupyter.sock"

// Prefix is where an instance's Jupyter is served.
func Prefix(instance string) string {
	return "/computes/" + url.PathEscape(instance) + "/apps/jupyter/"
}

// Manager starts, proxies and watches the Jupyter servers of instances.
type Manager struct {
	log *slog.Logger
	// ActivityEvery is how often a running server's last activity is read
	// (its kernels' and its own); 0 means 30 s.
	ActivityEvery time.Duration

	mu      sync.Mutex
	servers map[string]*server
}

// New returns a Manager.
func New(log *slog.Logger) *Manager {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Manager{log: log, servers: map[string]*server{}}
}

// server is one instance's running Jupyter.
type server struct {
	ready   chan struct{} // closed once it answers, or failed
	err     error         // why it did not start
	sock    string        // its socket on the host
	proxy   *httputil.ReverseProxy
	session compute.Session
	so      compute.SessionOpener
	name    string
}

// Handler returns the proxy to instance t's Jupyter, starting the server
// through so (in the instance's sandbox) if it is not running. It waits
// until the server answers, or ctx ends.
func (m *Manager) Handler(ctx context.Context, t *compute.Target, so compute.SessionOpener) (http.Handler, error) {
	m.mu.Lock()
	s := m.servers[t.Name]
	if s == nil {
		s = &server{ready: make(chan struct{}), so: so, name: t.Name}
		m.servers[t.Name] = s
		go m.start(t, s)
	}
	m.mu.Unlock()
	select {
	case <-s.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if s.err != nil {
		return nil, s.err
	}
	return s.proxy, nil
}

// start runs the server and waits for it to answer; when it ends (the
// instance stopped, it crashed) the manager forgets it, so the next
// request starts a new one.
func (m *Manager) start(t *compute.Target, s *server) {
	forget := func() {
		m.mu.Lock()
		if m.servers[t.Name] == s {
			delete(m.servers, t.Name)
		}
		m.mu.Unlock()
	}
	home := t.Instance.WorkDir
	s.sock = filepath.Join(home, socketName)
	fail := func(err error) {
		s.err = fmt.Errorf("starting Jupyter on %s: %w", t.Name, err)
		m.log.Warn("jupyter did not start", "target", t.Name, "err", err)
		close(s.ready)
		forget()
	}
	if home == "" {
		fail(errors.New("the instance has no workspace"))
		return
	}
	// A socket left by a server that was killed would make the new one
	// fail; the socket's path arrives as $1, never inside the script.
	argv := []string{"/bin/sh", "-c", `mkdir -p "$HOME/.trainyard" && rm -f "$1" && shift && exec "$@"`, "jupyter", s.sock, Program}
	argv = append(argv, "--no-browser", "--sock="+s.sock, "--sock-mode=0600",
		"--NotebookApp.token=", "--NotebookApp.password=",
		"--NotebookApp.base_url="+Prefix(t.Name),
		"--NotebookApp.notebook_dir="+home,
		// Trainyard refuses cross-origin POST/PUT/PATCH/DELETE and
		// WebSocket upgrades before they reach Jupyter, so Jupyter's own
		// XSRF cookie check would only stand in the way of API clients.
		"--NotebookApp.disable_check_xsrf=True",
		"--NotebookApp.quit_button=False",
		// Requests come through the proxy with the browser's Host (and the
		// server's own checks with "jupyter"); only the socket reaches it.
		"--NotebookApp.allow_remote_access=True")
	sess, err := s.so.OpenSession(context.Background(), t, compute.SessionSpec{Purpose: "jupyter", Argv: argv})
	if err != nil {
		fail(err)
		return
	}
	s.session = sess
	logs := &lastLines{}
	go func() { _, _ = io.Copy(logs, sess) }()
	go func() { _, _ = io.Copy(logs, sess.Stderr()) }()
	exited := make(chan struct{})
	go func() { _, _ = sess.Wait(); close(exited); forget() }()

	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", s.sock)
		},
		MaxIdleConnsPerHost: 8,
	}
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	for deadline := time.Now().Add(90 * time.Second); ; {
		resp, err := client.Get("http://jupyter" + Prefix(t.Name) + "api/status")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-exited:
			fail(fmt.Errorf("it exited: %s", logs.String()))
			return
		default:
		}
		if time.Now().After(deadline) {
			_ = sess.Close()
			fail(fmt.Errorf("it did not answer within 90 s: %s", logs.String()))
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", "jupyter"
			// The same Host as the browser's, so Jupyter's own WebSocket
			// Origin check agrees with Trainyard's.
			pr.Out.Host = pr.In.Host
			pr.Out.Header.Del("Authorization")
			pr.Out.Header.Del("X-Forwarded-For")
			dropTrainyardCookies(pr.Out)
		},
		Transport:     tr,
		FlushInterval: -1,
		ErrorLog:      nil,
	}
	m.log.Info("jupyter started", "target", t.Name)
	s.so.Touch(t.Name, time.Now()) // opening it is activity
	close(s.ready)
	go m.watchActivity(s, client, exited)
}

// dropTrainyardCookies keeps Trainyard's session cookie from the user's
// Jupyter (whose extensions are the user's code): it is not Jupyter's.
func dropTrainyardCookies(r *http.Request) {
	cookies := r.Cookies()
	r.Header.Del("Cookie")
	for _, c := range cookies {
		if strings.Contains(c.Name, "trainyard") {
			continue
		}
		r.AddCookie(c)
	}
}

// watchActivity reads the server's last activity (its kernels' execution
// and its own requests, as Jupyter reports in /api/status) and passes it
// on as the instance's activity, until the server ends.
func (m *Manager) watchActivity(s *server, client *http.Client, exited <-chan struct{}) {
	every := m.ActivityEvery
	if every <= 0 {
		every = 30 * time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-exited:
			return
		case <-tick.C:
		}
		if at, err := lastActivity(client, s.name); err == nil {
			s.so.Touch(s.name, at)
		}
	}
}

// lastActivity asks a server when it was last active.
func lastActivity(client *http.Client, name string) (time.Time, error) {
	resp, err := client.Get("http://jupyter" + Prefix(name) + "api/status")
	if err != nil {
		return time.Time{}, err
	}
	defer resp.Body.Close()
	var st struct {
		LastActivity time.Time `json:"last_activity"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&st); err != nil {
		return time.Time{}, err
	}
	return st.LastActivity, nil
}

// Running reports whether the instance's Jupyter is running.
func (m *Manager) Running(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.servers[name]
	return ok
}

// lastLines keeps the end of a server's output for the error when it
// does not start.
type lastLines struct {
	mu  sync.Mutex
	buf []byte
}

func (l *lastLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	if len(l.buf) > 4096 {
		l.buf = l.buf[len(l.buf)-4096:]
	}
	return len(p), nil
}

func (l *lastLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return compute.LastLines(string(l.buf), 10)
}
