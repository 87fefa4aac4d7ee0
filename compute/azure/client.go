package azure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	armml "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/machinelearning/armmachinelearning/v4"

	"github.com/trainyard/trainyard/compute"
)

// Client is one workspace's computes in ARM, as one caller (a user's
// delegated token or the service principal) sees them. Bodies go in and
// out as ARM's JSON, the shape Trainyard's API speaks, after a round trip
// through the SDK's models (which checks them against the REST API).
type Client struct {
	ws       compute.Workspace
	computes *armml.ComputeClient
	sizes    *armml.VirtualMachineSizesClient
	usages   *armml.UsagesClient
	quotas   *armml.QuotasClient
	// PollEvery is how often a long-running operation's status is read
	// when ARM gives no Retry-After.
	pollEvery time.Duration
}

// ClientOptions tunes NewClient; the zero value is the production one.
type ClientOptions struct {
	// PollEvery is the polling interval of long-running operations when ARM
	// sends no Retry-After (default 5 s).
	PollEvery time.Duration
	// RetryDelay is the first backoff before retrying a 5xx (default 800 ms,
	// doubling); a 429 waits its Retry-After.
	RetryDelay time.Duration
	// Transport replaces the HTTP client (the SDK's fake servers in unit
	// tests); nil means hc.
	Transport policy.Transporter
}

// retriedStatuses are the answers worth another try of an idempotent
// request: the server did not do it, or may not have.
var retriedStatuses = []int{http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
	http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout}

// NewClient returns the client of ws for cred. Requests are retried as
// azcore does (429 after its Retry-After, 5xx with exponential backoff,
// three times) except the non-idempotent ones (notIdempotent).
func NewClient(cfg Config, ws compute.Workspace, cred azcore.TokenCredential, hc *http.Client, o ClientOptions) (*Client, error) {
	var tr policy.Transporter = hc
	if o.Transport != nil {
		tr = o.Transport
	}
	opts := &arm.ClientOptions{ClientOptions: azcore.ClientOptions{
		// armmachinelearning v4.0.0 was generated for 2024-04-01; azcore's
		// api-version policy makes every request (nextLink and polling
		// too) name 2025-12-01, the contract, whose examples the
		// tests replay (armreplay refuses any other version). Its models
		// keep every compute body of those examples
		// (TestSDKModelsKeepThe20251201Computes); a 2025-12-01 field no
		// example shows would be dropped.
		APIVersion: APIVersion,
		Cloud:      cfg.Cloud(),
		Transport:  tr,
		Retry: policy.RetryOptions{
			RetryDelay: o.RetryDelay,
			ShouldRetry: func(resp *http.Response, err error) bool {
				if resp == nil {
					return err != nil // the request may never have left; every call here that is retried at all is idempotent
				}
				return slices.Contains(retriedStatuses, resp.StatusCode)
			},
		},
	}}
	f, err := armml.NewClientFactory(ws.SubscriptionID, cred, opts)
	if err != nil {
		return nil, fmt.Errorf("azure client for %s: %w", ws.Alias, err)
	}
	every := o.PollEvery
	if every <= 0 {
		every = 5 * time.Second
	}
	return &Client{ws: ws, computes: f.NewComputeClient(), sizes: f.NewVirtualMachineSizesClient(),
		usages: f.NewUsagesClient(), quotas: f.NewQuotasClient(), pollEvery: every}, nil
}

// notIdempotent marks a call that must not be repeated after an answer
// that may mean it was carried out (start, stop, restart, PATCH): only a
// 429, which says it was not, is retried after its Retry-After.
func notIdempotent(ctx context.Context) context.Context {
	return policy.WithRetryOptions(ctx, policy.RetryOptions{ShouldRetry: func(resp *http.Response, _ error) bool {
		return resp != nil && resp.StatusCode == http.StatusTooManyRequests
	}})
}

// List returns every compute of the workspace, following nextLink.
func (c *Client) List(ctx context.Context) ([]json.RawMessage, error) {
	l, err := c.ListIfChanged(ctx, "")
	return l.Computes, err
}

// ComputeList is one full read of a workspace's computes.
type ComputeList struct {
	Computes []json.RawMessage
	// ETag is the one ARM gave with the first page ("" when none).
	ETag string
	// NotModified: ARM answered 304 to If-None-Match; Computes is empty
	// and the earlier read stands.
	NotModified bool
}

// ListIfChanged is List as a conditional request: with etag set (the one
// an earlier read got), the first page is asked for with If-None-Match,
// and a 304 Not Modified is NotModified. Contract: HTTP conditional
// requests (RFC 9110 §13.1.2 If-None-Match, §15.4.5 304), which ARM's
// resource provider contract applies where a resource gives an ETag. The
// compute list's REST examples show none, so against real ARM etag may
// stay "" and every read is a full one; armreplay gives an ETag over the
// whole collection so the conditional path is tested.
func (c *Client) ListIfChanged(ctx context.Context, etag string) (ComputeList, error) {
	var out ComputeList
	pager := c.computes.NewListPager(c.ws.ResourceGroup, c.ws.Name, nil)
	first := true
	for pager.More() {
		pctx := ctx
		var resp *http.Response
		if first {
			pctx = policy.WithCaptureResponse(pctx, &resp)
			if etag != "" {
				pctx = policy.WithHTTPHeader(pctx, http.Header{"If-None-Match": {etag}})
			}
		}
		page, err := pager.NextPage(pctx)
		if err != nil {
			var re *azcore.ResponseError
			if first && etag != "" && errors.As(err, &re) && re.StatusCode == http.StatusNotModified {
				return ComputeList{ETag: etag, NotModified: true}, nil
			}
			return ComputeList{}, fromSDK(err)
		}
		if first && resp != nil {
			out.ETag = resp.Header.Get("ETag")
		}
		first = false
		for _, r := range page.Value {
			raw, err := json.Marshal(r)
			if err != nil {
				return ComputeList{}, fmt.Errorf("encoding %s: %w", deref(r.Name), err)
			}
			out.Computes = append(out.Computes, raw)
		}
	}
	return out, nil
}

