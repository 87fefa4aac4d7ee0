package arm

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"

	"github.com/trainyard/trainyard/compute"
)

// ErrorBody is the API's error body, ARM's common ErrorResponse:
// {"error":{"code","message","target","details"}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorResponse is ARM's name for ErrorBody, used in provisioningErrors.
type ErrorResponse = ErrorBody

// ErrorDetail is one error: a stable code, a message for people, the field
// or object it is about, and finer errors (one per invalid field).
type ErrorDetail struct {
	Code    string        `json:"code"`
	Message string        `json:"message"`
	Target  string        `json:"target,omitempty"`
	Details []ErrorDetail `json:"details,omitempty"`
}

// RequestError is a request body that cannot be read as a compute: malformed
// JSON, or a value of the wrong JSON type. It is a 400 and matches
// compute.ErrInvalid.
type RequestError struct {
	Target  string // JSON path of the offending value, if known
	Message string
}

// Error returns the message, prefixed by the target when there is one.
func (e *RequestError) Error() string {
	if e.Target == "" {
		return e.Message
	}
	return e.Target + ": " + e.Message
}

// Unwrap lets errors.Is(err, compute.ErrInvalid) hold.
func (e *RequestError) Unwrap() error { return compute.ErrInvalid }

// DecodeCompute reads one compute from a request body. Any JSON problem
// becomes a *RequestError; an *http.MaxBytesError from a limited body is
// returned as it is (FromError makes it a 413).
func DecodeCompute(r io.Reader) (Compute, error) {
	var c Compute
	dec := json.NewDecoder(r)
	if err := dec.Decode(&c); err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return Compute{}, err
		case errors.Is(err, io.EOF):
			return Compute{}, &RequestError{Message: "The request body is empty; send a compute resource as JSON."}
		}
		return Compute{}, decodeError(err, "")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Compute{}, &RequestError{Message: "The request body holds more than one JSON value."}
	}
	return c, nil
}

// decodeError turns an encoding/json error into a *RequestError naming the
// JSON path (prefixed by prefix) and the type that was expected.
func decodeError(err error, prefix string) *RequestError {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &typ):
		path := typ.Field
		if prefix != "" {
			path = strings.TrimSuffix(prefix+"."+path, ".")
		}
		return &RequestError{Target: path, Message: fmt.Sprintf("expected %s, got %s.", jsonTypeName(typ.Type), typ.Value)}
	case errors.As(err, &syn):
		return &RequestError{Target: prefix, Message: fmt.Sprintf("malformed JSON at byte %d: %s.", syn.Offset, strings.TrimPrefix(syn.Error(), "json: "))}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &RequestError{Target: prefix, Message: "malformed JSON: the body ends too early."}
	}
	return &RequestError{Target: prefix, Message: "malformed JSON: " + strings.TrimPrefix(err.Error(), "json: ")}
}

// jsonTypeName says in JSON terms what a Go type accepts.
func jsonTypeName(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return jsonTypeName(t.Elem())
	}
	return "another type"
}

// FromError maps an error to the API's status and error body. Field errors
// (*compute.ValidationError) are 422 ValidationError with one detail per
// field; unreadable bodies (*RequestError, JSON errors) are 400 BadRequest;
// the compute error vocabulary maps to 404, 409, 401, 403 and 503, with the
// code, message and target of a *compute.CodedError when there is one, and
// a fixed message otherwise (wrapped texts may name internals). Anything
// else, nil included, is 500 InternalError, "Internal error.".
func FromError(err error) (int, ErrorBody) {
	var (
		verr  *compute.ValidationError
		rerr  *RequestError
		coded *compute.CodedError
		big   *http.MaxBytesError
		syn   *json.SyntaxError
		typ   *json.UnmarshalTypeError
	)
	switch {
	case err == nil:
		return http.StatusInternalServerError, body("InternalError", "Internal error.", "")
	case errors.As(err, &verr):
		return http.StatusUnprocessableEntity, validationBody(verr)
	case errors.As(err, &rerr):
		return http.StatusBadRequest, body("BadRequest", rerr.Message, rerr.Target)
	case errors.As(err, &syn), errors.As(err, &typ):
		rerr = decodeError(err, "")
		return http.StatusBadRequest, body("BadRequest", rerr.Message, rerr.Target)
	case errors.As(err, &big):
		return http.StatusRequestEntityTooLarge, body("RequestTooLarge", fmt.Sprintf("The request body is larger than %d bytes.", big.Limit), "")
	}
	for _, kind := range []error{compute.ErrNotFound, compute.ErrInvalid, compute.ErrConflict, compute.ErrUnauthenticated, compute.ErrForbidden, compute.ErrUnavailable, compute.ErrTooManyRequests} {
		if !errors.Is(err, kind) {
			continue
		}
		status, code, msg := vocabulary(kind)
		if errors.As(err, &coded) && errors.Is(coded.Kind, kind) {
			if coded.Code != "" {
				code = coded.Code
			}
			if coded.Message != "" {
				msg = coded.Message
			}
			return status, body(code, msg, coded.Target)
		}
		return status, body(code, msg, "")
	}
	return http.StatusInternalServerError, body("InternalError", "Internal error.", "")
}

// vocabulary is the status, code and default message of a compute error.
func vocabulary(kind error) (status int, code, message string) {
	switch kind {
	case compute.ErrNotFound:
		return http.StatusNotFound, "NotFound", "The resource was not found."
	case compute.ErrInvalid:
		return http.StatusBadRequest, "BadRequest", "The request is not valid."
	case compute.ErrConflict:
		return http.StatusConflict, "Conflict", "The request conflicts with the resource's current state."
	case compute.ErrUnauthenticated:
		return http.StatusUnauthorized, "AuthenticationFailed", "Sign in first: send a valid bearer token."
	case compute.ErrForbidden:
		return http.StatusForbidden, "AuthorizationFailed", "Your role does not allow this action."
	case compute.ErrUnavailable:
		return http.StatusServiceUnavailable, "ServiceUnavailable", "A compute backend cannot be reached right now; try again later."
	case compute.ErrTooManyRequests:
		return http.StatusTooManyRequests, "TooManyRequests", "Too many requests; wait and try again."
	}
	return http.StatusInternalServerError, "InternalError", "Internal error."
}

func body(code, message, target string) ErrorBody {
	return ErrorBody{Error: ErrorDetail{Code: code, Message: message, Target: target}}
}

func validationBody(v *compute.ValidationError) ErrorBody {
	b := body("ValidationError", "", "")
	for _, f := range v.Fields {
		b.Error.Details = append(b.Error.Details, ErrorDetail{Code: "InvalidValue", Message: f.Message, Target: f.Field})
	}
	switch n := len(v.Fields); n {
	case 0:
		b.Error.Message = "The request is not valid."
	case 1:
		b.Error.Message = "One field is not valid."
		b.Error.Target = v.Fields[0].Field
	default:
		b.Error.Message = fmt.Sprintf("%d fields are not valid.", n)
	}
	return b
}
