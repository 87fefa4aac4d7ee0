package arm

import (
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/trainyard/trainyard/compute"
)

// FieldComputeType, FieldSSHPublicAccess and FieldJWTKey name request fields
// that package compute has no constant for, in field errors.
const (
	FieldComputeType     = "computeType"
	FieldSSHPublicAccess = "sshPublicAccess"
	FieldSetupScripts    = "setupScripts"
	FieldJWTKey          = compute.FieldJWTKey
)

// ToCreateRequest turns the body of PUT /computes/{name} into a create
// request. Read-only fields are ignored and secrets go into req.Secrets.
//
// Errors: a body whose JSON does not fit the type gives (nil, *RequestError),
// a 400. Otherwise the request is returned together with every broken rule
// at once in a *compute.ValidationError (a 422): values that cannot be
// converted (durations, schedules, identities) and everything
// req.Validate() finds. ToCreateRequest runs req.Validate() itself, so the
// request comes back canonicalised; running Validate again is harmless.
func ToCreateRequest(name string, c Compute) (*compute.CreateRequest, error) {
	v := &compute.ValidationError{}
	kind, known := KindOf(c.Properties.ComputeType)
	req := &compute.CreateRequest{
		Name:        name,
		Kind:        kind,
		Location:    c.Properties.ComputeLocation,
		Description: c.Properties.Description,
		ResourceID:  strings.TrimSpace(c.Properties.ResourceID),
		Secrets:     map[string]string{},
	}
	if req.Location == "" {
		req.Location = c.Location
	}
	if c.Name != "" && c.Name != name {
		v.Add(compute.FieldName, "The body names the compute %q but the URL names it %q.", c.Name, name)
	}
	switch {
	case c.Properties.ComputeType == "":
		v.Add(FieldComputeType, "Set properties.computeType, e.g. AmlCompute, ComputeInstance or VirtualMachine.")
	case !known:
		v.Add(FieldComputeType, "Trainyard does not support compute type %q.", c.Properties.ComputeType)
	}
	inner, err := c.Properties.Inner()
	if err != nil {
		return nil, err
	}
	switch in := inner.(type) {
	case *AmlComputeProperties:
		req.Cluster = toCluster(v, in, c.Identity, req.Secrets)
	case *ComputeInstanceProperties:
		req.Instance = toInstance(v, in)
	case *VirtualMachineProperties:
		req.Attach = &compute.AttachSpec{Address: strings.TrimSpace(in.Address), SSHPort: in.SSHPort, HostKeyFingerprint: strings.TrimSpace(in.HostKeyFingerprint)}
		sshAccount(req, in.AdministratorAccount)
	case *HDInsightProperties:
		req.Attach = &compute.AttachSpec{Address: strings.TrimSpace(in.Address), SSHPort: in.SSHPort, HostKeyFingerprint: strings.TrimSpace(in.HostKeyFingerprint)}
		sshAccount(req, in.AdministratorAccount)
	case *DatabricksProperties:
		req.Attach = &compute.AttachSpec{Workspace: in.WorkspaceName, ResourceGroup: in.ResourceGroup}
		setSecret(req.Secrets, compute.SecretAccessToken, in.DatabricksAccessToken)
	case *DataLakeAnalyticsProperties:
		req.Attach = &compute.AttachSpec{AccountName: in.DataLakeStoreAccountName, ResourceGroup: in.ResourceGroup}
	case *AzureBatchProperties:
		req.Attach = &compute.AttachSpec{AccountName: in.AccountName, ResourceGroup: in.ResourceGroup}
	case *SlurmProperties:
		req.Attach = &compute.AttachSpec{RESTURL: strings.TrimSpace(in.RestURL), SlurmUser: in.User,
			SlurmPartition: in.Partition, SharedDir: in.SharedDir, SlurmConf: in.SlurmConf}
		setSecret(req.Secrets, compute.SecretSlurmToken, strings.TrimSpace(in.Token))
		// The key's base64 is checked by req.Validate (field jwtKey).
		setSecret(req.Secrets, compute.SecretSlurmJWTKey, strings.TrimSpace(in.JWTKey))
	}
	if len(req.Secrets) == 0 {
		req.Secrets = nil
	}
	if known {
		merge(v, req.Validate())
	} else if msg := compute.ValidateName(name); msg != "" {
		merge(v, compute.Invalid(compute.FieldName, "%s", msg))
	}
	return req, v.Err()
}

