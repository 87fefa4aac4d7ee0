package compute

import (
	"fmt"
	"regexp"
	"strings"
)

// ResourceID is a parsed Azure Resource Manager ID of the form
// /subscriptions/<sub>/resourceGroups/<rg>/providers/<Namespace>/<type>/<name>[/<child type>/<child name>].
type ResourceID struct {
	Subscription  string
	ResourceGroup string
	Provider      string // e.g. Microsoft.Compute
	Types         []string
	Names         []string
}

// Name is the last name segment (the resource's own name).
func (r ResourceID) Name() string {
	if len(r.Names) == 0 {
		return ""
	}
	return r.Names[len(r.Names)-1]
}

// String renders the ID in canonical form.
func (r ResourceID) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "/subscriptions/%s/resourceGroups/%s/providers/%s", r.Subscription, r.ResourceGroup, r.Provider)
	for i := range r.Types {
		fmt.Fprintf(&b, "/%s/%s", r.Types[i], r.Names[i])
	}
	return b.String()
}

// The resource types that can be attached by ID, with the exact provider and
// type segments of docs/design/studio-compute.md §1.7.
var (
	ResourceTypeVM        = ResourceType{Provider: "Microsoft.Compute", Types: []string{"virtualMachines"}, Example: "/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Compute/virtualMachines/<vm>"}
	ResourceTypeHDInsight = ResourceType{Provider: "Microsoft.HDInsight", Types: []string{"clusters"}, Example: "/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.HDInsight/clusters/<cluster>"}
)

// ResourceType is the provider and type path an ID must have.
type ResourceType struct {
	Provider string
	Types    []string
	Example  string
}

var (
	guidRE          = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	resourceGroupRE = regexp.MustCompile(`^[-\w._()]{1,90}$`)
	resourceNameRE  = regexp.MustCompile(`^[A-Za-z0-9][-A-Za-z0-9_.]{0,63}$`)
)

// ParseResourceID parses and checks an ARM resource ID against the type it
// must be. Segment keywords are matched case-insensitively, as ARM does; the
// error says which segment is wrong and shows the expected shape.
func ParseResourceID(s string, want ResourceType) (ResourceID, error) {
	fail := func(format string, args ...any) (ResourceID, error) {
		return ResourceID{}, fmt.Errorf("%s; expected %s: %w", fmt.Sprintf(format, args...), want.Example, ErrInvalid)
	}
	if !strings.HasPrefix(s, "/") {
		return fail("a resource ID starts with /subscriptions/")
	}
	seg := strings.Split(strings.TrimSuffix(s[1:], "/"), "/")
	if len(seg) != 6+2*len(want.Types) {
		return fail("the ID has %d segments, not %d", len(seg), 6+2*len(want.Types))
	}
	if !strings.EqualFold(seg[0], "subscriptions") || !strings.EqualFold(seg[2], "resourceGroups") || !strings.EqualFold(seg[4], "providers") {
		return fail("the ID must read /subscriptions/…/resourceGroups/…/providers/…")
	}
	id := ResourceID{Subscription: seg[1], ResourceGroup: seg[3], Provider: seg[5]}
	if !guidRE.MatchString(id.Subscription) {
		return fail("subscription %q is not a GUID", id.Subscription)
	}
	if !resourceGroupRE.MatchString(id.ResourceGroup) || strings.HasSuffix(id.ResourceGroup, ".") {
		return fail("resource group %q is not a valid name", id.ResourceGroup)
	}
	if !strings.EqualFold(id.Provider, want.Provider) {
		return fail("provider is %q, not %s", id.Provider, want.Provider)
	}
	id.Provider = want.Provider
	for i, typ := range want.Types {
		gotType, name := seg[6+2*i], seg[7+2*i]
		if !strings.EqualFold(gotType, typ) {
			return fail("resource type is %q, not %s", gotType, typ)
		}
		if !resourceNameRE.MatchString(name) {
			return fail("resource name %q is not valid", name)
		}
		id.Types = append(id.Types, typ)
		id.Names = append(id.Names, name)
	}
	return id, nil
}

var (
	accountNameRE = regexp.MustCompile(`^[a-z0-9]{3,24}$`)
	userNameRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,31}$`)
	hostRE        = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)
)
