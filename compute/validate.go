package compute

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/url"
	"path"
	"regexp"
	"strings"
	"time"
)

// Limits of the creation rules (docs/design/studio-compute.md §3). Where Azure documents
// no limit, docs/DECISIONS.md says why these were chosen.
const (
	MaxNodesPerCluster      = 100 // Azure's default per-cluster node limit
	MinIdleSecondsScaleDown = 30  // shorter would thrash nodes up and down
	MaxIdleSecondsScaleDown = 7 * 24 * 3600
	DefaultIdleSeconds      = 120
	DefaultMaxNodes         = 4
	MinIdleShutdownMinutes  = 15
	MaxIdleShutdownMinutes  = 3 * 24 * 60
	MaxSchedules            = 4
	DefaultSSHPort          = 22
)

// Field names shared by forms, validation errors and the API's error targets.
const (
	FieldName          = "name"
	FieldVMSize        = "vmSize"
	FieldVMPriority    = "vmPriority"
	FieldVMType        = "vmType"
	FieldMinNodes      = "minNodes"
	FieldMaxNodes      = "maxNodes"
	FieldIdleSeconds   = "idleSeconds"
	FieldAdminUser     = "adminUserName"
	FieldAdminPassword = "adminPassword"
	FieldSSHPublicKey  = "sshPublicKey"
	FieldIdentity      = "identityType"
	FieldUserIdentity  = "userAssignedIdentity"
	FieldIdleShutdown  = "idleShutdownMinutes"
	FieldSchedules     = "schedules"
	FieldAssignedUser  = "assignedUser"
	FieldAddress       = "address"
	FieldResourceID    = "resourceId"
	FieldSSHPort       = "sshPort"
	FieldUserName      = "username"
	FieldPassword      = "password"
	FieldPrivateKey    = "privateKey"
	FieldWorkspace     = "workspace"
	FieldResourceGroup = "resourceGroup"
	FieldAccountName   = "accountName"
	FieldRESTURL       = "restUrl"
	FieldToken         = "token"
	FieldSlurmUser     = "slurmUser"
	FieldJWTKey        = "jwtKey"
	FieldPartition     = "partition"
	FieldSharedDir     = "sharedDir"
	FieldSlurmConf     = "slurmConf"
	FieldLocation      = "location"
)

// CreateRequest is everything a user sends to create or attach a target.
type CreateRequest struct {
	Name        string
	Kind        Kind
	Location    string
	Description string
	Cluster     *ClusterSpec
	Instance    *InstanceSpec
	Attach      *AttachSpec
	ResourceID  string
	// Secrets are sealed by the store and never read back for display.
	Secrets   map[string]string
	CreatedBy string
}

// Validate checks every field and returns a *ValidationError naming each
// broken rule, or nil. It also canonicalises values (VM size spelling).
func (r *CreateRequest) Validate() error {
	v := &ValidationError{}
	if msg := ValidateName(r.Name); msg != "" {
		v.Add(FieldName, "%s", msg)
	}
	switch r.Kind {
	case KindCluster:
		if r.Cluster == nil {
			r.Cluster = &ClusterSpec{}
		}
		validateCluster(v, r.Cluster, r.Secrets)
	case KindInstance:
		if r.Instance == nil {
			r.Instance = &InstanceSpec{}
		}
		validateInstance(v, r.Instance)
	case KindVirtualMachine, KindHDInsight, KindDatabricks, KindDataLakeAnalytics, KindBatch, KindSlurm:
		if r.Attach == nil {
			r.Attach = &AttachSpec{}
		}
		validateAttach(v, r)
	case KindLocal:
		v.Add("computeType", "the local target is built in and cannot be created")
	default:
		v.Add("computeType", "unknown compute type %q", string(r.Kind))
	}
	return v.Err()
}

func validateVMSize(v *ValidationError, name *string, wantType string) {
	if *name == "" {
		v.Add(FieldVMSize, "Choose a virtual machine size.")
		return
	}
	size, ok := LookupVMSize(*name)
	if !ok {
		v.Add(FieldVMSize, "InvalidPropertyValue: The specified value %s for property VMSize is not a supported VM size.", *name)
		return
	}
	*name = size.Name
	if wantType == "GPU" && !size.IsGPU() {
		v.Add(FieldVMSize, "%s has no GPU; pick a GPU size or choose CPU.", size.Name)
	}
	if wantType == "CPU" && size.IsGPU() {
		v.Add(FieldVMSize, "%s is a GPU size; pick a CPU size or choose GPU.", size.Name)
	}
}

