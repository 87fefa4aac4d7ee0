package slurm

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/trainyard/trainyard/compute"
)

// SecretReader reads one sealed secret of a target (store.Store has it); a
// secret that was never set is compute.ErrNotFound.
type SecretReader interface {
	Secret(ctx context.Context, target, name string) (string, error)
}

// StoreCredentials is a Config.Credentials that opens a Slurm target's
// sealed token (compute.SecretSlurmToken) and JWT key
// (compute.SecretSlurmJWTKey). The key is stored base64, as the API and the
// form carry it; the backend gets its raw bytes. A secret that is not set
// is "".
func StoreCredentials(s SecretReader) Credentials {
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
		key, err := base64.StdEncoding.DecodeString(key64)
		if err != nil {
			return "", "", fmt.Errorf("the stored Slurm JWT key of %s is not base64: %w", target, err)
		}
		return token, string(key), nil
	}
}

// Describe implements compute.Describer: the cluster's Slurm version and
// partitions, read by the node refresher.
func (b *Backend) Describe(ctx context.Context, t *compute.Target) (string, []compute.Partition, error) {
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
