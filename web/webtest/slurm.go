package webtest

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/slurm"
	"github.com/trainyard/trainyard/store"
)

// slurmBackend is the Slurm backend as `trainyard serve` wires it: each
// target's token or JWT key opened from the store (the key is kept base64,
// as the form and the API carry it; the backend gets its raw bytes), and
// the describe function the node refresher reads partitions with.
func slurmBackend(st *store.Store, opts slurm.Config) (*slurm.Backend, compute.DescribeFunc) {
	opts.Credentials = func(ctx context.Context, target string) (string, string, error) {
		open := func(name string) (string, error) {
			v, err := st.Secret(ctx, target, name)
			if errors.Is(err, compute.ErrNotFound) {
				return "", nil
			}
			return strings.TrimSpace(v), err
		}
		token, err := open(compute.SecretSlurmToken)
		if err != nil {
			return "", "", err
		}
		key64, err := open(compute.SecretSlurmJWTKey)
		if err != nil {
			return "", "", err
		}
		key, err := base64.StdEncoding.DecodeString(key64)
		if err != nil {
			return "", "", fmt.Errorf("the stored Slurm JWT key of %s is not base64: %w", target, err)
		}
		return token, string(key), nil
	}
	b := slurm.New(opts)
	describe := func(ctx context.Context, t *compute.Target) (string, []compute.Partition, error) {
		ps, err := b.Partitions(ctx, t)
		if err != nil {
			return "", nil, err
		}
		v, err := b.Version(ctx, t)
		if err != nil {
			return "", nil, err
		}
		out := make([]compute.Partition, 0, len(ps))
		for _, p := range ps {
			out = append(out, compute.Partition{Name: p.Name, State: p.State, Nodes: p.Nodes, TotalNodes: p.TotalNodes,
				TotalCPUs: p.TotalCPUs, Default: p.Default, MaxTime: p.MaxTime})
		}
		return v, out, nil
	}
	return b, describe
}
