package web

import (
	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/handlers"
)

// identityRoutes are sign-in (OIDC), profile and access tokens, and the audit
// log. /login, /logout and /signed-out are in the main table.
func identityRoutes(h *handlers.Handlers) []Route {
	w := h.Wrap
	return []Route{
		// The OpenID provider sends the browser back here (response_mode=query).
		{Method: "GET", Pattern: "/auth/callback", Role: compute.RoleNone, Handler: w(h.AuthCallback)},

		// Profile: every role has one, with its own tokens and sessions.
		{Method: "GET", Pattern: "/profile", Role: compute.RoleReader, Handler: w(h.Profile)},
		{Method: "POST", Pattern: "/profile/tokens", Role: compute.RoleReader, Handler: w(h.CreateToken)},
		{Method: "POST", Pattern: "/profile/tokens/{id}/revoke", Role: compute.RoleReader, Handler: w(h.RevokeToken)},
		{Method: "POST", Pattern: "/profile/sessions/revoke", Role: compute.RoleReader, Handler: w(h.SignOutEverywhere)},
		{Method: "GET", Pattern: "/api/v1/me", Role: compute.RoleReader, Handler: w(h.Me)},

		// Audit log and session kill switch: Admin only.
		{Method: "GET", Pattern: "/audit", Role: compute.RoleAdmin, Handler: w(h.AuditLog)},
		{Method: "GET", Pattern: "/audit/sessions", Role: compute.RoleAdmin, Handler: w(h.AuditSessions)},
		{Method: "POST", Pattern: "/audit/sessions/{handle}/revoke", Role: compute.RoleAdmin, Handler: w(h.RevokeSession)},
	}
}
