package azure_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	armml "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/machinelearning/armmachinelearning/v4"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/machinelearning/armmachinelearning/v4/fake"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/azure"
)

// These unit tests stand on the SDK's own contract: its fake server
// package (armmachinelearning/v4/fake) answers ComputeClient calls the way
// the generated client expects ARM to, with no network.

func fakeClient(t *testing.T, srv *fake.ComputeServer) *azure.Client {
	t.Helper()
	c, err := azure.NewClient(azure.Config{}, compute.Workspace{Alias: "fake", SubscriptionID: "00000000-0000-0000-0000-000000000000", ResourceGroup: "rg", Name: "ws"},
		&azfake.TokenCredential{}, nil, azure.ClientOptions{Transport: fake.NewComputeServerTransport(srv)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNodesMapsARMNodeStates(t *testing.T) {
	srv := &fake.ComputeServer{
		NewListNodesPager: func(rg, ws, name string, _ *armml.ComputeClientListNodesOptions) (resp azfake.PagerResponder[armml.ComputeClientListNodesResponse]) {
			for i, st := range []armml.NodeState{armml.NodeStateIdle, armml.NodeStateRunning, armml.NodeStatePreempted} {
				id, port := []string{"a", "b", "c"}[i], int32(50000+i)
				resp.AddPage(http.StatusOK, armml.ComputeClientListNodesResponse{AmlComputeNodesInformation: armml.AmlComputeNodesInformation{
					Nodes: []*armml.AmlComputeNodeInformation{{NodeID: &id, NodeState: &st, Port: &port}}}}, nil)
			}
			return resp
		},
	}
	nodes, err := fakeClient(t, srv).Nodes(context.Background(), "c1")
	if err != nil {
		t.Fatal(err)
	}
	want := []compute.Node{{ID: "a", State: compute.NodeIdle, Port: 50000}, {ID: "b", State: compute.NodeRunning, Port: 50001}, {ID: "c", State: compute.NodePreempted, Port: 50002}}
	if len(nodes) != len(want) {
		t.Fatalf("Nodes = %+v, want %+v (every page)", nodes, want)
	}
	for i := range want {
		if nodes[i] != want[i] {
			t.Errorf("node %d = %+v, want %+v", i, nodes[i], want[i])
		}
	}
}

func TestErrorsKeepARMCodeAndVocabulary(t *testing.T) {
	tests := []struct {
		status int
		code   string
		kind   error
	}{
		{http.StatusNotFound, "ResourceNotFound", compute.ErrNotFound},
		{http.StatusForbidden, "AuthorizationFailed", compute.ErrForbidden},
		{http.StatusConflict, "Conflict", compute.ErrConflict},
		{http.StatusBadRequest, "BadRequest", compute.ErrInvalid},
		{http.StatusTooManyRequests, "TooManyRequests", compute.ErrTooManyRequests},
		{http.StatusServiceUnavailable, "ServiceUnavailable", compute.ErrUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.code, func(t *testing.T) {
			srv := &fake.ComputeServer{Get: func(context.Context, string, string, string, *armml.ComputeClientGetOptions) (resp azfake.Responder[armml.ComputeClientGetResponse], errResp azfake.ErrorResponder) {
				errResp.SetResponseError(tc.status, tc.code)
				return
			}}
			_, err := fakeClient(t, srv).Get(context.Background(), "c1")
			var coded *compute.CodedError
			if !errors.Is(err, tc.kind) || !errors.As(err, &coded) || coded.Code != tc.code {
				t.Errorf("ARM %d %s → %v; want %v with code %s", tc.status, tc.code, err, tc.kind, tc.code)
			}
			var re *azcore.ResponseError
			if errors.As(err, &re) {
				t.Errorf("the SDK's error leaks out: %v", re)
			}
		})
	}
}
