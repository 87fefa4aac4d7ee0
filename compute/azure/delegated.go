package azure

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/trainyard/trainyard/compute"
)

// RefreshTokens keeps users' sealed refresh tokens (store.Store).
type RefreshTokens interface {
	AzureRefreshToken(ctx context.Context, userID string) (string, error)
	PutAzureRefreshToken(ctx context.Context, userID, token string) error
}

// Delegated gives each user who signed in with Entra ID (and consented to
// https://management.azure.com/user_impersonation) a credential that calls
// ARM as them: their refresh token is redeemed at the sign-in app's token
// endpoint for ARM access tokens, which are kept in memory until they
// expire. Contract: the Microsoft identity platform's refresh-token grant
// (grant_type=refresh_token with the app's client ID and secret).
type Delegated struct {
	tokenURL, clientID, clientSecret, scope string
	hc                                      *http.Client
	tokens                                  RefreshTokens

	mu    sync.Mutex
	creds map[string]*delegatedCredential
}

// NewDelegated returns the delegated credentials of the sign-in app whose
// token endpoint is tokenURL, asking for scope (Config.DelegatedScope).
func NewDelegated(tokenURL, clientID, clientSecret, scope string, hc *http.Client, tokens RefreshTokens) *Delegated {
	return &Delegated{tokenURL: tokenURL, clientID: clientID, clientSecret: clientSecret, scope: scope, hc: hc, tokens: tokens,
		creds: map[string]*delegatedCredential{}}
}

// For returns the credential of userID, or nil when the user has no
// refresh token (the service principal is used then).
func (d *Delegated) For(ctx context.Context, userID string) azcore.TokenCredential {
	if d == nil || userID == "" {
		return nil
	}
	rt, err := d.tokens.AzureRefreshToken(ctx, userID)
	if err != nil || rt == "" {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.creds[userID]
	if c == nil {
		c = &delegatedCredential{d: d, userID: userID}
		d.creds[userID] = c
	}
	return c
}

var _ azcore.TokenCredential = (*delegatedCredential)(nil)

// delegatedCredential is one user's credential.
type delegatedCredential struct {
	d      *Delegated
	userID string

	mu  sync.Mutex
	tok azcore.AccessToken
}

// GetToken returns an ARM access token of the user, redeeming their
// refresh token when the last one is within five minutes of expiring. A new
// refresh token in the answer (rotation) replaces the stored one. One the
// provider refuses stays refused until the user signs in again: the call
// fails rather than falling back to the service principal's rights.
func (c *delegatedCredential) GetToken(ctx context.Context, _ policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok.Token != "" && time.Until(c.tok.ExpiresOn) > 5*time.Minute {
		return c.tok, nil
	}
	rt, err := c.d.tokens.AzureRefreshToken(ctx, c.userID)
	if err != nil {
		return azcore.AccessToken{}, err
	}
	if rt == "" {
		return azcore.AccessToken{}, errNoDelegation
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {c.d.clientID},
		"client_secret": {c.d.clientSecret}, "scope": {c.d.scope + " offline_access"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.d.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return azcore.AccessToken{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.d.hc.Do(req)
	if err != nil {
		return azcore.AccessToken{}, fmt.Errorf("redeeming the Azure refresh token: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken  string `json:"access_token"`
		ExpiresIn    int    `json:"expires_in"`
		RefreshToken string `json:"refresh_token"`
		Error        string `json:"error"`
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err := json.Unmarshal(data, &body); err != nil || resp.StatusCode != http.StatusOK || body.AccessToken == "" {
		return azcore.AccessToken{}, &compute.CodedError{Kind: compute.ErrUnauthenticated, Code: "AzureSignInExpired",
			Message: "Your delegated access to Azure has expired or was revoked (" + safeError(body.Error, resp.StatusCode) + "): sign out and sign in again."}
	}
	if body.RefreshToken != "" && body.RefreshToken != rt {
		if err := c.d.tokens.PutAzureRefreshToken(ctx, c.userID, body.RefreshToken); err != nil {
			return azcore.AccessToken{}, err
		}
	}
	c.tok = azcore.AccessToken{Token: body.AccessToken, ExpiresOn: time.Now().Add(time.Duration(body.ExpiresIn) * time.Second)}
	return c.tok, nil
}

// errNoDelegation: the user's refresh token went away meanwhile.
var errNoDelegation = &compute.CodedError{Kind: compute.ErrUnauthenticated, Code: "AzureSignInExpired",
	Message: "You have no delegated access to Azure any more: sign out and sign in again."}

// safeError is an OAuth error code fit to show (its alphabet only), or
// the HTTP status.
func safeError(code string, status int) string {
	code = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r == '_' {
			return r
		}
		return -1
	}, code)
	if code == "" {
		return fmt.Sprintf("HTTP %d", status)
	}
	return code
}
