package main

import (
	"github.com/resilience-project/resilience/alerts/store"
	"github.com/resilience-project/resilience/internal/httpapi"
)

// alertsAPI adapts the alerts store to the HTTP API's AlertReader (the API
// imports no component; the application layer joins them).
type alertsAPI struct{ s *store.Store }

// ListAlerts lists the store's alerts of station in state.
func (a alertsAPI) ListAlerts(station string, state httpapi.AlertState) any {
	return a.s.List(store.Filter{Station: station, State: store.State(state)})
}

// GetAlert returns one alert of the store.
func (a alertsAPI) GetAlert(id string) (any, bool) {
	al, ok := a.s.Get(id)
	return al, ok
}
