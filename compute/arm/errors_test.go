package arm

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/compute"
)

func TestFromError(t *testing.T) {
	twoFields := &compute.ValidationError{}
	twoFields.Add(compute.FieldName, "Enter a compute name.")
	twoFields.Add(compute.FieldMaxNodes, "The maximum number of nodes must be at least 1.")
	_, syntaxErr := DecodeCompute(strings.NewReader("{"))
	typeErr := json.Unmarshal([]byte(`{"a":1}`), &[]int{})

	tests := []struct {
		name       string
		err        error
		wantStatus int
		want       ErrorDetail
	}{
		{"validation, two fields", twoFields, 422, ErrorDetail{Code: "ValidationError", Message: "2 fields are not valid.", Details: []ErrorDetail{
			{Code: "InvalidValue", Target: "name", Message: "Enter a compute name."},
			{Code: "InvalidValue", Target: "maxNodes", Message: "The maximum number of nodes must be at least 1."}}}},
		{"validation, wrapped", fmt.Errorf("handler: %w", compute.Invalid("vmSize", "Choose a virtual machine size.")), 422,
			ErrorDetail{Code: "ValidationError", Message: "One field is not valid.", Target: "vmSize", Details: []ErrorDetail{{Code: "InvalidValue", Target: "vmSize", Message: "Choose a virtual machine size."}}}},
		{"request error", &RequestError{Target: "properties.computeType", Message: "expected a string, got number."}, 400,
			ErrorDetail{Code: "BadRequest", Target: "properties.computeType", Message: "expected a string, got number."}},
		{"malformed JSON via DecodeCompute", syntaxErr, 400, ErrorDetail{Code: "BadRequest", Message: "malformed JSON: the body ends too early."}},
		{"raw json type error", typeErr, 400, ErrorDetail{Code: "BadRequest", Message: "expected an array, got object."}},
		{"too large", &http.MaxBytesError{Limit: 1 << 20}, 413, ErrorDetail{Code: "RequestTooLarge", Message: "The request body is larger than 1048576 bytes."}},
		{"not found, coded", compute.NotFoundf("name", "Compute 'x' was not found."), 404, ErrorDetail{Code: "NotFound", Target: "name", Message: "Compute 'x' was not found."}},
		{"not found, wrapped plain", fmt.Errorf("store.FindTarget(%q): %w", "x", compute.ErrNotFound), 404, ErrorDetail{Code: "NotFound", Message: "The resource was not found."}},
		{"conflict, coded", compute.Conflictf("AlreadyExists", "name", "Compute name 'x' is not available. Reason: AlreadyExists"), 409,
			ErrorDetail{Code: "AlreadyExists", Target: "name", Message: "Compute name 'x' is not available. Reason: AlreadyExists"}},
		{"conflict, power", func() error { _, err := compute.BeginPower(compute.InstanceRunning, compute.ActionStart); return err }(), 409,
			ErrorDetail{Code: "StartComputeInstanceOnlyAllowedInStoppedState", Target: "state", Message: "StartComputeInstanceOnlyAllowedInStoppedState: the instance is Running; it can only be started when Stopped"}},
		{"conflict, plain", compute.ErrConflict, 409, ErrorDetail{Code: "Conflict", Message: "The request conflicts with the resource's current state."}},
		{"invalid, plain", fmt.Errorf("bad id: %w", compute.ErrInvalid), 400, ErrorDetail{Code: "BadRequest", Message: "The request is not valid."}},
		{"unauthenticated", compute.ErrUnauthenticated, 401, ErrorDetail{Code: "AuthenticationFailed", Message: "Sign in first: send a valid bearer token."}},
		{"forbidden", fmt.Errorf("role Reader: %w", compute.ErrForbidden), 403, ErrorDetail{Code: "AuthorizationFailed", Message: "Your role does not allow this action."}},
		{"unavailable", fmt.Errorf("dial tcp 10.1.2.3:22: %w", compute.ErrUnavailable), 503, ErrorDetail{Code: "ServiceUnavailable", Message: "A compute backend cannot be reached right now; try again later."}},
		{"coded without code", &compute.CodedError{Kind: compute.ErrForbidden, Message: "Only the assigned user may start this instance."}, 403,
			ErrorDetail{Code: "AuthorizationFailed", Message: "Only the assigned user may start this instance."}},
		{"coded with foreign kind", &compute.CodedError{Kind: errors.New("x"), Code: "Leak", Message: "secret path /etc/x"}, 500, ErrorDetail{Code: "InternalError", Message: "Internal error."}},
		{"internal", errors.New("sql: database is locked at /var/lib/trainyard.db"), 500, ErrorDetail{Code: "InternalError", Message: "Internal error."}},
		{"nil", nil, 500, ErrorDetail{Code: "InternalError", Message: "Internal error."}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := FromError(tc.err)
			if status != tc.wantStatus {
				t.Errorf("status %d, want %d", status, tc.wantStatus)
			}
			if !reflect.DeepEqual(body.Error, tc.want) {
				t.Errorf("body\n got %+v\nwant %+v", body.Error, tc.want)
			}
			data, err := json.Marshal(body)
			if err != nil || !strings.HasPrefix(string(data), `{"error":{"code":`) {
				t.Errorf("body renders as %s (%v)", data, err)
			}
		})
	}
}
