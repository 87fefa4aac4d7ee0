// Package sshd is Trainyard's embedded SSH server: one port for every
// compute instance, routing by user name (the instance's name) to a shell,
// a command or sftp in that instance's sandbox. The only key it accepts for
// an instance is the public key the instance was created with, and only
// while the instance is Running with SSH public access on.
package sshd

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"

	"github.com/trainyard/trainyard/compute"
)

// SFTPServer is OpenSSH's sftp-server, run inside the instance's sandbox
// for the sftp subsystem (and so for scp, which speaks SFTP since OpenSSH
// 9.0): file access stays as contained as the user's shell.
const SFTPServer = "/usr/lib/openssh/sftp-server"

// Config is what a Server is built with.
type Config struct {
	// Addr is where it listens (host:port; port 0 picks one).
	Addr string
	// HostKeyFile holds the server's ed25519 host key (made once, 0600).
	HostKeyFile string
	// Targets finds an instance by name.
	Targets func(ctx context.Context, name string) (*compute.Target, error)
	// Sessions is what opens sessions on a kind of target (the registry).
	Sessions func(k compute.Kind) compute.SessionOpener
	// Audit records a login, or a refused one, for the audit log.
	Audit  func(ctx context.Context, instance, remote, action string, err error)
	Logger *slog.Logger
}

// Server is the running SSH server.
type Server struct {
	cfg  Config
	srv  *ssh.Server
	ln   net.Listener
	done chan struct{}
}

// Start listens on cfg.Addr and serves until Close.
func Start(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	signer, err := hostKey(cfg.HostKeyFile)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, done: make(chan struct{})}
	s.srv = &ssh.Server{
		Version:          "Trainyard",
		HostSigners:      []ssh.Signer{signer},
		Handler:          s.session,
		PublicKeyHandler: s.allowKey,
		// No port forwarding of any kind (gliderlabs denies it unless a
		// callback allows it): an instance's user reaches the server's
		// network only from inside the sandbox, as a run does.
		SubsystemHandlers: map[string]ssh.SubsystemHandler{"sftp": s.session},
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("the SSH server cannot listen on %s: %w", cfg.Addr, err)
	}
	s.ln = ln
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, ssh.ErrServerClosed) {
			cfg.Logger.Error("ssh server", "err", err)
		}
	}()
	cfg.Logger.Info("ssh server listening", "addr", ln.Addr().String(), "host_key", gossh.FingerprintSHA256(signer.PublicKey()))
	return s, nil
}

// Addr is where the server listens.
func (s *Server) Addr() *net.TCPAddr { return s.ln.Addr().(*net.TCPAddr) }

// Close stops the server and its connections.
func (s *Server) Close() error {
	err := s.srv.Close()
	<-s.done
	return err
}

// hostKey reads the server's host key, or makes it on first start.
func hostKey(path string) (ssh.Signer, error) {
	if data, err := os.ReadFile(path); err == nil {
		return gossh.ParsePrivateKey(data)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading the SSH host key: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := gossh.MarshalPrivateKey(priv, "trainyard host key")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, fmt.Errorf("writing the SSH host key: %w", err)
	}
	return gossh.NewSignerFromKey(priv)
}

// allowKey accepts key for user (an instance's name) only if it is the
// public key the instance was created with and SSH access is on.
func (s *Server) allowKey(ctx ssh.Context, key ssh.PublicKey) bool {
	t, err := s.cfg.Targets(ctx, ctx.User())
	ok := err == nil && t.Kind == compute.KindInstance && t.Instance != nil && t.Instance.SSHEnabled && keyMatches(t.Instance.SSHPublicKey, key)
	if !ok {
		s.cfg.Audit(ctx, ctx.User(), remoteHost(ctx.RemoteAddr()), "ssh login", &compute.CodedError{Kind: compute.ErrForbidden, Code: "AuthorizationFailed",
			Message: "The key offered is not this compute instance's SSH key (or SSH access is off)."})
	}
	return ok
}