func validateCluster(v *ValidationError, c *ClusterSpec, secrets map[string]string) {
	switch strings.ToLower(string(c.VMPriority)) {
	case "", "dedicated":
		c.VMPriority = Dedicated
	case "lowpriority", "low priority", "low_priority":
		c.VMPriority = LowPriority
	default:
		v.Add(FieldVMPriority, "Choose Dedicated or LowPriority (got %q).", string(c.VMPriority))
	}
	c.VMType = normaliseVMType(v, c.VMType)
	validateVMSize(v, &c.VMSize, c.VMType)
	if c.VMType == "" {
		if s, ok := LookupVMSize(c.VMSize); ok && s.IsGPU() {
			c.VMType = "GPU"
		} else {
			c.VMType = "CPU"
		}
	}
	if c.MinNodes < 0 {
		v.Add(FieldMinNodes, "The minimum number of nodes cannot be negative.")
	}
	switch {
	case c.MaxNodes < 1:
		v.Add(FieldMaxNodes, "The maximum number of nodes must be at least 1.")
	case c.MaxNodes > MaxNodesPerCluster:
		v.Add(FieldMaxNodes, "The maximum number of nodes is %d per cluster.", MaxNodesPerCluster)
	case c.MinNodes > c.MaxNodes:
		v.Add(FieldMinNodes, "The minimum number of nodes (%d) cannot be more than the maximum (%d).", c.MinNodes, c.MaxNodes)
	}
	if c.IdleSecondsBeforeScaleDown < MinIdleSecondsScaleDown || c.IdleSecondsBeforeScaleDown > MaxIdleSecondsScaleDown {
		v.Add(FieldIdleSeconds, "Idle seconds before scale down must be between %d and %d.", MinIdleSecondsScaleDown, MaxIdleSecondsScaleDown)
	}
	hasCred := secrets[SecretAdminPassword] != "" || c.SSHPublicKey != ""
	if c.AdminUserName != "" && !hasCred {
		v.Add(FieldAdminPassword, "SSH access needs a password or an SSH public key for %s.", c.AdminUserName)
	}
	if c.AdminUserName == "" && hasCred {
		v.Add(FieldAdminUser, "Enter the admin user name the password or key is for.")
	}
	if c.SSHPublicKey != "" {
		if msg := ValidateSSHPublicKey(c.SSHPublicKey); msg != "" {
			v.Add(FieldSSHPublicKey, "%s", msg)
		}
	}
	switch c.IdentityType {
	case "", "None":
		c.IdentityType = ""
	case "SystemAssigned":
	case "UserAssigned":
		if strings.TrimSpace(c.UserAssignedIdentity) == "" {
			v.Add(FieldUserIdentity, "Enter the resource ID of the user-assigned identity.")
		}
	default:
		v.Add(FieldIdentity, "Choose None, SystemAssigned or UserAssigned.")
	}
}

func normaliseVMType(v *ValidationError, t string) string {
	switch strings.ToUpper(t) {
	case "":
		return ""
	case "CPU":
		return "CPU"
	case "GPU":
		return "GPU"
	}
	v.Add(FieldVMType, "Choose CPU or GPU.")
	return ""
}

func validateInstance(v *ValidationError, in *InstanceSpec) {
	in.VMType = normaliseVMType(v, in.VMType)
	validateVMSize(v, &in.VMSize, in.VMType)
	if in.IdleShutdownMinutes != 0 && (in.IdleShutdownMinutes < MinIdleShutdownMinutes || in.IdleShutdownMinutes > MaxIdleShutdownMinutes) {
		v.Add(FieldIdleShutdown, "Idle shutdown must be between 15 minutes and 3 days (%d minutes).", MaxIdleShutdownMinutes)
	}
	if len(in.Schedules) > MaxSchedules {
		v.Add(FieldSchedules, "A compute instance can have at most %d schedules.", MaxSchedules)
	}
	for i, s := range in.Schedules {
		if msg := validateSchedule(s); msg != "" {
			v.Add(FieldSchedules, "Schedule %d: %s", i+1, msg)
		}
	}
	if in.SSHEnabled && in.SSHPublicKey != "" {
		if msg := ValidateSSHPublicKey(in.SSHPublicKey); msg != "" {
			v.Add(FieldSSHPublicKey, "%s", msg)
		}
	}
	if in.SSHEnabled && in.AssignedUser != "" && in.SSHPublicKey != "" {
		v.Add(FieldSSHPublicKey, "Setting SSH key at creation time is not allowed when compute instance is provisioned on behalf of another user. Choose to set up an SSH key later.")
	}
	if in.AdminUserName == "" {
		in.AdminUserName = "azureuser"
	}
}

