package compute

import (
	"context"
	"errors"
	"time"
)

// LocalTargetName is the name of the built-in target that is always listed.
const LocalTargetName = "local"

// TargetCreator is the part of storage EnsureLocalTarget needs.
type TargetCreator interface {
	GetTarget(ctx context.Context, name string) (*Target, error)
	CreateTarget(ctx context.Context, t *Target, secrets map[string]string) error
}

// EnsureLocalTarget records the built-in `local` target on first start; a
// later start finds it and leaves it alone.
func EnsureLocalTarget(ctx context.Context, s TargetCreator, now time.Time) error {
	_, err := s.GetTarget(ctx, LocalTargetName)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return err
	}
	err = s.CreateTarget(ctx, &Target{
		Name: LocalTargetName, Kind: KindLocal, Location: "local", Description: "This machine: runs use its processes directly.",
		ProvisioningState: ProvisioningSucceeded, CreatedBy: "system", CreatedAt: now, ModifiedAt: now, StateSince: now,
		LastOperation: Operation{Name: "Create", Status: "Succeeded", Trigger: "System", Time: now},
	}, nil)
	if errors.Is(err, ErrConflict) {
		return nil
	}
	return err
}
