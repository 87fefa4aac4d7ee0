package handlers

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/views/components"
	"github.com/trainyard/trainyard/views/pages"
)

// attachTypes are the attach forms, in the order the type picker shows them.
var attachTypes = []struct {
	id    string
	kind  compute.Kind
	label string
}{
	{"virtualmachine", compute.KindVirtualMachine, "Virtual machine"},
	{"hdinsight", compute.KindHDInsight, "HDInsight"},
	{"databricks", compute.KindDatabricks, "Azure Databricks"},
	{"adla", compute.KindDataLakeAnalytics, "Data Lake Analytics"},
	{"batch", compute.KindBatch, "Azure Batch"},
	{"slurm", compute.KindSlurm, "Slurm cluster"},
}

// attachKind is the kind an attach form's id is for ("" when none).
func attachKind(id string) compute.Kind {
	for _, a := range attachTypes {
		if a.id == id {
			return a.kind
		}
	}
	return ""
}

// attachForm is the form for one attach type (docs/design/studio-compute.md §1.7).
func attachForm(id string) *formSpec {
	kind := attachKind(id)
	var label string
	for _, a := range attachTypes {
		if a.id == id {
			label = a.label
		}
	}
	if kind == "" {
		return nil
	}
	f := &formSpec{
		id: id, path: "/computes/attach/" + id, heading: "Attach " + label, crumbTab: kind.Tab(), pickerStep: -1,
		intro: "Attaching records a machine or service that already exists. Trainyard never deletes it; detaching only forgets it.",
	}
	for _, a := range attachTypes {
		f.choices = append(f.choices, pages.TabVM{ID: a.id, Label: a.label, Href: "/computes/attach/" + a.id})
	}
	fields := []string{compute.FieldName}
	switch kind {
	case compute.KindVirtualMachine, compute.KindHDInsight:
		fields = append(fields, compute.FieldAddress, compute.FieldResourceID, compute.FieldSSHPort, compute.FieldUserName, compute.FieldPassword, compute.FieldPrivateKey, "privateKeyPassphrase")
		f.secrets = []string{compute.FieldPassword, compute.FieldPrivateKey, "privateKeyPassphrase"}
	case compute.KindDatabricks:
		fields = append(fields, compute.FieldWorkspace, compute.FieldResourceGroup, compute.FieldToken)
		f.secrets = []string{compute.FieldToken}
	case compute.KindDataLakeAnalytics, compute.KindBatch:
		fields = append(fields, compute.FieldAccountName, compute.FieldResourceGroup)
	case compute.KindSlurm:
		fields = append(fields, compute.FieldRESTURL, compute.FieldSlurmUser, compute.FieldPartition, compute.FieldSharedDir, compute.FieldSlurmConf, compute.FieldJWTKey, compute.FieldToken)
		f.secrets = []string{compute.FieldJWTKey, compute.FieldToken}
	}
	f.stepFields = [][]string{fields}
	f.build = func(v url.Values, secrets map[string]string, user string) (*compute.CreateRequest, *compute.ValidationError) {
		errs := &compute.ValidationError{}
		a := &compute.AttachSpec{
			Address: trimmed(v.Get(compute.FieldAddress)), SSHPort: intField(v, compute.FieldSSHPort, "SSH port", compute.DefaultSSHPort, errs),
			UserName: trimmed(v.Get(compute.FieldUserName)), Workspace: trimmed(v.Get(compute.FieldWorkspace)),
			ResourceGroup: trimmed(v.Get(compute.FieldResourceGroup)), AccountName: trimmed(v.Get(compute.FieldAccountName)),
			RESTURL: trimmed(v.Get(compute.FieldRESTURL)), SlurmUser: trimmed(v.Get(compute.FieldSlurmUser)),
			SlurmPartition: trimmed(v.Get(compute.FieldPartition)), SharedDir: trimmed(v.Get(compute.FieldSharedDir)),
			SlurmConf: trimmed(v.Get(compute.FieldSlurmConf)),
		}
		req := &compute.CreateRequest{
			Name: trimmed(v.Get(compute.FieldName)), Kind: kind, Attach: a, ResourceID: trimmed(v.Get(compute.FieldResourceID)), CreatedBy: user,
			Secrets: map[string]string{
				compute.SecretPassword: secrets[compute.FieldPassword], compute.SecretPrivateKey: secrets[compute.FieldPrivateKey],
				compute.SecretPassphrase: secrets["privateKeyPassphrase"],
			},
		}
		switch kind {
		case compute.KindDatabricks:
			req.Secrets = map[string]string{compute.SecretAccessToken: secrets[compute.FieldToken]}
		case compute.KindSlurm:
			req.Secrets = map[string]string{compute.SecretSlurmToken: trimmed(secrets[compute.FieldToken]),
				compute.SecretSlurmJWTKey: strings.Join(strings.Fields(secrets[compute.FieldJWTKey]), "")}
		case compute.KindDataLakeAnalytics, compute.KindBatch:
			req.Secrets = nil
		}
		if len(errs.Fields) > 0 {
			return req, errs
		}
		return req, nil
	}
	f.inputs = func(_ int, v url.Values) []components.Input { return attachInputs(kind, v) }
	return f
}

