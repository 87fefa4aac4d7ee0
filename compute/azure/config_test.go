package azure_test

import (
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"

	"github.com/trainyard/trainyard/compute/azure"
)

func TestCloudsAndScopes(t *testing.T) {
	tests := []struct {
		name                       string
		cfg                        azure.Config
		endpoint, authority, scope string
		delegated                  string
	}{
		{"defaults: public cloud", azure.Config{}, "https://management.azure.com", "https://login.microsoftonline.com/",
			"https://management.azure.com/.default", "https://management.azure.com/user_impersonation"},
		{"Azure Government", azure.Config{Endpoint: "https://management.usgovcloudapi.net", AuthorityHost: "https://login.microsoftonline.us/"},
			"https://management.usgovcloudapi.net", "https://login.microsoftonline.us/", "https://management.usgovcloudapi.net/.default", "https://management.usgovcloudapi.net/user_impersonation"},
		{"Azure China", azure.Config{Endpoint: "https://management.chinacloudapi.cn/", AuthorityHost: "https://login.chinacloudapi.cn"},
			"https://management.chinacloudapi.cn", "https://login.chinacloudapi.cn/", "https://management.chinacloudapi.cn/.default", "https://management.chinacloudapi.cn/user_impersonation"},
		{"custom endpoint (Azure Stack, a test server): public audience", azure.Config{Endpoint: "https://127.0.0.1:8443", AuthorityHost: "https://127.0.0.1:8443"},
			"https://127.0.0.1:8443", "https://127.0.0.1:8443/", "https://management.azure.com/.default", "https://management.azure.com/user_impersonation"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cfg.Cloud()
			if got := c.Services[cloud.ResourceManager].Endpoint; got != tc.endpoint {
				t.Errorf("endpoint %q, want %q", got, tc.endpoint)
			}
			if c.ActiveDirectoryAuthorityHost != tc.authority {
				t.Errorf("authority %q, want %q", c.ActiveDirectoryAuthorityHost, tc.authority)
			}
			if got := tc.cfg.Scope(); got != tc.scope {
				t.Errorf("scope %q, want %q", got, tc.scope)
			}
			if got := tc.cfg.DelegatedScope(); got != tc.delegated {
				t.Errorf("delegated scope %q, want %q", got, tc.delegated)
			}
		})
	}
}

func TestConfigCheck(t *testing.T) {
	if err := (azure.Config{}).Check(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	if err := (azure.Config{Endpoint: "http://management.azure.com"}).Check(); err == nil {
		t.Error("an http:// endpoint was accepted")
	}
	if err := (azure.Config{ClientID: "x"}).Check(); err == nil {
		t.Error("a client ID without tenant and secret was accepted")
	}
}
