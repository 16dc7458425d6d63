package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/resilience-project/resilience/alerts"
	"github.com/resilience-project/resilience/alerts/store"
	"github.com/resilience-project/resilience/internal/httpapi"
	"github.com/resilience-project/resilience/schemas"
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

// alertsActor adapts the alerts service to the HTTP API's AlertActor.
type alertsActor struct{ s *alerts.Service }

// Act produces the action; the service's errors map to the API's.
func (a alertsActor) Act(ctx context.Context, alertID, kind, by, note string) (any, error) {
	x, err := a.s.Act(ctx, alertID, schemas.ActionKind(kind), by, note)
	switch {
	case errors.Is(err, alerts.ErrUnknownAlert):
		return nil, fmt.Errorf("%w: %v", httpapi.ErrNoSuchAlert, err)
	case errors.Is(err, schemas.ErrBadAction):
		return nil, fmt.Errorf("%w: %v", httpapi.ErrBadAction, err)
	case err != nil:
		return nil, err
	}
	return x, nil
}
