package lognotify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/resilience-project/resilience/alerts/notify"
	"github.com/resilience-project/resilience/alerts/notify/lognotify"
	"github.com/resilience-project/resilience/alerts/store"
	"github.com/resilience-project/resilience/schemas"
)

var _ notify.Notifier = (*lognotify.Notifier)(nil)

func TestNotifyLogsTheAlert(t *testing.T) {
	var buf bytes.Buffer
	n := &lognotify.Notifier{Logger: slog.New(slog.NewJSONHandler(&buf, nil))}
	if n.Name() != "log" {
		t.Errorf("Name() = %q, want log", n.Name())
	}
	start := time.Date(2025, 10, 28, 3, 0, 0, 0, time.UTC)
	a := store.Alert{ID: "VG-AINGHIA-0123456789abcdef", Station: "VG-AINGHIA", Rule: "water_level", Level: 3,
		LevelName: "BĐ III", Severity: schemas.SeverityExtreme, State: store.Firing, Value: 9.1, Threshold: 8.5, StartedAt: start}
	e := schemas.AlertEvent{ID: a.ID, EventID: a.ID + ":escalated", Kind: schemas.AlertEscalated}
	if err := n.Notify(context.Background(), a, e); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	// The alert level must not collide with the record's own "level" key
	// (a JSON log line with two "level" keys loses one in most pipelines).
	if n := bytes.Count(buf.Bytes(), []byte(`"level":`)); n != 1 {
		t.Errorf("log line has %d \"level\" keys, want 1: %s", n, buf.String())
	}
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("log line %q: %v", buf.String(), err)
	}
	want := map[string]any{"level": "WARN", "msg": "ALERT", "kind": "escalated", "id": a.ID, "station": "VG-AINGHIA",
		"rule": "water_level", "alert_level": 3.0, "level_name": "BĐ III", "severity": "Extreme", "value": 9.1, "threshold": 8.5,
		"state": "firing", "started_at": "2025-10-28T03:00:00Z"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("log field %s = %v, want %v", k, got[k], v)
		}
	}
}
