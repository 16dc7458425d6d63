package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/resilience-project/resilience/alerts"
	"github.com/resilience-project/resilience/alerts/notify/mqttsiren"
	"github.com/resilience-project/resilience/alerts/route"
	"github.com/resilience-project/resilience/alerts/silence"
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

// ListAlerts lists the store's alerts matching f, newest start first.
func (a alertsAPI) ListAlerts(f httpapi.AlertFilter) []httpapi.Alert {
	list := a.s.List(store.Filter{Station: f.Station, State: store.State(f.State)})
	out := make([]httpapi.Alert, len(list))
	for i, al := range list {
		out[i] = toAPIAlert(al, nil)
	}
	return out
}

// Version is the store's change counter (httpapi's feed skips a look at
// an unchanged store).
func (a alertsAPI) Version() uint64 { return a.s.Version() }

// ChangedSince names the alerts changed since version v (httpapi's feed
// reads only those).
func (a alertsAPI) ChangedSince(v uint64) ([]string, uint64, bool) { return a.s.ChangedSince(v) }

// GetAlert returns one alert of the store with its sirens' acks.
func (a alertsAPI) GetAlert(id string) (httpapi.Alert, bool) {
	al, ok := a.s.Get(id)
	if !ok {
		return httpapi.Alert{}, false
	}
	var acks []mqttsiren.Ack
	for _, s := range a.sirens {
		acks = append(acks, s.Acks(al.ID)...)
	}
	return toAPIAlert(al, acks), true
}

// toAPIAlert is a store alert as the API shows it.
func toAPIAlert(al store.Alert, acks []mqttsiren.Ack) httpapi.Alert {
	out := httpapi.Alert{ID: al.ID, Station: al.Station, Sensor: string(al.Sensor), Rule: al.Rule, Level: al.Level,
		LevelName: al.LevelName, Severity: string(al.Severity), State: httpapi.AlertState(al.State), Value: al.Value,
		Threshold: al.Threshold, StartedAt: al.StartedAt, UpdatedAt: al.UpdatedAt, ResolvedAt: al.ResolvedAt,
		District: al.District, Basin: al.Basin, Message: al.Message, Events: al.Events, ResolvedBy: al.ResolvedBy,
		ResolveReason: al.ResolveReason, Assignee: al.Assignee, HistoryDropped: al.HistoryDropped,
		PeakLevel: al.PeakLevel, Readings: al.Readings}
	if al.PeakLevel != 0 || al.PeakValue != 0 {
		v := al.PeakValue
		out.PeakValue = &v
	}
	if al.Ack != nil {
		out.Ack = &httpapi.AlertAck{By: al.Ack.By, At: al.Ack.At, Note: al.Ack.Note}
	}
	out.History = make([]httpapi.AlertTransition, len(al.History))
	for i, h := range al.History {
		out.History[i] = httpapi.AlertTransition{At: h.At, Kind: h.Kind, By: h.By, Note: h.Note, Level: h.Level, ID: h.ID}
	}
	for _, k := range acks {
		out.SirenAcks = append(out.SirenAcks, httpapi.SirenAck{CommandID: k.CommandID, AlertID: k.AlertID, Station: k.Station,
			Status: k.Status, Detail: k.Detail, At: k.At})
	}
	return out
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

// silencesAPI adapts the alerts service's silences to the HTTP API's
// SilenceStore.
type silencesAPI struct{ s *alerts.Service }

// CreateSilence records s through the service.
func (a silencesAPI) CreateSilence(ctx context.Context, s httpapi.Silence) (string, error) {
	id, err := a.s.CreateSilence(ctx, silence.Silence{ID: s.ID, Matchers: route.Matchers(s.Matchers), Author: s.Author,
		Comment: s.Comment, Start: s.StartsAt, End: s.EndsAt})
	if errors.Is(err, silence.ErrInvalid) {
		return "", fmt.Errorf("%w: %v", httpapi.ErrBadSilence, err)
	}
	return id, err
}

// ExpireSilence ends silence id now.
func (a silencesAPI) ExpireSilence(ctx context.Context, id, by string) error {
	err := a.s.ExpireSilence(ctx, id, by)
	switch {
	case errors.Is(err, silence.ErrNotFound):
		return fmt.Errorf("%w: %v", httpapi.ErrNoSuchSilence, err)
	case errors.Is(err, alerts.ErrBadSilenceAction):
		return fmt.Errorf("%w: %v", httpapi.ErrBadSilence, err)
	}
	return err
}

// Silences lists the service's silences.
func (a silencesAPI) Silences() []httpapi.Silence {
	list := a.s.Silences()
	out := make([]httpapi.Silence, len(list))
	for i, s := range list {
		out[i] = httpapi.Silence{ID: s.ID, Matchers: s.Matchers, Author: s.Author, Comment: s.Comment, StartsAt: s.Start, EndsAt: s.End}
	}
	return out
}

var _ httpapi.ChangedAlerts = alertsAPI{}
