package azure

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/trainyard/trainyard/compute"
)

// armError is ARM's common error body (ErrorResponse).
type armError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Target  string `json:"target"`
	} `json:"error"`
}

// fromSDK turns an SDK error into the project's vocabulary, keeping ARM's
// code and message verbatim (users act on them: "QuotaExceeded …",
// "AuthorizationFailed …"). A failed long-running operation arrives the
// same way, with the operation's error.
func fromSDK(err error) error {
	if err == nil {
		return nil
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		code, msg := re.ErrorCode, ""
		if re.RawResponse != nil && re.RawResponse.Body != nil {
			if data, rerr := io.ReadAll(io.LimitReader(re.RawResponse.Body, 1<<20)); rerr == nil {
				var body armError
				if json.Unmarshal(data, &body) == nil {
					msg = body.Error.Message
					if body.Error.Code != "" {
						code = body.Error.Code
					}
				}
			}
		}
		if msg == "" {
			msg = "Azure Resource Manager answered " + http.StatusText(re.StatusCode) + " (" + code + ")."
		}
		return &compute.CodedError{Kind: kindOf(re.StatusCode), Code: code, Message: msg}
	}
	var auth *azidentity.AuthenticationFailedError
	if errors.As(err, &auth) {
		return &compute.CodedError{Kind: compute.ErrUnavailable, Code: "AuthenticationFailed",
			Message: "Trainyard could not get a token for Azure Resource Manager: the identity provider refused the credentials."}
	}
	var coded *compute.CodedError
	if errors.As(err, &coded) {
		return err
	}
	return &compute.CodedError{Kind: compute.ErrUnavailable, Code: "ServiceUnavailable",
		Message: "Azure Resource Manager could not be reached: " + err.Error()}
}

// kindOf is the vocabulary error of an ARM status.
func kindOf(status int) error {
	switch {
	case status < 400:
		// A long-running operation that ended Failed: the status poll
		// answered 200 with the operation's error.
		return compute.ErrConflict
	case status == http.StatusNotFound:
		return compute.ErrNotFound
	case status == http.StatusConflict:
		return compute.ErrConflict
	case status == http.StatusUnauthorized:
		return compute.ErrUnauthenticated
	case status == http.StatusForbidden:
		return compute.ErrForbidden
	case status == http.StatusTooManyRequests:
		return compute.ErrTooManyRequests
	case status >= 400 && status < 500:
		return compute.ErrInvalid
	}
	return compute.ErrUnavailable
}
