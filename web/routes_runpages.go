package web

import "github.com/trainyard/trainyard/handlers"

// runPageRoutes are the browser pages for experiments, runs and submitting.
func runPageRoutes(h *handlers.Handlers) []Route {
	return nil
}
