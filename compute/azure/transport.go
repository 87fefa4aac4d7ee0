package azure

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// NewHTTPClient is the client every call to ARM and to the authority goes
// through. TLS trusts the system's roots (SSL_CERT_FILE and SSL_CERT_DIR are
// honoured, as Go does on Linux); no proxy is taken from the environment so
// the address check sees where a connection really goes; link-local and
// cloud-metadata addresses are refused at dial time (compute.NetPolicy with
// no networks of its own); and no redirect is ever followed, because every
// request carries a bearer token or the client secret.
func NewHTTPClient() *http.Client {
	var anywhere *compute.NetPolicy // nil: every address but the never-contacted ones
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: anywhere.DialControl}).DialContext
	tr.ResponseHeaderTimeout = 60 * time.Second
	return &http.Client{Transport: tr, Timeout: 2 * time.Minute, CheckRedirect: refuseRedirect}
}

// refuseRedirect is the CheckRedirect of NewHTTPClient.
func refuseRedirect(req *http.Request, _ []*http.Request) error {
	return &compute.CodedError{Kind: compute.ErrUnavailable, Code: "RedirectRefused",
		Message: fmt.Sprintf("Azure answered with a redirect to %s, which Trainyard does not follow (the request carries a credential)", req.URL.Redacted())}
}
