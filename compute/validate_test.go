package compute

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

const (
	testRSAPublicKey = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 alice@laptop"
	testPEMPublicKey = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo\n-----END PUBLIC KEY-----\n"
	testPrivateKey   = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n"
	testRSAPrivate   = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n-----END RSA PRIVATE KEY-----"
	onBehalfSSHError = "Setting SSH key at creation time is not allowed when compute instance is provisioned on behalf of another user. Choose to set up an SSH key later."
)

// validateCase is one request, the fields Validate must complain about
// (exactly those, in any order), words each complaint must contain, and a
// check of what Validate canonicalised.
type validateCase struct {
	name   string
	req    func() *CreateRequest
	fields []string          // nil = valid
	msgs   map[string]string // field → substring of its first message
	check  func(t *testing.T, r *CreateRequest)
}

func runValidateCases(t *testing.T, cases []validateCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.req()
			err := r.Validate()
			got := fieldNames(t, err)
			if !slices.Equal(got, sortedUnique(tc.fields)) {
				t.Fatalf("Validate() fields = %q, want %q (error: %v)", got, sortedUnique(tc.fields), err)
			}
			var v *ValidationError
			errors.As(err, &v)
			for field, want := range tc.msgs {
				if msg := v.For(field); !strings.Contains(msg, want) {
					t.Errorf("message for %s = %q, want it to contain %q", field, msg, want)
				}
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

// fieldNames returns the sorted distinct fields of a validation error, after
// checking the error is one a handler maps to 400 (errors.Is ErrInvalid).
func fieldNames(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("Validate() = %v, which does not match ErrInvalid", err)
	}
	var v *ValidationError
	if !errors.As(err, &v) {
		t.Fatalf("Validate() = %T %v, want a *ValidationError", err, err)
	}
	var out []string
	for _, f := range v.Fields {
		if f.Message == "" {
			t.Errorf("field %s has an empty message", f.Field)
		}
		out = append(out, f.Field)
	}
	return sortedUnique(out)
}

func sortedUnique(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

func clusterReq(mod func(c *CreateRequest)) func() *CreateRequest {
	return func() *CreateRequest {
		r := &CreateRequest{
			Name: "cpu-cluster", Kind: KindCluster,
			Cluster: &ClusterSpec{VMSize: "Standard_DS3_v2", MaxNodes: 4, IdleSecondsBeforeScaleDown: 120},
		}
		if mod != nil {
			mod(r)
		}
		return r
	}
}

func TestValidateCluster(t *testing.T) {
	runValidateCases(t, []validateCase{
		{name: "defaults of the wizard", req: clusterReq(nil), check: func(t *testing.T, r *CreateRequest) {
			c := r.Cluster
			if c.VMPriority != Dedicated || c.VMType != "CPU" || c.VMSize != "Standard_DS3_v2" {
				t.Errorf("cluster = priority %q type %q size %q, want Dedicated CPU Standard_DS3_v2", c.VMPriority, c.VMType, c.VMSize)
			}
		}},
		{name: "size spelling is canonicalised", req: clusterReq(func(r *CreateRequest) { r.Cluster.VMSize = "STANDARD_D2_V2" }),
			check: func(t *testing.T, r *CreateRequest) {
				if r.Cluster.VMSize != "Standard_D2_v2" {
					t.Errorf("VMSize = %q, want Standard_D2_v2", r.Cluster.VMSize)
				}
			}},
		{name: "lowpriority", req: clusterReq(func(r *CreateRequest) { r.Cluster.VMPriority = "lowpriority" }),
			check: func(t *testing.T, r *CreateRequest) {
				if r.Cluster.VMPriority != LowPriority {
					t.Errorf("VMPriority = %q, want LowPriority", r.Cluster.VMPriority)
				}
			}},
		{name: "Low priority as the wizard labels it", req: clusterReq(func(r *CreateRequest) { r.Cluster.VMPriority = "Low priority" }),
			check: func(t *testing.T, r *CreateRequest) {
				if r.Cluster.VMPriority != LowPriority {
					t.Errorf("VMPriority = %q, want LowPriority", r.Cluster.VMPriority)
				}
			}},
		{name: "dedicated", req: clusterReq(func(r *CreateRequest) { r.Cluster.VMPriority = "DEDICATED" }),
			check: func(t *testing.T, r *CreateRequest) {
				if r.Cluster.VMPriority != Dedicated {
					t.Errorf("VMPriority = %q, want Dedicated", r.Cluster.VMPriority)
				}
			}},
		{name: "spot is not a tier", req: clusterReq(func(r *CreateRequest) { r.Cluster.VMPriority = "Spot" }),
			fields: []string{FieldVMPriority}, msgs: map[string]string{FieldVMPriority: `Choose Dedicated or LowPriority (got "Spot").`}},
		{name: "min greater than max", req: clusterReq(func(r *CreateRequest) { r.Cluster.MinNodes, r.Cluster.MaxNodes = 5, 4 }),
			fields: []string{FieldMinNodes}, msgs: map[string]string{FieldMinNodes: "The minimum number of nodes (5) cannot be more than the maximum (4)."}},
		{name: "min equal to max", req: clusterReq(func(r *CreateRequest) { r.Cluster.MinNodes, r.Cluster.MaxNodes = 4, 4 })},
		{name: "negative min", req: clusterReq(func(r *CreateRequest) { r.Cluster.MinNodes = -1 }),
			fields: []string{FieldMinNodes}, msgs: map[string]string{FieldMinNodes: "cannot be negative"}},
		{name: "max 0", req: clusterReq(func(r *CreateRequest) { r.Cluster.MaxNodes = 0 }),
			fields: []string{FieldMaxNodes}, msgs: map[string]string{FieldMaxNodes: "The maximum number of nodes must be at least 1."}},
		{name: "max 100", req: clusterReq(func(r *CreateRequest) { r.Cluster.MaxNodes = 100 })},
		{name: "max 101", req: clusterReq(func(r *CreateRequest) { r.Cluster.MaxNodes = 101 }),
			fields: []string{FieldMaxNodes}, msgs: map[string]string{FieldMaxNodes: "The maximum number of nodes is 100 per cluster."}},
		{name: "idle 10 s", req: clusterReq(func(r *CreateRequest) { r.Cluster.IdleSecondsBeforeScaleDown = 10 }),
			fields: []string{FieldIdleSeconds}, msgs: map[string]string{FieldIdleSeconds: "Idle seconds before scale down must be between 30 and 604800."}},
		{name: "idle 30 s", req: clusterReq(func(r *CreateRequest) { r.Cluster.IdleSecondsBeforeScaleDown = 30 })},
		{name: "idle one week", req: clusterReq(func(r *CreateRequest) { r.Cluster.IdleSecondsBeforeScaleDown = 7 * 24 * 3600 })},
		{name: "idle one week and a second", req: clusterReq(func(r *CreateRequest) { r.Cluster.IdleSecondsBeforeScaleDown = 7*24*3600 + 1 }),
			fields: []string{FieldIdleSeconds}},
		{name: "GPU type with a CPU size", req: clusterReq(func(r *CreateRequest) { r.Cluster.VMType, r.Cluster.VMSize = "GPU", "Standard_D2_v2" }),
			fields: []string{FieldVMSize}, msgs: map[string]string{FieldVMSize: "Standard_D2_v2 has no GPU; pick a GPU size or choose CPU."}},
		{name: "CPU type with a GPU size", req: clusterReq(func(r *CreateRequest) { r.Cluster.VMType, r.Cluster.VMSize = "cpu", "standard_nc6s_v3" }),
			fields: []string{FieldVMSize}, msgs: map[string]string{FieldVMSize: "Standard_NC6s_v3 is a GPU size; pick a CPU size or choose GPU."}},
		{name: "GPU size without a type is GPU", req: clusterReq(func(r *CreateRequest) { r.Cluster.VMSize = "Standard_NC4as_T4_v3" }),
			check: func(t *testing.T, r *CreateRequest) {
				if r.Cluster.VMType != "GPU" {
					t.Errorf("VMType = %q, want GPU for a T4 size", r.Cluster.VMType)
				}
			}},
		{name: "unknown VM type", req: clusterReq(func(r *CreateRequest) { r.Cluster.VMType = "TPU" }),
			fields: []string{FieldVMType}, msgs: map[string]string{FieldVMType: "Choose CPU or GPU."}},
		{name: "unsupported size in Azure's words", req: clusterReq(func(r *CreateRequest) { r.Cluster.VMSize = "Standard_B2s" }),
			fields: []string{FieldVMSize}, msgs: map[string]string{FieldVMSize: "InvalidPropertyValue: The specified value Standard_B2s for property VMSize is not a supported VM size."}},
		{name: "no size", req: clusterReq(func(r *CreateRequest) { r.Cluster.VMSize = "" }),
			fields: []string{FieldVMSize}, msgs: map[string]string{FieldVMSize: "Choose a virtual machine size."}},
		{name: "admin user without password or key", req: clusterReq(func(r *CreateRequest) { r.Cluster.AdminUserName = "azureuser" }),
			fields: []string{FieldAdminPassword}, msgs: map[string]string{FieldAdminPassword: "SSH access needs a password or an SSH public key for azureuser."}},
		{name: "admin user with password", req: clusterReq(func(r *CreateRequest) {
			r.Cluster.AdminUserName = "azureuser"
			r.Secrets = map[string]string{SecretAdminPassword: "s3cret!Pass"}
		})},
		{name: "admin user with public key", req: clusterReq(func(r *CreateRequest) {
			r.Cluster.AdminUserName, r.Cluster.SSHPublicKey = "azureuser", testRSAPublicKey
		})},
		{name: "admin user with PEM public key", req: clusterReq(func(r *CreateRequest) {
			r.Cluster.AdminUserName, r.Cluster.SSHPublicKey = "azureuser", testPEMPublicKey
		})},
		{name: "password without admin user", req: clusterReq(func(r *CreateRequest) {
			r.Secrets = map[string]string{SecretAdminPassword: "s3cret!Pass"}
		}), fields: []string{FieldAdminUser}, msgs: map[string]string{FieldAdminUser: "Enter the admin user name"}},
		{name: "private key pasted as public key", req: clusterReq(func(r *CreateRequest) {
			r.Cluster.AdminUserName, r.Cluster.SSHPublicKey = "azureuser", testPrivateKey
		}), fields: []string{FieldSSHPublicKey}, msgs: map[string]string{FieldSSHPublicKey: "This is a private key. Paste the public key (ssh-rsa …), never the private one."}},
		{name: "RSA private key pasted as public key", req: clusterReq(func(r *CreateRequest) {
			r.Cluster.AdminUserName, r.Cluster.SSHPublicKey = "azureuser", testRSAPrivate
		}), fields: []string{FieldSSHPublicKey}, msgs: map[string]string{FieldSSHPublicKey: "This is a private key."}},
		{name: "unknown key type", req: clusterReq(func(r *CreateRequest) {
			r.Cluster.AdminUserName, r.Cluster.SSHPublicKey = "azureuser", "ssh-dss AAAAB3 bob@host"
		}), fields: []string{FieldSSHPublicKey}, msgs: map[string]string{FieldSSHPublicKey: `Unknown key type "ssh-dss"`}},
		{name: "key without a body", req: clusterReq(func(r *CreateRequest) {
			r.Cluster.AdminUserName, r.Cluster.SSHPublicKey = "azureuser", "ssh-rsa"
		}), fields: []string{FieldSSHPublicKey}, msgs: map[string]string{FieldSSHPublicKey: "Enter a single-line public key"}},
		{name: "system-assigned identity", req: clusterReq(func(r *CreateRequest) { r.Cluster.IdentityType = "SystemAssigned" })},
		{name: "no identity spelled None", req: clusterReq(func(r *CreateRequest) { r.Cluster.IdentityType = "None" }),
			check: func(t *testing.T, r *CreateRequest) {
				if r.Cluster.IdentityType != "" {
					t.Errorf("IdentityType = %q, want it cleared", r.Cluster.IdentityType)
				}
			}},
		{name: "user-assigned identity without its ID", req: clusterReq(func(r *CreateRequest) { r.Cluster.IdentityType = "UserAssigned" }),
			fields: []string{FieldUserIdentity}},
		{name: "system and user assigned together", req: clusterReq(func(r *CreateRequest) { r.Cluster.IdentityType = "SystemAssigned,UserAssigned" }),
			fields: []string{FieldIdentity}, msgs: map[string]string{FieldIdentity: "Choose None, SystemAssigned or UserAssigned."}},
		{name: "bad name", req: clusterReq(func(r *CreateRequest) { r.Name = "1cluster" }),
			fields: []string{FieldName}, msgs: map[string]string{FieldName: "The name must start with a letter."}},
		{name: "every broken rule at once", req: clusterReq(func(r *CreateRequest) {
			r.Name = ""
			r.Cluster = &ClusterSpec{VMSize: "Standard_Z9", VMPriority: "cheap", MinNodes: -2}
		}), fields: []string{FieldName, FieldVMSize, FieldVMPriority, FieldMinNodes, FieldMaxNodes, FieldIdleSeconds}},
		{name: "no cluster settings at all", req: func() *CreateRequest { return &CreateRequest{Name: "cpu-cluster", Kind: KindCluster} },
			fields: []string{FieldVMSize, FieldMaxNodes, FieldIdleSeconds}},
	})
}

func instanceReq(mod func(r *CreateRequest)) func() *CreateRequest {
	return func() *CreateRequest {
		r := &CreateRequest{Name: "ci-alice", Kind: KindInstance, Instance: &InstanceSpec{VMSize: "Standard_DS3_v2"}}
		if mod != nil {
			mod(r)
		}
		return r
	}
}

func schedule(action, at, tz string, days ...string) Schedule {
	return Schedule{Action: action, Time: at, TimeZone: tz, Days: days}
}

func TestValidateInstance(t *testing.T) {
	weekday := schedule("Stop", "18:00", "UTC", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
	runValidateCases(t, []validateCase{
		{name: "required fields only", req: instanceReq(nil), check: func(t *testing.T, r *CreateRequest) {
			if r.Instance.AdminUserName != "azureuser" {
				t.Errorf("AdminUserName = %q, want the default azureuser", r.Instance.AdminUserName)
			}
			if r.Instance.VMType != "" && r.Instance.VMType != "CPU" {
				t.Errorf("VMType = %q for a CPU size", r.Instance.VMType)
			}
		}},
		{name: "size spelling is canonicalised", req: instanceReq(func(r *CreateRequest) { r.Instance.VMSize = "standard_ds11_V2" }),
			check: func(t *testing.T, r *CreateRequest) {
				if r.Instance.VMSize != "Standard_DS11_v2" {
					t.Errorf("VMSize = %q, want Standard_DS11_v2", r.Instance.VMSize)
				}
			}},
		{name: "GPU type with a CPU size", req: instanceReq(func(r *CreateRequest) { r.Instance.VMType = "GPU" }),
			fields: []string{FieldVMSize}, msgs: map[string]string{FieldVMSize: "has no GPU"}},
		{name: "idle shutdown 10 min", req: instanceReq(func(r *CreateRequest) { r.Instance.IdleShutdownMinutes = 10 }),
			fields: []string{FieldIdleShutdown}, msgs: map[string]string{FieldIdleShutdown: "Idle shutdown must be between 15 minutes and 3 days (4320 minutes)."}},
		{name: "idle shutdown 14 min", req: instanceReq(func(r *CreateRequest) { r.Instance.IdleShutdownMinutes = 14 }),
			fields: []string{FieldIdleShutdown}},
		{name: "idle shutdown 15 min", req: instanceReq(func(r *CreateRequest) { r.Instance.IdleShutdownMinutes = 15 })},
		{name: "idle shutdown 3 days", req: instanceReq(func(r *CreateRequest) { r.Instance.IdleShutdownMinutes = 4320 })},
		{name: "idle shutdown 4321 min", req: instanceReq(func(r *CreateRequest) { r.Instance.IdleShutdownMinutes = 4321 }),
			fields: []string{FieldIdleShutdown}},
		{name: "idle shutdown negative", req: instanceReq(func(r *CreateRequest) { r.Instance.IdleShutdownMinutes = -15 }),
			fields: []string{FieldIdleShutdown}},
		{name: "four schedules", req: instanceReq(func(r *CreateRequest) {
			r.Instance.Schedules = []Schedule{weekday, weekday, weekday, schedule("Start", "08:30", "Europe/Stockholm", "Monday")}
		})},
		{name: "five schedules", req: instanceReq(func(r *CreateRequest) {
			r.Instance.Schedules = []Schedule{weekday, weekday, weekday, weekday, weekday}
		}), fields: []string{FieldSchedules}, msgs: map[string]string{FieldSchedules: "A compute instance can have at most 4 schedules."}},
		{name: "schedule time 25:00", req: instanceReq(func(r *CreateRequest) {
			r.Instance.Schedules = []Schedule{weekday, schedule("Start", "25:00", "UTC", "Monday")}
		}), fields: []string{FieldSchedules}, msgs: map[string]string{FieldSchedules: `Schedule 2: time "25:00" is not HH:MM`}},
		{name: "schedule time with AM/PM", req: instanceReq(func(r *CreateRequest) {
			r.Instance.Schedules = []Schedule{schedule("Start", "8:00 AM", "UTC", "Monday")}
		}), fields: []string{FieldSchedules}, msgs: map[string]string{FieldSchedules: `Schedule 1: time "8:00 AM" is not HH:MM`}},
		{name: "schedule time empty", req: instanceReq(func(r *CreateRequest) {
			r.Instance.Schedules = []Schedule{schedule("Start", "", "UTC", "Monday")}
		}), fields: []string{FieldSchedules}},
		{name: "schedule zone unknown", req: instanceReq(func(r *CreateRequest) {
			r.Instance.Schedules = []Schedule{schedule("Stop", "18:00", "Mars/Olympus_Mons", "Friday")}
		}), fields: []string{FieldSchedules}, msgs: map[string]string{FieldSchedules: `Schedule 1: unknown time zone "Mars/Olympus_Mons"`}},
		{name: "schedule zone Pacific", req: instanceReq(func(r *CreateRequest) {
			r.Instance.Schedules = []Schedule{schedule("Stop", "23:59", "America/Los_Angeles", "Sunday")}
		})},
		{name: "schedule day misspelt", req: instanceReq(func(r *CreateRequest) {
			r.Instance.Schedules = []Schedule{schedule("Stop", "18:00", "UTC", "Monday", "Funday")}
		}), fields: []string{FieldSchedules}, msgs: map[string]string{FieldSchedules: `Schedule 1: "Funday" is not a weekday`}},
		{name: "schedule without days", req: instanceReq(func(r *CreateRequest) {
			r.Instance.Schedules = []Schedule{schedule("Stop", "18:00", "UTC")}
		}), fields: []string{FieldSchedules}, msgs: map[string]string{FieldSchedules: "Schedule 1: pick at least one day"}},
		{name: "schedule action neither start nor stop", req: instanceReq(func(r *CreateRequest) {
			r.Instance.Schedules = []Schedule{schedule("Restart", "18:00", "UTC", "Monday")}
		}), fields: []string{FieldSchedules}, msgs: map[string]string{FieldSchedules: "Schedule 1: the action must be Start or Stop"}},
		{name: "on behalf of another user with an SSH key", req: instanceReq(func(r *CreateRequest) {
			r.Instance.SSHEnabled, r.Instance.AssignedUser, r.Instance.SSHPublicKey = true, "bob-object-id", testRSAPublicKey
		}), fields: []string{FieldSSHPublicKey}, msgs: map[string]string{FieldSSHPublicKey: onBehalfSSHError}},
		{name: "on behalf of another user, SSH key set up later", req: instanceReq(func(r *CreateRequest) {
			r.Instance.SSHEnabled, r.Instance.AssignedUser = true, "bob-object-id"
		})},
		{name: "own instance with an SSH key", req: instanceReq(func(r *CreateRequest) {
			r.Instance.SSHEnabled, r.Instance.SSHPublicKey = true, testRSAPublicKey
		})},
		{name: "own instance with a private key as SSH key", req: instanceReq(func(r *CreateRequest) {
			r.Instance.SSHEnabled, r.Instance.SSHPublicKey = true, testPrivateKey
		}), fields: []string{FieldSSHPublicKey}, msgs: map[string]string{FieldSSHPublicKey: "This is a private key."}},
		{name: "two-line OpenSSH key", req: instanceReq(func(r *CreateRequest) {
			r.Instance.SSHEnabled, r.Instance.SSHPublicKey = true, "ssh-ed25519 AAAAC3Nz\nalice@laptop"
		}), fields: []string{FieldSSHPublicKey}, msgs: map[string]string{FieldSSHPublicKey: "Enter a single-line public key"}},
		{name: "admin user kept", req: instanceReq(func(r *CreateRequest) { r.Instance.AdminUserName = "alice" }),
			check: func(t *testing.T, r *CreateRequest) {
				if r.Instance.AdminUserName != "alice" {
					t.Errorf("AdminUserName = %q, want alice", r.Instance.AdminUserName)
				}
			}},
		{name: "no instance settings", req: func() *CreateRequest { return &CreateRequest{Name: "ci-alice", Kind: KindInstance} },
			fields: []string{FieldVMSize}},
	})
}

func attachReq(kind Kind, mod func(r *CreateRequest)) func() *CreateRequest {
	return func() *CreateRequest {
		r := &CreateRequest{Name: "attached-box", Kind: kind, Attach: &AttachSpec{}, Secrets: map[string]string{}}
		switch kind {
		case KindVirtualMachine, KindHDInsight:
			r.Attach.Address, r.Attach.UserName = "gpu-box.example.com", "azureuser"
			r.Secrets[SecretPassword] = "pa55word"
		case KindDatabricks:
			r.Attach.Workspace, r.Attach.ResourceGroup = "dbx-ws", "rg-ml"
			r.Secrets[SecretAccessToken] = "dapi0123456789abcdef"
		case KindDataLakeAnalytics, KindBatch:
			r.Attach.ResourceGroup, r.Attach.AccountName = "rg-ml", "acct01"
		case KindSlurm:
			r.Attach.RESTURL, r.Attach.SlurmUser = "http://slurm-head:6820", "alice"
			r.Secrets[SecretSlurmToken] = "eyJhbGciOi.x.y"
		}
		if mod != nil {
			mod(r)
		}
		return r
	}
}

// slurmKey32 is a 32-byte JWT key, base64 as the API carries it.
const slurmKey32 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

const (
	vmID  = "/subscriptions/" + subA + "/resourceGroups/rg-ml/providers/Microsoft.Compute/virtualMachines/gpu-vm1"
	hdiID = "/subscriptions/" + subA + "/resourceGroups/rg-hdi/providers/Microsoft.HDInsight/clusters/spark1"
)

func TestValidateAttachVM(t *testing.T) {
	vm := func(mod func(r *CreateRequest)) func() *CreateRequest { return attachReq(KindVirtualMachine, mod) }
	runValidateCases(t, []validateCase{
		{name: "address, user, password", req: vm(nil), check: func(t *testing.T, r *CreateRequest) {
			if r.Attach.SSHPort != 22 {
				t.Errorf("SSHPort = %d, want the default 22", r.Attach.SSHPort)
			}
		}},
		{name: "IPv4 address", req: vm(func(r *CreateRequest) { r.Attach.Address = "10.0.0.4" })},
		{name: "IPv6 address", req: vm(func(r *CreateRequest) { r.Attach.Address = "2001:db8::4" })},
		{name: "address with a scheme", req: vm(func(r *CreateRequest) { r.Attach.Address = "ssh://gpu-box" }),
			fields: []string{FieldAddress}, msgs: map[string]string{FieldAddress: `"ssh://gpu-box" is not a host name or IP address.`}},
		{name: "address with a space", req: vm(func(r *CreateRequest) { r.Attach.Address = "gpu box" }),
			fields: []string{FieldAddress}},
		{name: "address with a leading hyphen", req: vm(func(r *CreateRequest) { r.Attach.Address = "-box.example.com" }),
			fields: []string{FieldAddress}},
		{name: "neither address nor resource ID", req: vm(func(r *CreateRequest) { r.Attach.Address = "" }),
			fields: []string{FieldAddress}, msgs: map[string]string{FieldAddress: "Enter the machine's address (host name or IP) or its resource ID."}},
		{name: "resource ID only: a VM's IP cannot be looked up", req: vm(func(r *CreateRequest) { r.Attach.Address, r.ResourceID = "", vmID }),
			fields: []string{FieldAddress}, msgs: map[string]string{FieldAddress: "cannot look up a VM's public IP from its resource ID"}},
		{name: "resource ID and address; ID canonicalised", req: vm(func(r *CreateRequest) {
			r.ResourceID = "  " + strings.ToLower(vmID) + "/ "
		}), check: func(t *testing.T, r *CreateRequest) {
			want := "/subscriptions/" + subA + "/resourceGroups/rg-ml/providers/Microsoft.Compute/virtualMachines/gpu-vm1"
			if r.ResourceID != want {
				t.Errorf("ResourceID = %q, want %q", r.ResourceID, want)
			}
			if r.Attach.Address != "gpu-box.example.com" {
				t.Errorf("Address = %q, want the one given", r.Attach.Address)
			}
		}},
		{name: "HDInsight ID for a VM", req: vm(func(r *CreateRequest) { r.ResourceID = hdiID }),
			fields: []string{FieldResourceID}, msgs: map[string]string{FieldResourceID: `provider is "Microsoft.HDInsight", not Microsoft.Compute; expected /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Compute/virtualMachines/<vm>`},
			check: func(t *testing.T, r *CreateRequest) {
				var v *ValidationError
				errors.As(r.Validate(), &v)
				if msg := v.For(FieldResourceID); strings.HasSuffix(msg, ErrInvalid.Error()) {
					t.Errorf("resource ID message %q ends in the internal %q", msg, ErrInvalid.Error())
				}
			}},
		{name: "non-GUID subscription", req: vm(func(r *CreateRequest) {
			r.ResourceID = strings.Replace(vmID, subA, "my-sub", 1)
		}), fields: []string{FieldResourceID}, msgs: map[string]string{FieldResourceID: `subscription "my-sub" is not a GUID`}},
		{name: "SSH port 2222", req: vm(func(r *CreateRequest) { r.Attach.SSHPort = 2222 })},
		{name: "SSH port 65535", req: vm(func(r *CreateRequest) { r.Attach.SSHPort = 65535 })},
		{name: "SSH port 65536", req: vm(func(r *CreateRequest) { r.Attach.SSHPort = 65536 }),
			fields: []string{FieldSSHPort}, msgs: map[string]string{FieldSSHPort: "The SSH port must be between 1 and 65535."}},
		{name: "SSH port -1", req: vm(func(r *CreateRequest) { r.Attach.SSHPort = -1 }), fields: []string{FieldSSHPort}},
		{name: "no user name", req: vm(func(r *CreateRequest) { r.Attach.UserName = "" }),
			fields: []string{FieldUserName}, msgs: map[string]string{FieldUserName: "Enter the SSH user name"}},
		{name: "user name starting with a digit", req: vm(func(r *CreateRequest) { r.Attach.UserName = "1admin" }), fields: []string{FieldUserName}},
		{name: "user name with a space", req: vm(func(r *CreateRequest) { r.Attach.UserName = "az user" }), fields: []string{FieldUserName}},
		{name: "user name 33 characters", req: vm(func(r *CreateRequest) { r.Attach.UserName = "a" + strings.Repeat("b", 32) }), fields: []string{FieldUserName}},
		{name: "user name with dot, dash, underscore", req: vm(func(r *CreateRequest) { r.Attach.UserName = "_svc.ml-runner" })},
		{name: "neither password nor key", req: vm(func(r *CreateRequest) { r.Secrets = nil }),
			fields: []string{FieldPassword}, msgs: map[string]string{FieldPassword: "Enter a password or a private key."}},
		{name: "private key instead of password", req: vm(func(r *CreateRequest) {
			r.Secrets = map[string]string{SecretPrivateKey: testPrivateKey, SecretPassphrase: "phrase"}
		})},
		{name: "public key pasted as private key", req: vm(func(r *CreateRequest) {
			r.Secrets = map[string]string{SecretPrivateKey: testRSAPublicKey}
		}), fields: []string{FieldPrivateKey}, msgs: map[string]string{FieldPrivateKey: "The private key must be a PEM or OpenSSH private key"}},
	})
}

func TestValidateAttachHDInsight(t *testing.T) {
	hdi := func(mod func(r *CreateRequest)) func() *CreateRequest { return attachReq(KindHDInsight, mod) }
	runValidateCases(t, []validateCase{
		{name: "resource ID only: Studio's default SSH host", req: hdi(func(r *CreateRequest) { r.Attach.Address, r.ResourceID = "", hdiID }),
			check: func(t *testing.T, r *CreateRequest) {
				if r.Attach.Address != "spark1-ssh.azurehdinsight.net" {
					t.Errorf("Address = %q, want spark1-ssh.azurehdinsight.net", r.Attach.Address)
				}
				if r.Attach.SSHPort != 22 {
					t.Errorf("SSHPort = %d, want 22", r.Attach.SSHPort)
				}
			}},
		{name: "lower-case resource ID canonicalised", req: hdi(func(r *CreateRequest) { r.Attach.Address, r.ResourceID = "", strings.ToLower(hdiID) }),
			check: func(t *testing.T, r *CreateRequest) {
				if r.ResourceID != hdiID {
					t.Errorf("ResourceID = %q, want %q", r.ResourceID, hdiID)
				}
				if r.Attach.Address != "spark1-ssh.azurehdinsight.net" {
					t.Errorf("Address = %q", r.Attach.Address)
				}
			}},
		{name: "explicit address wins over the default", req: hdi(func(r *CreateRequest) { r.Attach.Address, r.ResourceID = "headnode.internal", hdiID }),
			check: func(t *testing.T, r *CreateRequest) {
				if r.Attach.Address != "headnode.internal" {
					t.Errorf("Address = %q, want headnode.internal", r.Attach.Address)
				}
			}},
		{name: "address only", req: hdi(nil)},
		{name: "VM ID for HDInsight", req: hdi(func(r *CreateRequest) { r.Attach.Address, r.ResourceID = "", vmID }),
			fields: []string{FieldResourceID}, msgs: map[string]string{FieldResourceID: `provider is "Microsoft.Compute", not Microsoft.HDInsight`},
			check: func(t *testing.T, r *CreateRequest) {
				if r.Attach.Address != "" {
					t.Errorf("Address = %q; a rejected ID must not invent an address", r.Attach.Address)
				}
			}},
		{name: "neither address nor ID", req: hdi(func(r *CreateRequest) { r.Attach.Address = "" }), fields: []string{FieldAddress}},
		{name: "port 0 means 22", req: hdi(func(r *CreateRequest) { r.Attach.SSHPort = 0 })},
		{name: "port 70000", req: hdi(func(r *CreateRequest) { r.Attach.SSHPort = 70000 }), fields: []string{FieldSSHPort}},
		{name: "no credentials and no user", req: hdi(func(r *CreateRequest) { r.Secrets, r.Attach.UserName = nil, "" }),
			fields: []string{FieldPassword, FieldUserName}},
	})
}

func TestValidateAttachOthers(t *testing.T) {
	runValidateCases(t, []validateCase{
		{name: "Databricks", req: attachReq(KindDatabricks, nil)},
		{name: "Databricks without workspace", req: attachReq(KindDatabricks, func(r *CreateRequest) { r.Attach.Workspace = " " }),
			fields: []string{FieldWorkspace}, msgs: map[string]string{FieldWorkspace: "Enter the Databricks workspace name."}},
		{name: "Databricks without resource group", req: attachReq(KindDatabricks, func(r *CreateRequest) { r.Attach.ResourceGroup = "" }),
			fields: []string{FieldResourceGroup}, msgs: map[string]string{FieldResourceGroup: "Enter the resource group"}},
		{name: "Databricks resource group ending in a period", req: attachReq(KindDatabricks, func(r *CreateRequest) { r.Attach.ResourceGroup = "rg-ml." }),
			fields: []string{FieldResourceGroup}},
		{name: "Databricks without token", req: attachReq(KindDatabricks, func(r *CreateRequest) { r.Secrets = nil }),
			fields: []string{FieldToken}, msgs: map[string]string{FieldToken: "Enter a Databricks access token."}},

		{name: "Data Lake Analytics", req: attachReq(KindDataLakeAnalytics, nil)},
		{name: "ADLA account with capitals", req: attachReq(KindDataLakeAnalytics, func(r *CreateRequest) { r.Attach.AccountName = "MyAdla" }),
			fields: []string{FieldAccountName}, msgs: map[string]string{FieldAccountName: "3–24 lower-case letters and digits"}},
		{name: "ADLA account too short", req: attachReq(KindDataLakeAnalytics, func(r *CreateRequest) { r.Attach.AccountName = "ab" }),
			fields: []string{FieldAccountName}},
		{name: "ADLA account with a hyphen", req: attachReq(KindDataLakeAnalytics, func(r *CreateRequest) { r.Attach.AccountName = "my-adla" }),
			fields: []string{FieldAccountName}},
		{name: "ADLA without resource group", req: attachReq(KindDataLakeAnalytics, func(r *CreateRequest) { r.Attach.ResourceGroup = "" }),
			fields: []string{FieldResourceGroup}},

		{name: "Batch", req: attachReq(KindBatch, nil)},
		{name: "Batch account 25 characters", req: attachReq(KindBatch, func(r *CreateRequest) { r.Attach.AccountName = strings.Repeat("b", 25) }),
			fields: []string{FieldAccountName}},
		{name: "Batch account missing", req: attachReq(KindBatch, func(r *CreateRequest) { r.Attach.AccountName = "" }),
			fields: []string{FieldAccountName}},

		{name: "Slurm over http", req: attachReq(KindSlurm, nil)},
		{name: "Slurm over https", req: attachReq(KindSlurm, func(r *CreateRequest) { r.Attach.RESTURL = "https://slurm.example.com/" })},
		{name: "Slurm over ftp", req: attachReq(KindSlurm, func(r *CreateRequest) { r.Attach.RESTURL = "ftp://slurm-head:6820" }),
			fields: []string{FieldRESTURL}, msgs: map[string]string{FieldRESTURL: "The slurmrestd URL must be http:// or https:// with a host."}},
		{name: "Slurm without scheme", req: attachReq(KindSlurm, func(r *CreateRequest) { r.Attach.RESTURL = "slurm-head:6820" }),
			fields: []string{FieldRESTURL}, msgs: map[string]string{FieldRESTURL: "must be http:// or https://"}},
		{name: "Slurm without host", req: attachReq(KindSlurm, func(r *CreateRequest) { r.Attach.RESTURL = "https://" }),
			fields: []string{FieldRESTURL}},
		{name: "Slurm URL empty", req: attachReq(KindSlurm, func(r *CreateRequest) { r.Attach.RESTURL = "" }),
			fields: []string{FieldRESTURL}, msgs: map[string]string{FieldRESTURL: "Enter the slurmrestd URL, e.g. http://slurm-head:6820."}},
		{name: "Slurm URL unparsable", req: attachReq(KindSlurm, func(r *CreateRequest) { r.Attach.RESTURL = "http://[::1" }),
			fields: []string{FieldRESTURL}},
		{name: "Slurm without token and user", req: attachReq(KindSlurm, func(r *CreateRequest) { r.Secrets, r.Attach.SlurmUser = nil, "" }),
			fields: []string{FieldToken, FieldSlurmUser}, msgs: map[string]string{FieldToken: "Enter a slurmrestd JWT token, or give the cluster's JWT key", FieldSlurmUser: "Enter the Slurm user jobs run as."}},
		{name: "Slurm with a JWT key and no token", req: attachReq(KindSlurm, func(r *CreateRequest) {
			r.Secrets = map[string]string{SecretSlurmJWTKey: slurmKey32}
		})},
		{name: "Slurm with token and JWT key", req: attachReq(KindSlurm, func(r *CreateRequest) { r.Secrets[SecretSlurmJWTKey] = slurmKey32 })},
		{name: "Slurm JWT key not base64", req: attachReq(KindSlurm, func(r *CreateRequest) { r.Secrets = map[string]string{SecretSlurmJWTKey: "not base64!"} }),
			fields: []string{FieldJWTKey}, msgs: map[string]string{FieldJWTKey: "must be base64"}},
		{name: "Slurm JWT key too short", req: attachReq(KindSlurm, func(r *CreateRequest) { r.Secrets = map[string]string{SecretSlurmJWTKey: "c2hvcnQ="} }),
			fields: []string{FieldJWTKey}, msgs: map[string]string{FieldJWTKey: "is 5 bytes long"}},
		{name: "Slurm blank token and key", req: attachReq(KindSlurm, func(r *CreateRequest) {
			r.Secrets = map[string]string{SecretSlurmToken: "  ", SecretSlurmJWTKey: ""}
		}), fields: []string{FieldToken}},
		{name: "Slurm user with a space", req: attachReq(KindSlurm, func(r *CreateRequest) { r.Attach.SlurmUser = "al ice" }),
			fields: []string{FieldSlurmUser}, msgs: map[string]string{FieldSlurmUser: "Linux user name"}},
		{name: "Slurm partition", req: attachReq(KindSlurm, func(r *CreateRequest) { r.Attach.SlurmPartition = " gpu-a100.long " }),
			check: func(t *testing.T, r *CreateRequest) {
				if r.Attach.SlurmPartition != "gpu-a100.long" {
					t.Errorf("SlurmPartition = %q, want it trimmed", r.Attach.SlurmPartition)
				}
			}},
		{name: "Slurm partition with a comma", req: attachReq(KindSlurm, func(r *CreateRequest) { r.Attach.SlurmPartition = "debug,gpu" }),
			fields: []string{FieldPartition}, msgs: map[string]string{FieldPartition: `"debug,gpu" is not a partition name`}},
		{name: "Slurm partition starting with a dot", req: attachReq(KindSlurm, func(r *CreateRequest) { r.Attach.SlurmPartition = ".hidden" }),
			fields: []string{FieldPartition}},
		{name: "Slurm partition 65 characters", req: attachReq(KindSlurm, func(r *CreateRequest) { r.Attach.SlurmPartition = strings.Repeat("p", 65) }),
			fields: []string{FieldPartition}},
		{name: "Slurm shared dir cleaned", req: attachReq(KindSlurm, func(r *CreateRequest) { r.Attach.SharedDir = "/shared//trainyard/" }),
			check: func(t *testing.T, r *CreateRequest) {
				if r.Attach.SharedDir != "/shared/trainyard" {
					t.Errorf("SharedDir = %q, want /shared/trainyard", r.Attach.SharedDir)
				}
			}},
		{name: "Slurm shared dir relative", req: attachReq(KindSlurm, func(r *CreateRequest) { r.Attach.SharedDir = "shared/trainyard" }),
			fields: []string{FieldSharedDir}, msgs: map[string]string{FieldSharedDir: "must be an absolute path"}},
		{name: "Slurm shared dir with a newline", req: attachReq(KindSlurm, func(r *CreateRequest) { r.Attach.SharedDir = "/shared/a\nb" }),
			fields: []string{FieldSharedDir}},
		{name: "Slurm shared dir empty is fine", req: attachReq(KindSlurm, func(r *CreateRequest) { r.Attach.SharedDir = "" })},

		{name: "attach without settings", req: func() *CreateRequest { return &CreateRequest{Name: "dbx", Kind: KindDatabricks} },
			fields: []string{FieldWorkspace, FieldResourceGroup, FieldToken}},
		{name: "attached name checked too", req: attachReq(KindBatch, func(r *CreateRequest) { r.Name = "batch_1" }),
			fields: []string{FieldName}},
	})
}

func TestValidateKinds(t *testing.T) {
	runValidateCases(t, []validateCase{
		{name: "local cannot be created", req: func() *CreateRequest { return &CreateRequest{Name: "local2", Kind: KindLocal} },
			fields: []string{"computeType"}, msgs: map[string]string{"computeType": "the local target is built in and cannot be created"}},
		{name: "unknown kind", req: func() *CreateRequest { return &CreateRequest{Name: "aks-one", Kind: "Kubernetes"} },
			fields: []string{"computeType"}, msgs: map[string]string{"computeType": `unknown compute type "Kubernetes"`}},
		{name: "no kind", req: func() *CreateRequest { return &CreateRequest{Name: "thing"} },
			fields: []string{"computeType"}},
	})
	// Every kind a user can create or attach has rules; none is accepted empty.
	for _, k := range Kinds() {
		r := &CreateRequest{Name: "empty-" + strings.ToLower(string(k)), Kind: k}
		if err := r.Validate(); err == nil {
			t.Errorf("Validate() of an empty %s request = nil, want field errors", k)
		}
	}
}

func TestValidationErrorHelpers(t *testing.T) {
	var none *ValidationError
	if none.Err() != nil || none.For("name") != "" {
		t.Error("a nil *ValidationError must report no error and no messages")
	}
	if (&ValidationError{}).Err() != nil {
		t.Error("an empty ValidationError must be no error (so `return v.Err()` returns a true nil)")
	}
	err := Invalid("maxNodes", "at most %d", 100)
	if !errors.Is(err, ErrInvalid) || errors.Is(err, ErrConflict) {
		t.Errorf("Invalid(...) = %v: want it to match ErrInvalid only", err)
	}
	if got := err.Error(); got != "maxNodes: at most 100" {
		t.Errorf("Invalid(...).Error() = %q", got)
	}
}
