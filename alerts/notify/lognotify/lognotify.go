// Package lognotify is the notifier that writes alert events to the log
// (slog). It is the default channel until real channels are configured.
package lognotify

import (
	"context"
	"log/slog"

	"github.com/resilience-project/resilience/alerts/store"
	"github.com/resilience-project/resilience/schemas"
)

// Notifier logs alert events.
type Notifier struct{ Logger *slog.Logger }

// Name implements notify.Notifier.
func (n *Notifier) Name() string { return "log" }

// Notify implements notify.Notifier.
func (n *Notifier) Notify(_ context.Context, a store.Alert, e schemas.AlertEvent) error {
	n.Logger.Warn("ALERT", "kind", e.Kind, "id", a.ID, "station", a.Station, "rule", a.Rule,
		"alert_level", a.Level, "level_name", a.LevelName, "severity", a.Severity, "value", a.Value,
		"threshold", a.Threshold, "state", a.State, "started_at", a.StartedAt)
	return nil
}