func attachInputs(kind compute.Kind, v url.Values) []components.Input {
	in := []components.Input{{Name: compute.FieldName, Label: "Compute name", Value: v.Get(compute.FieldName), Required: true, Autocomplete: "off",
		Hint: "3–24 characters: letters, digits and hyphens, starting with a letter."}}
	switch kind {
	case compute.KindVirtualMachine, compute.KindHDInsight:
		idHint := "/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Compute/virtualMachines/<vm>"
		addrHint := "Host name or IP address Trainyard connects to over SSH. Do not attach the same machine twice."
		if kind == compute.KindHDInsight {
			idHint = "/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.HDInsight/clusters/<cluster>"
			addrHint = "Leave empty to use <cluster>-ssh.azurehdinsight.net from the resource ID."
		}
		in = append(in,
			components.Input{Name: compute.FieldAddress, Label: "Address", Value: v.Get(compute.FieldAddress), Hint: addrHint, Autocomplete: "off"},
			components.Input{Name: compute.FieldResourceID, Label: "Resource ID (optional)", Value: v.Get(compute.FieldResourceID), Hint: idHint, Autocomplete: "off"},
			components.Input{Name: compute.FieldSSHPort, Label: "SSH port", Type: "number", Value: withDefault(v, compute.FieldSSHPort, strconv.Itoa(compute.DefaultSSHPort))},
			components.Input{Name: compute.FieldUserName, Label: "User name", Value: v.Get(compute.FieldUserName), Required: true, Autocomplete: "off"},
			components.Input{Name: compute.FieldPassword, Label: "Password", Type: "password", Hint: "Or give a private key below. Stored sealed; never shown again."},
			components.Input{Name: compute.FieldPrivateKey, Label: "SSH private key", Type: "textarea", Autocomplete: "off", Hint: "-----BEGIN OPENSSH PRIVATE KEY----- … Stored sealed; never shown again."},
			components.Input{Name: "privateKeyPassphrase", Label: "Private key passphrase", Type: "password"},
		)
	case compute.KindDatabricks:
		in = append(in,
			components.Input{Name: compute.FieldWorkspace, Label: "Databricks workspace name", Value: v.Get(compute.FieldWorkspace), Required: true},
			components.Input{Name: compute.FieldResourceGroup, Label: "Resource group", Value: v.Get(compute.FieldResourceGroup), Required: true},
			components.Input{Name: compute.FieldToken, Label: "Databricks access token", Type: "password", Required: true, Hint: "Stored sealed; never shown again."},
		)
	case compute.KindDataLakeAnalytics, compute.KindBatch:
		label := "Data Lake Analytics account name"
		if kind == compute.KindBatch {
			label = "Batch account name"
		}
		in = append(in,
			components.Input{Name: compute.FieldAccountName, Label: label, Value: v.Get(compute.FieldAccountName), Required: true},
			components.Input{Name: compute.FieldResourceGroup, Label: "Resource group", Value: v.Get(compute.FieldResourceGroup), Required: true},
		)
	case compute.KindSlurm:
		in = append(in,
			components.Input{Name: compute.FieldRESTURL, Label: "slurmrestd URL", Value: v.Get(compute.FieldRESTURL), Required: true, Hint: "e.g. http://slurm-head:6820"},
			components.Input{Name: compute.FieldSlurmUser, Label: "Slurm user", Value: v.Get(compute.FieldSlurmUser), Required: true, Autocomplete: "off", Hint: "The user jobs are submitted as."},
			components.Input{Name: compute.FieldPartition, Label: "Partition (optional)", Value: v.Get(compute.FieldPartition), Autocomplete: "off",
				Hint: "The partition runs go to. Leave empty for the cluster's default partition."},
			components.Input{Name: compute.FieldSharedDir, Label: "Shared directory", Value: v.Get(compute.FieldSharedDir), Autocomplete: "off",
				Hint: "An absolute path that this server and every node see alike (NFS, or a local folder on a one-machine cluster); runs are staged and their logs written there."},
			components.Input{Name: compute.FieldSlurmConf, Label: "slurm.conf path (optional, for autoscaling)", Value: v.Get(compute.FieldSlurmConf), Autocomplete: "off",
				Hint: "Where this server reads slurm.conf (it must run on the head node or share its /etc/slurm). With it, min/max nodes and idle seconds of a partition of power-saving nodes can be edited; see docs/OPERATIONS.md."},
			components.Input{Name: compute.FieldJWTKey, Label: "JWT key (base64)", Type: "textarea", Autocomplete: "off",
				Hint: "The cluster's jwt_hs256.key as base64 (base64 -w0 jwt_hs256.key): Trainyard then makes its own short-lived tokens. Or give a token below. Stored sealed; never shown again."},
			components.Input{Name: compute.FieldToken, Label: "slurmrestd JWT token", Type: "password", Autocomplete: "off", Hint: "A token from scontrol token lifespan=…, used until it expires. Stored sealed; never shown again."},
		)
	}
	return in
}
