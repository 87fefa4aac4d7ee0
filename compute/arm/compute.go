// Package arm is the Azure Resource Manager shape of a
// Microsoft.MachineLearningServices compute: the JSON that Trainyard's API
// sends and accepts, modelled on the REST API (docs/design/studio-compute.md §2). It
// converts between that shape and the domain types of package compute.
//
// The envelope (Compute, Properties) is typed. The per-kind inner object,
// properties.properties, is kept as raw JSON so that a body of any compute
// type decodes; Properties.Inner turns it into the typed struct for its
// computeType. Secrets (passwords, private keys, access tokens) are accepted
// in request bodies and never rendered: FromTarget has no way to fill them.
package arm

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// ResourceType is the ARM type of every compute resource.
const ResourceType = "Microsoft.MachineLearningServices/workspaces/computes"

// DefaultIDPrefix is the ARM ID of the computes collection of Trainyard's
// single, local workspace. A compute's ID is the prefix, "/" and its name.
const DefaultIDPrefix = "/subscriptions/local/resourceGroups/trainyard/providers/Microsoft.MachineLearningServices/workspaces/default/computes"

// Compute is the ARM envelope of one compute resource.
type Compute struct {
	ID       string            `json:"id,omitempty"`
	Name     string            `json:"name,omitempty"`
	Type     string            `json:"type,omitempty"` // always ResourceType
	Location string            `json:"location,omitempty"`
	Tags     map[string]string `json:"tags,omitempty"`
	// Identity is the managed identity of a cluster (ManagedServiceIdentity).
	Identity   *Identity  `json:"identity,omitempty"`
	Properties Properties `json:"properties"`
}

// ComputeList is the body of the list operation; NextLink, when set, is the
// URL of the next page.
type ComputeList struct {
	Value    []Compute `json:"value"`
	NextLink string    `json:"nextLink,omitempty"`
}

// Identity is ARM's ManagedServiceIdentity: SystemAssigned, or UserAssigned
// with the resource IDs of the identities as keys.
type Identity struct {
	Type                   string                          `json:"type"` // None, SystemAssigned, UserAssigned
	PrincipalID            string                          `json:"principalId,omitempty"`
	TenantID               string                          `json:"tenantId,omitempty"`
	UserAssignedIdentities map[string]UserAssignedIdentity `json:"userAssignedIdentities,omitempty"`
}

// UserAssignedIdentity is the read-only description of one user-assigned
// identity; requests send an empty object.
type UserAssignedIdentity struct {
	PrincipalID string `json:"principalId,omitempty"`
	ClientID    string `json:"clientId,omitempty"`
}

// Properties is the base Compute object shared by every compute type.
type Properties struct {
	// ComputeType is the discriminator: a compute.Kind value such as AmlCompute.
	ComputeType       string `json:"computeType"`
	ComputeLocation   string `json:"computeLocation,omitempty"`
	ProvisioningState string `json:"provisioningState,omitempty"` // read-only
	Description       string `json:"description,omitempty"`
	// CreatedOn and ModifiedOn are read-only.
	CreatedOn  time.Time `json:"createdOn,omitzero"`
	ModifiedOn time.Time `json:"modifiedOn,omitzero"`
	// ResourceID is the ARM ID of the underlying resource (attached VMs, HDInsight).
	ResourceID string `json:"resourceId,omitempty"`
	// ProvisioningErrors are read-only, one per error the backend reported.
	ProvisioningErrors []ErrorResponse `json:"provisioningErrors,omitempty"`
	// IsAttachedCompute is read-only: true when the user brought the compute.
	IsAttachedCompute bool `json:"isAttachedCompute"`
	// Properties is the per-type object (properties.properties); see Inner.
	Properties json.RawMessage `json:"properties,omitempty"`
	// TrainyardStatus is read-only and Trainyard's own (ARM has no such
	// field): the state word, allocation state, health and next step the
	// pages show, told by compute.StoryOf so the API and CLI say the same.
	TrainyardStatus *compute.Story `json:"trainyardStatus,omitempty"`
	// TrainyardCost is read-only and Trainyard's own too: the price per
	// node-hour, node hours and accrued cost (compute.Cost), on the GET of
	// one compute.
	TrainyardCost *compute.Cost `json:"trainyardCost,omitempty"`
}

// KindOf returns the compute.Kind a computeType names, matched
// case-insensitively, and whether Trainyard knows it.
func KindOf(computeType string) (compute.Kind, bool) {
	for _, k := range compute.Kinds() {
		if strings.EqualFold(string(k), computeType) {
			return k, true
		}
	}
	return compute.Kind(computeType), false
}

// Inner decodes properties.properties into the typed struct for ComputeType:
// *AmlComputeProperties, *ComputeInstanceProperties,
// *VirtualMachineProperties, *HDInsightProperties, *DatabricksProperties,
// *DataLakeAnalyticsProperties, *AzureBatchProperties or *SlurmProperties.
// An absent or null object gives the zero struct. It returns (nil, nil) for
// Local and for compute types Trainyard does not know, and a *RequestError
// when the JSON does not fit the type.
func (p Properties) Inner() (any, error) {
	kind, _ := KindOf(p.ComputeType)
	var v any
	switch kind {
	case compute.KindCluster:
		v = &AmlComputeProperties{}
	case compute.KindInstance:
		v = &ComputeInstanceProperties{}
	case compute.KindVirtualMachine:
		v = &VirtualMachineProperties{}
	case compute.KindHDInsight:
		v = &HDInsightProperties{}
	case compute.KindDatabricks:
		v = &DatabricksProperties{}
	case compute.KindDataLakeAnalytics:
		v = &DataLakeAnalyticsProperties{}
	case compute.KindBatch:
		v = &AzureBatchProperties{}
	case compute.KindSlurm:
		v = &SlurmProperties{}
	default:
		return nil, nil
	}
	raw := bytes.TrimSpace(p.Properties)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return v, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, decodeError(err, "properties.properties")
	}
	return v, nil
}

// SetInner stores v (one of the typed per-kind structs, or nil to clear) as
// properties.properties.
func (p *Properties) SetInner(v any) error {
	if v == nil {
		p.Properties = nil
		return nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	p.Properties = raw
	return nil
}
