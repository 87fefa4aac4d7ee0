package store

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// noEnv is a getenv that sees no variables, so tests never pick up the
// developer's TRAINYARD_SECRET_* settings.
func noEnv(string) string { return "" }

// MustOpen opens a Store in a fresh temporary directory, with a key file
// created there, and closes it when the test ends.
func MustOpen(tb testing.TB) *Store {
	tb.Helper()
	return mustOpenDir(tb, tb.TempDir(), nil)
}

// mustOpenDir opens a Store on dir. With keys nil, the keyring is loaded
// from dir/secret.key (created on first use).
func mustOpenDir(tb testing.TB, dir string, keys *Keyring) *Store {
	tb.Helper()
	if keys == nil {
		var err error
		if keys, err = LoadKeyring(dir, noEnv); err != nil {
			tb.Fatalf("LoadKeyring: %v", err)
		}
	}
	s, err := Open(context.Background(), dir, Options{Keyring: keys})
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// clock is a settable time source for Store.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(s *Store) *clock {
	c := &clock{t: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}
	s.Now = c.Now
	return c
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Fixtures: one target of each family.

func clusterTarget(name string) *compute.Target {
	return &compute.Target{
		Name: name, Kind: compute.KindCluster, Description: "training pool", Location: "westeurope",
		ProvisioningState: compute.ProvisioningSucceeded, CreatedBy: "alice",
		ResourceID: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w/computes/" + name,
		Cluster: &compute.ClusterSpec{
			VMSize: "Standard_DS3_v2", VMPriority: compute.Dedicated, VMType: "CPU",
			MinNodes: 0, MaxNodes: 4, IdleSecondsBeforeScaleDown: 120,
			AdminUserName: "azureuser", SSHPublicKey: "ssh-ed25519 AAAA test",
			IdentityType: "SystemAssigned", AllocationState: "Steady", TargetNodeCount: 2,
		},
	}
}

func instanceTarget(name string) *compute.Target {
	return &compute.Target{
		Name: name, Kind: compute.KindInstance, ProvisioningState: compute.ProvisioningSucceeded, CreatedBy: "bob",
		LastOperation: compute.Operation{Name: "Start", Status: "Succeeded", Trigger: "User", Time: time.Date(2025, 2, 1, 8, 0, 0, 0, time.UTC)},
		Instance: &compute.InstanceSpec{
			VMSize: "Standard_NC6s_v3", VMType: "GPU", State: compute.InstanceRunning, IdleShutdownMinutes: 60,
			Schedules:  []compute.Schedule{{Action: "Stop", Time: "19:00", TimeZone: "Europe/Stockholm", Days: []string{"Monday", "Friday"}}},
			SSHEnabled: true, SSHPublicKey: "ssh-rsa AAAA x", AdminUserName: "azureuser", AssignedUser: "bob-oid", WorkDir: "/data/ws",
		},
	}
}

func vmTarget(name string) *compute.Target {
	return &compute.Target{
		Name: name, Kind: compute.KindVirtualMachine, ProvisioningState: compute.ProvisioningFailed,
		ProvisioningErrors: []string{"ssh: handshake failed", "host unreachable"},
		Attach: &compute.AttachSpec{
			Address: "10.0.0.4", SSHPort: 22, UserName: "ubuntu", Checked: true,
			StatusMessage: "connected", HostKeyFingerprint: "SHA256:abc",
		},
	}
}

func mustCreate(tb testing.TB, s *Store, t *compute.Target, secrets map[string]string) {
	tb.Helper()
	if err := s.CreateTarget(context.Background(), t, secrets); err != nil {
		tb.Fatalf("CreateTarget(%s): %v", t.Name, err)
	}
}

// rowCount counts the rows of a table (test helper, raw SQL).
func rowCount(tb testing.TB, s *Store, table string) int {
	tb.Helper()
	var n int
	if err := s.reader.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}
