package main

import (
	"io"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/compute"
)

// TestServeAttachNetworks: --attach-networks, else TRAINYARD_ATTACH_NETWORKS,
// else loopback and the private ranges; a list that does not parse stops
// the server with the reason.
func TestServeAttachNetworks(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  string
		want string // the policy, or the error
	}{
		{nil, "", compute.DefaultAttachNetworks},
		{nil, "10.1.0.0/16, 192.168.7.0/24", "10.1.0.0/16,192.168.7.0/24"},
		{[]string{"--attach-networks", "0.0.0.0/0,::/0"}, "10.1.0.0/16", "0.0.0.0/0,::/0"},
		{[]string{"--attach-networks", "10.0.0.0/33"}, "", `--attach-networks: attach networks: "10.0.0.0/33" is not a network in CIDR notation`},
		{nil, "10.0.0.0/8,,", "--attach-networks: attach networks \"10.0.0.0/8,,\": an entry is empty"},
	} {
		env := map[string]string{"TRAINYARD_ATTACH_NETWORKS": tc.env}
		cfg, err := parseServeFlags(append([]string{"--data", t.TempDir()}, tc.args...), func(k string) string { return env[k] }, io.Discard)
		got := ""
		if err != nil {
			got = err.Error()
		} else {
			got = cfg.AttachNetworks.String()
		}
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("args %q env %q: %q, want %q", tc.args, tc.env, got, tc.want)
		}
	}
}
