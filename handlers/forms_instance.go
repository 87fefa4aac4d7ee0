package handlers

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/views/components"
	"github.com/trainyard/trainyard/views/pages"
)

// Form fields of the instance wizard's schedule row.
const (
	fieldScheduleAction = "scheduleAction"
	fieldScheduleTime   = "scheduleTime"
	fieldScheduleZone   = "scheduleTimeZone"
	fieldScheduleDays   = "scheduleDays"
	fieldSSHEnabled     = "sshEnabled"
)

// instanceForm is the Create compute instance wizard (docs/design/studio-compute.md §1.4).
func instanceForm() *formSpec {
	return &formSpec{
		id: "instance", path: "/computes/new/instance", heading: "Create compute instance", crumbTab: compute.TabInstances,
		intro: "A compute instance is a personal workstation: start it to work, stop it to save, and let idle shutdown stop it for you.",
		steps: []string{"Required settings", "Scheduling", "Security", "Review + create"},
		stepFields: [][]string{
			{compute.FieldName, compute.FieldVMType, compute.FieldVMSize},
			{compute.FieldIdleShutdown, fieldScheduleAction, fieldScheduleTime, fieldScheduleZone, fieldScheduleDays},
			{fieldSSHEnabled, compute.FieldSSHPublicKey, compute.FieldAssignedUser},
			{},
		},
		pickerStep: 0,
		build:      buildInstance,
		inputs:     instanceInputs,
		review:     instanceReview,
	}
}

func buildInstance(v url.Values, _ map[string]string, user string) (*compute.CreateRequest, *compute.ValidationError) {
	errs := &compute.ValidationError{}
	in := &compute.InstanceSpec{
		VMSize: trimmed(v.Get(compute.FieldVMSize)), VMType: v.Get(compute.FieldVMType),
		IdleShutdownMinutes: intField(v, compute.FieldIdleShutdown, "Idle shutdown", 0, errs),
		SSHEnabled:          v.Get(fieldSSHEnabled) == "on",
		SSHPublicKey:        trimmed(v.Get(compute.FieldSSHPublicKey)),
		AssignedUser:        trimmed(v.Get(compute.FieldAssignedUser)),
	}
	if a := v.Get(fieldScheduleAction); a != "" {
		var days []string
		for _, d := range strings.Split(v.Get(fieldScheduleDays), ",") {
			if d = strings.TrimSpace(d); d != "" {
				days = append(days, d)
			}
		}
		in.Schedules = []compute.Schedule{{Action: a, Time: trimmed(v.Get(fieldScheduleTime)), TimeZone: withDefault(v, fieldScheduleZone, "UTC"), Days: days}}
	}
	req := &compute.CreateRequest{Name: trimmed(v.Get(compute.FieldName)), Kind: compute.KindInstance, Instance: in, CreatedBy: user}
	if len(errs.Fields) > 0 {
		return req, errs
	}
	return req, nil
}

func instanceInputs(step int, v url.Values) []components.Input {
	switch step {
	case 0:
		return []components.Input{
			{Name: compute.FieldName, Label: "Compute name", Value: v.Get(compute.FieldName), Required: true, Autocomplete: "off",
				Hint: "3–24 characters: letters, digits and hyphens, starting with a letter."},
			{Name: compute.FieldVMType, Label: "Virtual machine type", Type: "select", Value: withDefault(v, compute.FieldVMType, "CPU"),
				Options: []components.Option{{Value: "CPU", Label: "CPU"}, {Value: "GPU", Label: "GPU"}}, Hint: "Cannot be changed after creation."},
		}
	case 1:
		return []components.Input{
			{Name: compute.FieldIdleShutdown, Label: "Idle shutdown after (minutes)", Type: "number", Value: v.Get(compute.FieldIdleShutdown),
				Hint: fmt.Sprintf("Leave empty for no idle shutdown; otherwise %d to %d minutes (3 days).", compute.MinIdleShutdownMinutes, compute.MaxIdleShutdownMinutes)},
			{Name: fieldScheduleAction, Label: "Schedule (optional)", Type: "select", Value: v.Get(fieldScheduleAction),
				Options: []components.Option{{Value: "", Label: "No schedule"}, {Value: "Start", Label: "Start the instance"}, {Value: "Stop", Label: "Stop the instance"}}},
			{Name: fieldScheduleTime, Label: "Schedule time (HH:MM, 24-hour)", Value: v.Get(fieldScheduleTime)},
			{Name: fieldScheduleZone, Label: "Time zone", Value: withDefault(v, fieldScheduleZone, "UTC"), Hint: "An IANA name such as UTC or Europe/Stockholm."},
			{Name: fieldScheduleDays, Label: "Days", Value: v.Get(fieldScheduleDays), Hint: "Comma-separated, e.g. Monday, Tuesday, Friday."},
		}
	case 2:
		return []components.Input{
			{Name: fieldSSHEnabled, Label: "SSH access", Type: "select", Value: v.Get(fieldSSHEnabled),
				Options: []components.Option{{Value: "", Label: "Disabled"}, {Value: "on", Label: "Enabled"}}, Hint: "Cannot be changed after creation."},
			{Name: compute.FieldSSHPublicKey, Label: "SSH public key", Type: "textarea", Value: v.Get(compute.FieldSSHPublicKey), Hint: "Leave empty to set up a key later."},
			{Name: compute.FieldAssignedUser, Label: "Assign to another user (user ID)", Value: v.Get(compute.FieldAssignedUser), Hint: "Leave empty to create it for yourself."},
		}
	}
	return nil
}

func instanceReview(req *compute.CreateRequest) []pages.AttrVM {
	in := req.Instance
	idle := "Off"
	if in.IdleShutdownMinutes > 0 {
		idle = fmt.Sprintf("after %d minutes", in.IdleShutdownMinutes)
	}
	price := ""
	if s, ok := compute.LookupVMSize(in.VMSize); ok {
		price = fmt.Sprintf("$%.2f per hour while running (estimate)", s.HourlyUSD)
	}
	return []pages.AttrVM{
		{Label: "Compute name", Value: req.Name},
		{Label: "Virtual machine size", Value: sizeText(in.VMSize)},
		{Label: "Idle shutdown", Value: idle},
		{Label: "Schedules", Value: schedulesText(in.Schedules)},
		{Label: "SSH access", Value: map[bool]string{true: "Enabled", false: "Disabled"}[in.SSHEnabled]},
		{Label: "Assigned to", Value: orNone(in.AssignedUser)},
		{Label: "Estimated cost", Value: price},
	}
}
