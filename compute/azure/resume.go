package azure

import (
	"context"

	armml "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/machinelearning/armmachinelearning/v4"

	"github.com/trainyard/trainyard/compute"
)

// The kinds of operation a resume token can be of; Service.begun records
// one of these with each token.
const (
	opCreate = "create"
	opDelete = "delete"
	opUpdate = "update"
)

// Resume rebuilds the operation of kind on compute name from its resume
// token (runtime.Poller.ResumeToken) without sending it again: the SDK's
// Begin* with options.ResumeToken only reads the token, and the poller it
// returns goes on polling the URLs ARM gave when the operation began.
func (c *Client) Resume(ctx context.Context, kind, name, token string) (*Operation, error) {
	rg, ws := c.ws.ResourceGroup, c.ws.Name
	switch kind {
	case opCreate:
		p, err := c.computes.BeginCreateOrUpdate(ctx, rg, ws, name, armml.ComputeResource{}, &armml.ComputeClientBeginCreateOrUpdateOptions{ResumeToken: token})
		if err != nil {
			return nil, fromSDK(err)
		}
		return operation(p, c.pollEvery), nil
	case opDelete:
		p, err := c.computes.BeginDelete(ctx, rg, ws, name, armml.UnderlyingResourceActionDelete, &armml.ComputeClientBeginDeleteOptions{ResumeToken: token})
		if err != nil {
			return nil, fromSDK(err)
		}
		return operation(p, c.pollEvery), nil
	case opUpdate:
		p, err := c.computes.BeginUpdate(ctx, rg, ws, name, armml.ClusterUpdateParameters{}, &armml.ComputeClientBeginUpdateOptions{ResumeToken: token})
		if err != nil {
			return nil, fromSDK(err)
		}
		return operation(p, c.pollEvery), nil
	case string(compute.ActionStart):
		p, err := c.computes.BeginStart(ctx, rg, ws, name, &armml.ComputeClientBeginStartOptions{ResumeToken: token})
		if err != nil {
			return nil, fromSDK(err)
		}
		return operation(p, c.pollEvery), nil
	case string(compute.ActionStop):
		p, err := c.computes.BeginStop(ctx, rg, ws, name, &armml.ComputeClientBeginStopOptions{ResumeToken: token})
		if err != nil {
			return nil, fromSDK(err)
		}
		return operation(p, c.pollEvery), nil
	case string(compute.ActionRestart):
		p, err := c.computes.BeginRestart(ctx, rg, ws, name, &armml.ComputeClientBeginRestartOptions{ResumeToken: token})
		if err != nil {
			return nil, fromSDK(err)
		}
		return operation(p, c.pollEvery), nil
	}
	return nil, compute.Invalid("kind", "%q is not an operation Trainyard follows", kind)
}
