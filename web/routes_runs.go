package web

import "github.com/trainyard/trainyard/handlers"

// runRoutes are experiments, runs, snapshots and the MLflow tracking API.
func runRoutes(h *handlers.Handlers) []Route {
	return nil
}
