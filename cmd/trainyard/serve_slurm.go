package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/slurm"
)

// newSlurm is the backend of attached Slurm clusters, which reads each
// cluster's token or JWT key from the store when it needs them, and the
// reader of their versions and partitions.
func newSlurm(s secretReader, log *slog.Logger) (compute.Backend, compute.DescribeFunc) {
	b := slurm.New(slurm.Config{Credentials: slurmCredentials(s), Logger: log})
	return b, slurmDescribe(b)
}

// slurmCredentials opens a Slurm target's sealed token
// (compute.SecretSlurmToken) and JWT key (compute.SecretSlurmJWTKey). The
// key is stored base64, as the API and the form carry it; the backend gets
// its raw bytes. A secret that is not set is "".
func slurmCredentials(s secretReader) slurm.Credentials {
	return func(ctx context.Context, target string) (string, string, error) {
		open := func(name string) (string, error) {
			v, err := s.Secret(ctx, target, name)
			if errors.Is(err, compute.ErrNotFound) {
				return "", nil
			}
			return strings.TrimSpace(v), err
		}
		token, err := open(compute.SecretSlurmToken)
		if err != nil {
			return "", "", fmt.Errorf("opening the Slurm token of %s: %w", target, err)
		}
		key64, err := open(compute.SecretSlurmJWTKey)
		if err != nil {
			return "", "", fmt.Errorf("opening the Slurm JWT key of %s: %w", target, err)
		}
		var key []byte
		if key64 != "" {
			if key, err = base64.StdEncoding.DecodeString(key64); err != nil {
				return "", "", fmt.Errorf("the stored Slurm JWT key of %s is not base64: %w", target, err)
			}
		}
		return token, string(key), nil
	}
}

// slurmDescribe reads a Slurm cluster's version and partitions for the node
// refresher.
func slurmDescribe(b *slurm.Backend) compute.DescribeFunc {
	return func(ctx context.Context, t *compute.Target) (string, []compute.Partition, error) {
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
}