// merge adds the field errors of err to v, except for fields v already
// reports (a value that could not be converted also fails its range check).
func merge(v *compute.ValidationError, err error) {
	other, ok := err.(*compute.ValidationError)
	if !ok {
		return
	}
	seen := map[string]bool{}
	for _, f := range v.Fields {
		seen[f.Field] = true
	}
	for _, f := range other.Fields {
		if !seen[f.Field] {
			v.Fields = append(v.Fields, f)
		}
	}
}

func setSecret(m map[string]string, name, value string) {
	if value != "" {
		m[name] = value
	}
}

func toCluster(v *compute.ValidationError, in *AmlComputeProperties, id *Identity, secrets map[string]string) *compute.ClusterSpec {
	s := &compute.ClusterSpec{
		VMSize:                     strings.TrimSpace(in.VMSize),
		VMPriority:                 compute.VMPriority(in.VMPriority),
		VMType:                     in.VMType,
		IdleSecondsBeforeScaleDown: compute.DefaultIdleSeconds,
	}
	if ss := in.ScaleSettings; ss != nil {
		s.MaxNodes, s.MinNodes = ss.MaxNodeCount, ss.MinNodeCount
		if ss.NodeIdleTimeBeforeScaleDown != "" {
			d, err := ParseDuration(ss.NodeIdleTimeBeforeScaleDown)
			switch {
			case err != nil:
				v.Add(compute.FieldIdleSeconds, "%s", err)
			case d%time.Second != 0:
				v.Add(compute.FieldIdleSeconds, "Idle time before scale down must be whole seconds (got %s).", ss.NodeIdleTimeBeforeScaleDown)
			default:
				s.IdleSecondsBeforeScaleDown = int(min(d/time.Second, 1<<31))
			}
		}
	}
	if u := in.UserAccountCredentials; u != nil {
		s.AdminUserName = strings.TrimSpace(u.AdminUserName)
		s.SSHPublicKey = strings.TrimSpace(u.AdminUserSSHPublicKey)
		setSecret(secrets, compute.SecretAdminPassword, u.AdminUserPassword)
	}
	if id != nil {
		s.IdentityType = id.Type
		if id.Type == "UserAssigned" && len(id.UserAssignedIdentities) > 0 {
			ids := make([]string, 0, len(id.UserAssignedIdentities))
			for k := range id.UserAssignedIdentities {
				ids = append(ids, k)
			}
			sort.Strings(ids)
			s.UserAssignedIdentity = ids[0]
			if len(ids) > 1 {
				v.Add(compute.FieldUserIdentity, "Trainyard supports one user-assigned identity per cluster (got %d).", len(ids))
			}
		}
	}
	return s
}

func toInstance(v *compute.ValidationError, in *ComputeInstanceProperties) *compute.InstanceSpec {
	s := &compute.InstanceSpec{VMSize: strings.TrimSpace(in.VMSize), VMType: in.VMType}
	if in.IdleTimeBeforeShutdown != "" {
		d, err := ParseDuration(in.IdleTimeBeforeShutdown)
		switch {
		case err != nil:
			v.Add(compute.FieldIdleShutdown, "%s", err)
		case d%time.Minute != 0:
			v.Add(compute.FieldIdleShutdown, "Idle time before shutdown must be whole minutes (got %s).", in.IdleTimeBeforeShutdown)
		case d < 0:
			v.Add(compute.FieldIdleShutdown, "Idle time before shutdown cannot be negative.")
		default:
			s.IdleShutdownMinutes = int(min(d/time.Minute, 1<<31))
		}
	}
	if ssh := in.SSHSettings; ssh != nil {
		switch strings.ToLower(ssh.SSHPublicAccess) {
		case "enabled":
			s.SSHEnabled = true
		case "", "disabled":
		default:
			v.Add(FieldSSHPublicAccess, "Choose Enabled or Disabled (got %q).", ssh.SSHPublicAccess)
		}
		s.SSHPublicKey = strings.TrimSpace(ssh.AdminPublicKey)
		s.AdminUserName = strings.TrimSpace(ssh.AdminUserName)
	}
	if ss := in.SetupScripts; ss != nil && ss.Scripts != nil {
		s.SetupScript = toScript(v, "creationScript", ss.Scripts.CreationScript)
		s.StartupScript = toScript(v, "startupScript", ss.Scripts.StartupScript)
	}
	if p := in.PersonalComputeInstanceSettings; p != nil && p.AssignedUser != nil {
		u := p.AssignedUser
		switch {
		case strings.TrimSpace(u.ObjectID) == "":
			v.Add(compute.FieldAssignedUser, "Enter the object ID of the user the instance is for.")
		case u.TenantID != "":
			s.AssignedUser = strings.TrimSpace(u.TenantID) + "/" + strings.TrimSpace(u.ObjectID)
		default:
			s.AssignedUser = strings.TrimSpace(u.ObjectID)
		}
	}
	if in.Schedules != nil {
		for i, sc := range in.Schedules.ComputeStartStop {
			if got, msg := toSchedule(sc); msg != "" {
				v.Add(compute.FieldSchedules, "Schedule %d: %s", i+1, msg)
			} else {
				s.Schedules = append(s.Schedules, got)
			}
		}
	}
	return s
}

