package arm

import (
	"encoding/json"
	"strings"

	"github.com/trainyard/trainyard/compute"
)

// WithInstanceAccess adds to an instance's resource what FromTarget cannot
// know from the target alone: its applications (absolute addresses on this
// server, whose public URL is baseURL) and, when SSH is on, where it is
// reached, as ARM's ComputeInstance has them. Other kinds come back as
// they are.
func WithInstanceAccess(c Compute, t *compute.Target, baseURL string, host compute.AppHost) Compute {
	if t.Kind != compute.KindInstance || len(c.Properties.Properties) == 0 {
		return c
	}
	var p ComputeInstanceProperties
	if err := json.Unmarshal(c.Properties.Properties, &p); err != nil {
		return c
	}
	base := strings.TrimSuffix(baseURL, "/")
	for _, a := range compute.InstanceApps(t, host) {
		uri := a.URL
		if strings.HasPrefix(uri, "/") {
			uri = base + uri
		}
		p.Applications = append(p.Applications, ComputeInstanceApplication{DisplayName: a.Name, EndpointURI: uri})
	}
	if e, ok := host.SSH(t); ok {
		p.ConnectivityEndpoints = &ConnectivityEndpoints{PublicIPAddress: e.Host, PrivateIPAddress: e.Host, SSHPort: e.Port}
		if p.SSHSettings != nil {
			p.SSHSettings.SSHPort = e.Port
		}
	}
	if raw, err := json.Marshal(p); err == nil {
		c.Properties.Properties = raw
	}
	return c
}
