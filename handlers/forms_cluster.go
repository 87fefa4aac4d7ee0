package handlers

import (
	"fmt"
	"net/url"
	"strconv"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/views/components"
	"github.com/trainyard/trainyard/views/pages"
)

// clusterForm is the Create compute cluster wizard (docs/design/studio-compute.md §1.5).
func clusterForm() *formSpec {
	return &formSpec{
		id: "cluster", path: "/computes/new/cluster", heading: "Create compute cluster", crumbTab: compute.TabClusters,
		intro: "A compute cluster is a pool of nodes that grows when runs need it and shrinks back to its minimum when idle.",
		steps: []string{"Virtual machine", "Advanced settings", "Review + create"},
		stepFields: [][]string{
			{compute.FieldLocation, compute.FieldVMPriority, compute.FieldVMType, compute.FieldVMSize},
			{compute.FieldName, compute.FieldMinNodes, compute.FieldMaxNodes, compute.FieldIdleSeconds, compute.FieldAdminUser, compute.FieldAdminPassword, compute.FieldSSHPublicKey, compute.FieldIdentity, compute.FieldUserIdentity},
			{},
		},
		secrets:    []string{compute.FieldAdminPassword},
		pickerStep: 0,
		build:      buildCluster,
		inputs:     clusterInputs,
		review:     clusterReview,
	}
}

func buildCluster(v url.Values, secrets map[string]string, user string) (*compute.CreateRequest, *compute.ValidationError) {
	errs := &compute.ValidationError{}
	c := &compute.ClusterSpec{
		VMSize: trimmed(v.Get(compute.FieldVMSize)), VMPriority: compute.VMPriority(withDefault(v, compute.FieldVMPriority, "Dedicated")),
		VMType:                     v.Get(compute.FieldVMType),
		MinNodes:                   intField(v, compute.FieldMinNodes, "Minimum number of nodes", 0, errs),
		MaxNodes:                   intField(v, compute.FieldMaxNodes, "Maximum number of nodes", compute.DefaultMaxNodes, errs),
		IdleSecondsBeforeScaleDown: intField(v, compute.FieldIdleSeconds, "Idle seconds before scale down", compute.DefaultIdleSeconds, errs),
		AdminUserName:              trimmed(v.Get(compute.FieldAdminUser)),
		SSHPublicKey:               trimmed(v.Get(compute.FieldSSHPublicKey)),
		IdentityType:               v.Get(compute.FieldIdentity),
		UserAssignedIdentity:       trimmed(v.Get(compute.FieldUserIdentity)),
	}
	req := &compute.CreateRequest{
		Name: trimmed(v.Get(compute.FieldName)), Kind: compute.KindCluster, Location: v.Get(compute.FieldLocation),
		Cluster: c, CreatedBy: user, Secrets: map[string]string{compute.SecretAdminPassword: secrets[compute.FieldAdminPassword]},
	}
	if len(errs.Fields) > 0 {
		return req, errs
	}
	return req, nil
}

func clusterInputs(step int, v url.Values) []components.Input {
	switch step {
	case 0:
		return []components.Input{
			{Name: compute.FieldLocation, Label: "Location", Type: "select", Value: withDefault(v, compute.FieldLocation, "local"),
				Options: []components.Option{{Value: "local", Label: "local (this server)"}},
				Hint:    "Clusters run where Trainyard's backend is; the local backend runs them on this machine."},
			{Name: compute.FieldVMPriority, Label: "Virtual machine tier", Type: "select", Value: withDefault(v, compute.FieldVMPriority, "Dedicated"),
				Options: []components.Option{{Value: "Dedicated", Label: "Dedicated"}, {Value: "LowPriority", Label: "Low priority (cheaper, may be preempted)"}}},
			{Name: compute.FieldVMType, Label: "Virtual machine type", Type: "select", Value: withDefault(v, compute.FieldVMType, "CPU"),
				Options: []components.Option{{Value: "CPU", Label: "CPU"}, {Value: "GPU", Label: "GPU"}}, Hint: "Cannot be changed after creation."},
		}
	case 1:
		return []components.Input{
			{Name: compute.FieldName, Label: "Compute name", Value: v.Get(compute.FieldName), Required: true, Autocomplete: "off",
				Hint: "3–24 characters: letters, digits and hyphens, starting with a letter."},
			{Name: compute.FieldMinNodes, Label: "Minimum number of nodes", Type: "number", Value: withDefault(v, compute.FieldMinNodes, "0"),
				Hint: "0 scales to zero when idle, so nothing runs (or costs) while there is no work."},
			{Name: compute.FieldMaxNodes, Label: "Maximum number of nodes", Type: "number", Value: withDefault(v, compute.FieldMaxNodes, strconv.Itoa(compute.DefaultMaxNodes)), Required: true},
			{Name: compute.FieldIdleSeconds, Label: "Idle seconds before scale down", Type: "number", Value: withDefault(v, compute.FieldIdleSeconds, strconv.Itoa(compute.DefaultIdleSeconds)),
				Hint: fmt.Sprintf("Between %d and %d.", compute.MinIdleSecondsScaleDown, compute.MaxIdleSecondsScaleDown)},
			{Name: compute.FieldAdminUser, Label: "SSH admin user name (optional)", Value: v.Get(compute.FieldAdminUser), Autocomplete: "off",
				Hint: "Enables SSH to the nodes. Cannot be changed after creation."},
			{Name: compute.FieldAdminPassword, Label: "SSH admin password", Type: "password"},
			{Name: compute.FieldSSHPublicKey, Label: "or SSH public key", Type: "textarea", Value: v.Get(compute.FieldSSHPublicKey), Hint: "ssh-rsa AAAA… or a PEM public key."},
			{Name: compute.FieldIdentity, Label: "Managed identity", Type: "select", Value: v.Get(compute.FieldIdentity),
				Options: []components.Option{{Value: "", Label: "None"}, {Value: "SystemAssigned", Label: "System-assigned"}, {Value: "UserAssigned", Label: "User-assigned"}}},
			{Name: compute.FieldUserIdentity, Label: "User-assigned identity resource ID", Value: v.Get(compute.FieldUserIdentity), Hint: "Only for a user-assigned identity."},
		}
	}
	return nil
}

func clusterReview(req *compute.CreateRequest) []pages.AttrVM {
	c := req.Cluster
	price := ""
	if s, ok := compute.LookupVMSize(c.VMSize); ok {
		p := s.Price(c.VMPriority)
		price = fmt.Sprintf("$%.2f per node hour; $%.2f – $%.2f per hour at %d – %d nodes (estimate)", p, p*float64(c.MinNodes), p*float64(c.MaxNodes), c.MinNodes, c.MaxNodes)
	}
	ssh := "Disabled"
	if c.AdminUserName != "" {
		ssh = "Enabled for " + c.AdminUserName
	}
	return []pages.AttrVM{
		{Label: "Compute name", Value: req.Name},
		{Label: "Location", Value: req.Location},
		{Label: "Virtual machine tier", Value: string(c.VMPriority)},
		{Label: "Virtual machine type", Value: c.VMType},
		{Label: "Virtual machine size", Value: sizeText(c.VMSize)},
		{Label: "Minimum / maximum nodes", Value: fmt.Sprintf("%d / %d", c.MinNodes, c.MaxNodes)},
		{Label: "Idle seconds before scale down", Value: strconv.Itoa(c.IdleSecondsBeforeScaleDown)},
		{Label: "SSH", Value: ssh},
		{Label: "Managed identity", Value: orNone(c.IdentityType)},
		{Label: "Estimated cost", Value: price},
	}
}
