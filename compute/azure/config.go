// Package azure is the backend of Azure Machine Learning workspaces: their
// computes are read and changed through Azure Resource Manager with the
// official SDK (armmachinelearning), as the signed-in user (a delegated
// token) or as the service principal configured at serve time. ARM is the
// source of truth; the server keeps a cache of what it last read
// (store/azure_cache.go) so pages render at once.
//
// Contract: the Machine Learning Services REST API, api-version
// 2025-12-01 (azure-rest-api-specs, specification/machinelearningservices/
// resource-manager/Microsoft.MachineLearningServices/stable/2025-12-01),
// and the Microsoft identity platform's client-credentials flow. The tests
// stand on those published examples, replayed by package armreplay.
package azure

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
)

// The defaults of trainyard serve: Azure's public cloud.
const (
	DefaultEndpoint      = "https://management.azure.com"
	DefaultAuthorityHost = "https://login.microsoftonline.com/"
	// APIVersion is the REST API version every request names (the SDK,
	// armmachinelearning v4.0.0, was generated for 2024-04-01 and is told
	// to send this one), and that the replayed examples are taken from.
	APIVersion = "2025-12-01"
)

// Config is how the server reaches Azure.
type Config struct {
	// Endpoint is Azure Resource Manager's base URL (Azure Government:
	// https://management.usgovcloudapi.net, Azure China:
	// https://management.chinacloudapi.cn). An Azure Stack hub's endpoint
	// is taken, but tokens are then asked for the public cloud's audience,
	// which a hub refuses: its own audience is not configurable yet.
	Endpoint string
	// AuthorityHost is the Microsoft Entra ID authority
	// (https://login.microsoftonline.us/, https://login.chinacloudapi.cn/,
	// or an Azure Stack AD FS). Any authority other than the three public
	// ones is used as given, with instance discovery off.
	AuthorityHost string
	// TenantID, ClientID and ClientSecret are the service principal used
	// where no user's delegated token is at hand (login-token mode, the
	// background refresh). All three or none.
	TenantID, ClientID, ClientSecret string
}

// knownClouds are the sovereign clouds whose authority and ARM audience
// the SDK knows; the audience is what tokens are requested for.
var knownClouds = []cloud.Configuration{cloud.AzurePublic, cloud.AzureGovernment, cloud.AzureChina}

// HasServicePrincipal reports whether a service principal is configured.
func (c Config) HasServicePrincipal() bool { return c.ClientID != "" }

// Check reports what is wrong with the configuration, in words naming the
// serve settings.
func (c Config) Check() error {
	var errs []error
	for _, u := range []struct{ name, value string }{
		{"TRAINYARD_ARM_ENDPOINT", c.endpoint()}, {"TRAINYARD_AZURE_AUTHORITY_HOST", c.authority()},
	} {
		p, err := url.Parse(u.value)
		if err != nil || p.Scheme != "https" || p.Host == "" {
			errs = append(errs, fmt.Errorf("%s %q: want an https:// URL", u.name, u.value))
		}
	}
	set := 0
	for _, v := range []string{c.TenantID, c.ClientID, c.ClientSecret} {
		if v != "" {
			set++
		}
	}
	if set != 0 && set != 3 {
		errs = append(errs, errors.New("a service principal needs TRAINYARD_AZURE_TENANT_ID, TRAINYARD_AZURE_CLIENT_ID and TRAINYARD_AZURE_CLIENT_SECRET together"))
	}
	return errors.Join(errs...)
}

func (c Config) endpoint() string {
	if c.Endpoint == "" {
		return DefaultEndpoint
	}
	return strings.TrimRight(c.Endpoint, "/")
}

func (c Config) authority() string {
	if c.AuthorityHost == "" {
		return DefaultAuthorityHost
	}
	if !strings.HasSuffix(c.AuthorityHost, "/") {
		return c.AuthorityHost + "/"
	}
	return c.AuthorityHost
}

// Cloud is the SDK's cloud configuration: the authority, ARM's endpoint,
// and the audience tokens are asked for. The audience is ARM's own URL in
// the known cloud whose endpoint or authority matches (ARM accepts it as
// well as the older management.core one), else the public cloud's, so the
// scope is https://management.azure.com/.default unless a sovereign cloud
// is configured.
func (c Config) Cloud() cloud.Configuration {
	audience := strings.TrimRight(cloud.AzurePublic.Services[cloud.ResourceManager].Endpoint, "/")
	for _, k := range knownClouds {
		rm := k.Services[cloud.ResourceManager]
		if strings.EqualFold(strings.TrimRight(rm.Endpoint, "/"), c.endpoint()) || strings.EqualFold(k.ActiveDirectoryAuthorityHost, c.authority()) {
			audience = strings.TrimRight(rm.Endpoint, "/")
			break
		}
	}
	return cloud.Configuration{
		ActiveDirectoryAuthorityHost: c.authority(),
		Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Endpoint: c.endpoint(), Audience: audience},
		},
	}
}

// Scope is the OAuth scope of ARM tokens: the audience's /.default.
func (c Config) Scope() string {
	return strings.TrimRight(c.Cloud().Services[cloud.ResourceManager].Audience, "/") + "/.default"
}

// DelegatedScope is the scope asked for at Entra ID sign-in so that the
// server may call ARM as the user.
func (c Config) DelegatedScope() string {
	return strings.TrimRight(c.Cloud().Services[cloud.ResourceManager].Audience, "/") + "/user_impersonation"
}

// customAuthority reports whether the authority is none of the known
// clouds', so MSAL must not try instance discovery against the public
// cloud (Azure Stack, a test authority).
func (c Config) customAuthority() bool {
	for _, k := range knownClouds {
		if strings.EqualFold(k.ActiveDirectoryAuthorityHost, c.authority()) {
			return false
		}
	}
	return true
}
