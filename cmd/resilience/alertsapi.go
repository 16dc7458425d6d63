package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/resilience-project/resilience/alerts"
	"github.com/resilience-project/resilience/alerts/notify/mqttsiren"
	"github.com/resilience-project/resilience/alerts/store"
	"github.com/resilience-project/resilience/internal/httpapi"
	"github.com/resilience-project/resilience/schemas"
)

// sirenAcks is what the API needs of a siren channel: the device
// acknowledgements it recorded for an alert (*mqttsiren.Channel).
type sirenAcks interface {
	Acks(alertID string) []mqttsiren.Ack
}

// alertsAPI adapts the alerts store to the HTTP API's AlertReader (the API
// imports no component; the application layer joins them). Each alert is
// shown with the acknowledgements its siren commands got from the devices
// (only this process's siren channels: the replica holding the dispatch
// lease is the one that commands, so sees the acks).
type alertsAPI struct {
	s      *store.Store
	sirens []sirenAcks
}

// alertView is an alert as the API shows it: the store's alert and the
// sirens' device acknowledgements.
type alertView struct {
	store.Alert
	SirenAcks []mqttsiren.Ack `json:"siren_acks,omitempty"`
}

// ListAlerts lists the store's alerts of station in state.
func (a alertsAPI) ListAlerts(station string, state httpapi.AlertState) any {
	list := a.s.List(store.Filter{Station: station, State: store.State(state)})
	out := make([]alertView, len(list))
	for i, al := range list {
		out[i] = a.view(al)
	}
	return out
}

// GetAlert returns one alert of the store.
func (a alertsAPI) GetAlert(id string) (any, bool) {
	al, ok := a.s.Get(id)
	if !ok {
		return nil, false
	}
	return a.view(al), true
}

func (a alertsAPI) view(al store.Alert) alertView {
	v := alertView{Alert: al}
	for _, s := range a.sirens {
		v.SirenAcks = append(v.SirenAcks, s.Acks(al.ID)...)
	}
	return v
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