// Get returns one compute.
func (c *Client) Get(ctx context.Context, name string) (json.RawMessage, error) {
	r, err := c.computes.Get(ctx, c.ws.ResourceGroup, c.ws.Name, name, nil)
	if err != nil {
		return nil, fromSDK(err)
	}
	return json.Marshal(r.ComputeResource)
}

// Operation is a long-running ARM operation under way: Wait follows its
// Azure-AsyncOperation (or Location) until it ends; Token is the SDK's
// resume token, which a restarted server can Resume from.
type Operation struct {
	wait  func(ctx context.Context) error
	token func() (string, error)
}

// Wait follows the operation until it is terminal and returns its error,
// ARM's verbatim, when it failed.
func (o *Operation) Wait(ctx context.Context) error { return fromSDK(o.wait(ctx)) }

// Token returns the resume token of the operation.
func (o *Operation) Token() (string, error) { return o.token() }

func operation[T any](p *runtime.Poller[T], every time.Duration) *Operation {
	return &Operation{
		wait: func(ctx context.Context) error {
			_, err := p.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: every})
			return err
		},
		token: p.ResumeToken,
	}
}

// CreateOrUpdate starts a PUT of body (ARM's compute JSON) as name.
func (c *Client) CreateOrUpdate(ctx context.Context, name string, body []byte) (*Operation, error) {
	var res armml.ComputeResource
	if err := json.Unmarshal(body, &res); err != nil {
		return nil, compute.Invalid("properties", "the body is not an Azure ML compute: %v", err)
	}
	p, err := c.computes.BeginCreateOrUpdate(ctx, c.ws.ResourceGroup, c.ws.Name, name, res, nil)
	if err != nil {
		return nil, fromSDK(err)
	}
	return operation(p, c.pollEvery), nil
}

// Delete starts a DELETE; action is Delete or Detach
// (underlyingResourceAction).
func (c *Client) Delete(ctx context.Context, name, action string) (*Operation, error) {
	p, err := c.computes.BeginDelete(ctx, c.ws.ResourceGroup, c.ws.Name, name, armml.UnderlyingResourceAction(action), nil)
	if err != nil {
		return nil, fromSDK(err)
	}
	return operation(p, c.pollEvery), nil
}

// Power starts a start, stop or restart of a compute instance.
func (c *Client) Power(ctx context.Context, name string, a compute.PowerAction) (*Operation, error) {
	ctx = notIdempotent(ctx)
	rg, ws := c.ws.ResourceGroup, c.ws.Name
	switch a {
	case compute.ActionStart:
		p, err := c.computes.BeginStart(ctx, rg, ws, name, nil)
		if err != nil {
			return nil, fromSDK(err)
		}
		return operation(p, c.pollEvery), nil
	case compute.ActionStop:
		p, err := c.computes.BeginStop(ctx, rg, ws, name, nil)
		if err != nil {
			return nil, fromSDK(err)
		}
		return operation(p, c.pollEvery), nil
	case compute.ActionRestart:
		p, err := c.computes.BeginRestart(ctx, rg, ws, name, nil)
		if err != nil {
			return nil, fromSDK(err)
		}
		return operation(p, c.pollEvery), nil
	}
	return nil, compute.Invalid("action", "%q is not start, stop or restart", a)
}

// UpdateScale starts a PATCH of a cluster's scale settings.
func (c *Client) UpdateScale(ctx context.Context, name string, s compute.ScaleSettings) (*Operation, error) {
	idle := fmt.Sprintf("PT%dS", s.IdleSeconds)
	params := armml.ClusterUpdateParameters{Properties: &armml.ClusterUpdateProperties{Properties: &armml.ScaleSettingsInformation{
		ScaleSettings: &armml.ScaleSettings{MaxNodeCount: ptr(int32(s.MaxNodes)), MinNodeCount: ptr(int32(s.MinNodes)), NodeIdleTimeBeforeScaleDown: &idle},
	}}}
	p, err := c.computes.BeginUpdate(notIdempotent(ctx), c.ws.ResourceGroup, c.ws.Name, name, params, nil)
	if err != nil {
		return nil, fromSDK(err)
	}
	return operation(p, c.pollEvery), nil
}

// Nodes lists a compute's nodes, following nextLink.
func (c *Client) Nodes(ctx context.Context, name string) ([]compute.Node, error) {
	var out []compute.Node
	pager := c.computes.NewListNodesPager(c.ws.ResourceGroup, c.ws.Name, name, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fromSDK(err)
		}
		for _, n := range page.Nodes {
			out = append(out, compute.Node{
				ID: deref(n.NodeID), State: compute.NodeState(derefState(n.NodeState)),
				PrivateIP: deref(n.PrivateIPAddress), PublicIP: deref(n.PublicIPAddress),
				Port: int(derefInt(n.Port)), RunID: deref(n.RunID),
			})
		}
	}
	return out, nil
}

func ptr[T any](v T) *T { return &v }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func derefInt(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

func derefState(s *armml.NodeState) string {
	if s == nil {
		return ""
	}
	return string(*s)
}