// toSchedule converts one schedule, or says why Trainyard cannot keep it.
func toSchedule(sc StartStopSchedule) (compute.Schedule, string) {
	if sc.Cron != nil || strings.EqualFold(sc.TriggerType, "Cron") {
		return compute.Schedule{}, "cron schedules are not supported; use a recurrence."
	}
	if sc.Status != "" && !strings.EqualFold(sc.Status, "Enabled") {
		return compute.Schedule{}, "only enabled schedules are kept; delete a schedule instead of disabling it."
	}
	r := sc.Recurrence
	if r == nil {
		return compute.Schedule{}, "set recurrence (frequency Week, hours, minutes, weekDays)."
	}
	if r.Interval > 1 {
		return compute.Schedule{}, "only an interval of 1 is supported."
	}
	if len(r.Schedule.Hours) != 1 || len(r.Schedule.Minutes) != 1 {
		return compute.Schedule{}, "give exactly one hour and one minute: one time of day per schedule."
	}
	h, m := r.Schedule.Hours[0], r.Schedule.Minutes[0]
	if h < 0 || h > 23 || m < 0 || m > 59 {
		return compute.Schedule{}, fmt.Sprintf("%d:%02d is not a time of day.", h, m)
	}
	out := compute.Schedule{Action: sc.Action, Time: fmt.Sprintf("%02d:%02d", h, m), TimeZone: r.TimeZone, Days: r.Schedule.WeekDays}
	switch strings.ToLower(r.Frequency) {
	case "week":
	case "day":
		out.Days = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	default:
		return compute.Schedule{}, fmt.Sprintf("frequency %q is not supported; use Week or Day.", r.Frequency)
	}
	return out, ""
}

func sshAccount(req *compute.CreateRequest, a *AdministratorAccount) {
	if a == nil {
		return
	}
	req.Attach.UserName = strings.TrimSpace(a.Username)
	setSecret(req.Secrets, compute.SecretPassword, a.Password)
	setSecret(req.Secrets, compute.SecretPrivateKey, a.PrivateKeyData)
	setSecret(req.Secrets, compute.SecretPassphrase, a.PrivateKeyPassphrase)
}

// toScript reads an inline setup script: its text, base64 in scriptData.
func toScript(v *compute.ValidationError, name string, ref *ScriptReference) string {
	if ref == nil {
		return ""
	}
	field := FieldSetupScripts + "." + name
	if src := strings.ToLower(ref.ScriptSource); src != "" && src != "inline" {
		v.Add(field, "Only inline scripts are supported (scriptSource %q): Trainyard cannot reach workspace datastores.", ref.ScriptSource)
		return ""
	}
	raw, err := base64.StdEncoding.DecodeString(ref.ScriptData)
	switch {
	case err != nil:
		v.Add(field, "scriptData must be the script in base64: %v", err)
	case len(raw) > compute.MaxScriptBytes:
		v.Add(field, "The script is %d bytes; at most %d are allowed.", len(raw), compute.MaxScriptBytes)
	case !utf8.Valid(raw) || strings.ContainsRune(string(raw), 0):
		v.Add(field, "The script must be text (UTF-8, no NUL bytes).")
	default:
		return string(raw)
	}
	return ""
}
