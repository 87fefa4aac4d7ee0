package azure

import (
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// ServicePrincipal returns the client-credentials credential of cfg: tokens
// from <authority>/<tenant>/oauth2/v2.0/token for cfg.Scope(), fetched
// through hc. It returns nil, nil when no service principal is configured.
func ServicePrincipal(cfg Config, hc *http.Client) (azcore.TokenCredential, error) {
	if !cfg.HasServicePrincipal() {
		return nil, nil
	}
	opts := &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{Cloud: cfg.Cloud(), Transport: hc},
		// Discovery asks the public cloud which authorities exist; a
		// sovereign cloud's or Azure Stack's authority is taken as given.
		DisableInstanceDiscovery: cfg.customAuthority(),
	}
	cred, err := azidentity.NewClientSecretCredential(cfg.TenantID, cfg.ClientID, cfg.ClientSecret, opts)
	if err != nil {
		return nil, fmt.Errorf("service principal: %w", err)
	}
	return cred, nil
}
