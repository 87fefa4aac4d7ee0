package compute

import (
	"encoding/json"
	"regexp"
	"strings"
	"time"
)

// LocalWorkspace is the alias of the built-in workspace: the targets this
// server runs itself (local, SSH VMs, Slurm). It is never registered.
const LocalWorkspace = "local"

// Workspace is an Azure Machine Learning workspace an Admin registered: its
// computes live in Azure Resource Manager, not in this server's store, and
// are read and changed there (compute/azure).
type Workspace struct {
	Alias          string // how users name it: ?workspace=ALIAS, --workspace ALIAS
	SubscriptionID string
	ResourceGroup  string
	Name           string // the workspace's name in Azure
	CreatedBy      string
	CreatedAt      time.Time
}

// ResourceID is the workspace's ARM resource ID.
func (w Workspace) ResourceID() string {
	return "/subscriptions/" + w.SubscriptionID + "/resourceGroups/" + w.ResourceGroup +
		"/providers/Microsoft.MachineLearningServices/workspaces/" + w.Name
}

// ComputesID is the ARM ID of the workspace's computes collection; a
// compute's ID is it, "/" and the compute's name.
func (w Workspace) ComputesID() string { return w.ResourceID() + "/computes" }

var (
	// aliasPattern: a short, URL- and shell-safe name.
	aliasPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{1,31}$`)
	// subscriptionPattern: Azure subscription IDs are GUIDs.
	subscriptionPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	// resourceGroupPattern: ARM's rule for resource group names (1-90
	// characters: letters, digits, underscores, hyphens, periods and
	// parentheses, not ending in a period).
	resourceGroupPattern = regexp.MustCompile(`^[-\w._()]{1,90}$`)
	// workspaceNamePattern: Azure ML's rule for workspace names (3-33
	// characters, starting with a letter or digit).
	workspaceNamePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$`)
)

// Check returns every rule the workspace's fields break, named by the CLI
// and API field names.
func (w Workspace) Check() error {
	v := &ValidationError{}
	switch {
	case w.Alias == LocalWorkspace:
		v.Add("alias", "%q is the built-in workspace; choose another alias", LocalWorkspace)
	case !aliasPattern.MatchString(w.Alias):
		v.Add("alias", "an alias is 2-32 lower-case letters, digits and hyphens, starting with a letter")
	}
	if !subscriptionPattern.MatchString(w.SubscriptionID) {
		v.Add("subscriptionId", "a subscription ID is a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)")
	}
	if !resourceGroupPattern.MatchString(w.ResourceGroup) || strings.HasSuffix(w.ResourceGroup, ".") {
		v.Add("resourceGroup", "a resource group name is 1-90 letters, digits, '_', '-', '.', '(' or ')', not ending in '.'")
	}
	if !workspaceNamePattern.MatchString(w.Name) {
		v.Add("workspaceName", "a workspace name is 3-33 letters, digits, '_' or '-', starting with a letter or digit")
	}
	return v.Err()
}

// CachedCompute is what Azure Resource Manager last said about one compute
// of a workspace: its JSON verbatim, and the error of the last operation on
// it ("" when none) as ARM worded it.
type CachedCompute struct {
	Name      string
	Body      json.RawMessage
	OpError   string
	UpdatedAt time.Time
}

// WorkspaceSnapshot is the cached list of a workspace's computes: AsOf is
// when ARM's list was last read in full (zero: never), Error why the last
// read failed ("" when it did not).
type WorkspaceSnapshot struct {
	Computes []CachedCompute
	AsOf     time.Time
	Error    string
}