// keyMatches compares an instance's stored authorized_keys line with key.
func keyMatches(stored string, key ssh.PublicKey) bool {
	want, _, _, _, err := gossh.ParseAuthorizedKey([]byte(strings.TrimSpace(stored)))
	return err == nil && bytes.Equal(want.Marshal(), key.Marshal())
}

// session runs one SSH session: a login shell (with a terminal or
// without), a command, or sftp, in the instance's sandbox.
func (s *Server) session(sess ssh.Session) {
	name := sess.User()
	remote := remoteHost(sess.RemoteAddr())
	t, err := s.cfg.Targets(sess.Context(), name)
	if err == nil && t.Instance.State != compute.InstanceRunning && t.Instance.State != compute.InstanceJobRunning {
		err = compute.Conflictf("ComputeInstanceNotRunning", "state", "Compute instance %s is %s; start it to connect.", name, t.Instance.State)
	}
	var so compute.SessionOpener
	if err == nil {
		if so = s.cfg.Sessions(t.Kind); so == nil {
			err = fmt.Errorf("compute instance %s cannot be reached over SSH on this server: %w", name, compute.ErrInvalid)
		}
	}
	if err != nil {
		s.cfg.Audit(sess.Context(), name, remote, "ssh login", err)
		fmt.Fprintln(sess.Stderr(), err.Error())
		_ = sess.Exit(1)
		return
	}
	spec := compute.SessionSpec{Purpose: "ssh", KeepsAwake: true, Env: map[string]string{}}
	ptyReq, winCh, isPty := sess.Pty()
	switch {
	case sess.Subsystem() == "sftp":
		spec.Purpose, spec.Argv = "sftp", []string{SFTPServer}
	case sess.Subsystem() != "":
		fmt.Fprintf(sess.Stderr(), "unknown subsystem %q\n", sess.Subsystem())
		_ = sess.Exit(1)
		return
	case sess.RawCommand() != "":
		// The user's own command, run by their shell inside their sandbox,
		// exactly as sshd runs `$SHELL -c command`.
		spec.Argv = []string{"/bin/bash", "-c", sess.RawCommand()}
	}
	if isPty {
		spec.TTY = &compute.TTYSize{Rows: uint16(ptyReq.Window.Height), Cols: uint16(ptyReq.Window.Width)}
		spec.Env["TERM"] = ptyReq.Term
	}
	open, err := so.OpenSession(sess.Context(), t, spec)
	s.cfg.Audit(sess.Context(), name, remote, "ssh "+spec.Purpose, err)
	if err != nil {
		fmt.Fprintln(sess.Stderr(), err.Error())
		_ = sess.Exit(1)
		return
	}
	defer open.Close()
	if isPty {
		go func() {
			for w := range winCh {
				_ = open.Resize(compute.TTYSize{Rows: uint16(w.Height), Cols: uint16(w.Width)})
			}
		}()
	}
	var out sync.WaitGroup
	out.Go(func() { _, _ = io.Copy(sess, open) })
	if e := open.Stderr(); e != nil {
		out.Go(func() { _, _ = io.Copy(sess.Stderr(), e) })
	}
	go func() {
		_, _ = io.Copy(open, sess)
		_ = open.CloseInput()
	}()
	// The client closing the channel ends the session's processes.
	go func() {
		<-sess.Context().Done()
		_ = open.Close()
	}()
	code, _ := open.Wait()
	// What the program wrote before it exited is still on its way; a
	// process it left in the background could hold the output open for
	// ever, so it gets a moment, then the session ends with everything in it.
	copied := make(chan struct{})
	go func() { out.Wait(); close(copied) }()
	select {
	case <-copied:
	case <-time.After(2 * time.Second):
		_ = open.Close()
		<-copied
	}
	_ = sess.Exit(code)
}

func remoteHost(a net.Addr) string {
	if a == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}
