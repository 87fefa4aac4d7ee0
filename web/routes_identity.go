package web

import "github.com/trainyard/trainyard/handlers"

// identityRoutes are sign-in (OIDC), profile and access tokens, and the audit log.
func identityRoutes(h *handlers.Handlers) []Route {
	return nil
}