var weekdays = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}

func validateSchedule(s Schedule) string {
	if s.Action != "Start" && s.Action != "Stop" {
		return "the action must be Start or Stop"
	}
	if _, err := time.Parse("15:04", s.Time); err != nil {
		return fmt.Sprintf("time %q is not HH:MM", s.Time)
	}
	if _, err := time.LoadLocation(s.TimeZone); s.TimeZone != "" && err != nil {
		return fmt.Sprintf("unknown time zone %q", s.TimeZone)
	}
	if len(s.Days) == 0 {
		return "pick at least one day"
	}
	for _, d := range s.Days {
		ok := false
		for _, w := range weekdays {
			ok = ok || d == w
		}
		if !ok {
			return fmt.Sprintf("%q is not a weekday", d)
		}
	}
	return ""
}

// ValidateSSHPublicKey accepts a single-line OpenSSH public key or a
// multi-line PEM public key, as Studio does; it returns a message or "".
func ValidateSSHPublicKey(k string) string {
	k = strings.TrimSpace(k)
	switch {
	case strings.HasPrefix(k, "-----BEGIN ") && strings.Contains(k, "PUBLIC KEY-----"):
		return ""
	case strings.Contains(k, "PRIVATE KEY"):
		return "This is a private key. Paste the public key (ssh-rsa …), never the private one."
	}
	f := strings.Fields(k)
	if len(f) < 2 || strings.Contains(k, "\n") {
		return "Enter a single-line public key such as ssh-rsa AAAA… user@host, or a PEM public key."
	}
	switch f[0] {
	case "ssh-rsa", "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521":
		return ""
	}
	return fmt.Sprintf("Unknown key type %q; use ssh-rsa, ssh-ed25519 or ecdsa.", f[0])
}

func validateAttach(v *ValidationError, r *CreateRequest) {
	a := r.Attach
	switch r.Kind {
	case KindVirtualMachine, KindHDInsight:
		validateSSHAttach(v, r)
	case KindDatabricks:
		if strings.TrimSpace(a.Workspace) == "" {
			v.Add(FieldWorkspace, "Enter the Databricks workspace name.")
		}
		requireResourceGroup(v, a.ResourceGroup)
		if r.Secrets[SecretAccessToken] == "" {
			v.Add(FieldToken, "Enter a Databricks access token.")
		}
	case KindDataLakeAnalytics, KindBatch:
		requireResourceGroup(v, a.ResourceGroup)
		if !accountNameRE.MatchString(a.AccountName) {
			v.Add(FieldAccountName, "Enter the account name: 3–24 lower-case letters and digits.")
		}
	case KindSlurm:
		validateSlurmAttach(v, r)
	}
}

// slurmPartitionRE is what Trainyard accepts as a Slurm partition name:
// Slurm itself takes almost anything, but a name used in a job request and
// shown in pages is kept to letters, digits, '_', '-' and '.'.
var slurmPartitionRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$`)

// validateSlurmAttach checks a Slurm attach: the slurmrestd URL, the user,
// a token or the cluster's JWT key (base64, as the API and the form carry
// it; the CLI encodes the key file), the partition's name and the shared
// directory, which must be an absolute path because the nodes use it as it is.
func validateSlurmAttach(v *ValidationError, r *CreateRequest) {
	a := r.Attach
	a.RESTURL = strings.TrimSpace(a.RESTURL)
	u, err := url.Parse(a.RESTURL)
	if a.RESTURL == "" {
		v.Add(FieldRESTURL, "Enter the slurmrestd URL, e.g. http://slurm-head:6820.")
	} else if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.Add(FieldRESTURL, "The slurmrestd URL must be http:// or https:// with a host.")
	}
	token, key := strings.TrimSpace(r.Secrets[SecretSlurmToken]), strings.TrimSpace(r.Secrets[SecretSlurmJWTKey])
	switch {
	case token == "" && key == "":
		v.Add(FieldToken, "Enter a slurmrestd JWT token, or give the cluster's JWT key so that Trainyard makes its own tokens.")
	case key != "":
		if raw, err := base64.StdEncoding.DecodeString(key); err != nil {
			v.Add(FieldJWTKey, "The JWT key must be base64 (standard encoding), e.g. the output of base64 -w0 jwt_hs256.key.")
		} else if len(raw) < 16 {
			v.Add(FieldJWTKey, "The JWT key is %d bytes long; slurmctld's jwt_hs256.key is at least 16 (usually 32).", len(raw))
		}
	}
	a.SlurmUser = strings.TrimSpace(a.SlurmUser)
	if a.SlurmUser == "" {
		v.Add(FieldSlurmUser, "Enter the Slurm user jobs run as.")
	} else if !userNameRE.MatchString(a.SlurmUser) {
		v.Add(FieldSlurmUser, "The Slurm user must be a Linux user name: letters, digits, _ . -, starting with a letter or _.")
	}
	a.SlurmPartition = strings.TrimSpace(a.SlurmPartition)
	if p := a.SlurmPartition; p != "" && !slurmPartitionRE.MatchString(p) {
		v.Add(FieldPartition, "%q is not a partition name: up to 64 letters, digits, _ - and ., starting with a letter, digit or _.", p)
	}
	a.SharedDir = strings.TrimSpace(a.SharedDir)
	if d := a.SharedDir; d != "" {
		switch {
		case !path.IsAbs(d):
			v.Add(FieldSharedDir, "The shared directory must be an absolute path (it is used as it is on every node), e.g. /shared/trainyard.")
		case strings.ContainsAny(d, "\x00\n"):
			v.Add(FieldSharedDir, "The shared directory must not contain a newline or NUL.")
		default:
			a.SharedDir = path.Clean(d)
		}
	}
	a.SlurmConf = strings.TrimSpace(a.SlurmConf)
	if c := a.SlurmConf; c != "" {
		switch {
		case !path.IsAbs(c):
			v.Add(FieldSlurmConf, "The slurm.conf path must be absolute, e.g. /etc/slurm/slurm.conf.")
		case strings.ContainsAny(c, "\x00\n"):
			v.Add(FieldSlurmConf, "The slurm.conf path must not contain a newline or NUL.")
		default:
			a.SlurmConf = path.Clean(c)
		}
	}
}

func requireResourceGroup(v *ValidationError, rg string) {
	if !resourceGroupRE.MatchString(rg) || strings.HasSuffix(rg, ".") {
		v.Add(FieldResourceGroup, "Enter the resource group: up to 90 letters, digits, _ - . ( ), not ending in a period.")
	}
}

func validateSSHAttach(v *ValidationError, r *CreateRequest) {
	a := r.Attach
	if r.ResourceID != "" {
		want := ResourceTypeVM
		if r.Kind == KindHDInsight {
			want = ResourceTypeHDInsight
		}
		id, err := ParseResourceID(strings.TrimSpace(r.ResourceID), want)
		if err != nil {
			v.Add(FieldResourceID, "%s", strings.TrimSuffix(err.Error(), ": "+ErrInvalid.Error()))
		} else {
			r.ResourceID = id.String()
			if a.Address == "" && r.Kind == KindHDInsight {
				a.Address = id.Name() + "-ssh.azurehdinsight.net"
			}
		}
	}
	if a.Address == "" && r.ResourceID == "" {
		v.Add(FieldAddress, "Enter the machine's address (host name or IP) or its resource ID.")
	} else if a.Address == "" && r.Kind == KindVirtualMachine {
		v.Add(FieldAddress, "Enter the machine's address: Trainyard connects over SSH and cannot look up a VM's public IP from its resource ID.")
	} else if a.Address != "" && !validHost(a.Address) {
		v.Add(FieldAddress, "%q is not a host name or IP address.", a.Address)
	}
	if a.SSHPort == 0 {
		a.SSHPort = DefaultSSHPort
	}
	if a.SSHPort < 1 || a.SSHPort > 65535 {
		v.Add(FieldSSHPort, "The SSH port must be between 1 and 65535.")
	}
	if !userNameRE.MatchString(a.UserName) {
		v.Add(FieldUserName, "Enter the SSH user name (letters, digits, _ . -, starting with a letter or _).")
	}
	if r.Secrets[SecretPassword] == "" && r.Secrets[SecretPrivateKey] == "" {
		v.Add(FieldPassword, "Enter a password or a private key.")
	}
	if k := r.Secrets[SecretPrivateKey]; k != "" && !strings.Contains(k, "PRIVATE KEY") {
		v.Add(FieldPrivateKey, "The private key must be a PEM or OpenSSH private key (-----BEGIN … PRIVATE KEY-----).")
	}
}

func validHost(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	return hostRE.MatchString(h)
}
