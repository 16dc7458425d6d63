package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/resilience-project/resilience/alerts/notify/mqttsiren"
	"github.com/resilience-project/resilience/alerts/store"
	"github.com/resilience-project/resilience/internal/httpapi"
	"github.com/resilience-project/resilience/schemas"
)

// fakeSiren is a siren channel's recorded device acknowledgements.
type fakeSiren map[string][]mqttsiren.Ack

func (f fakeSiren) Acks(alertID string) []mqttsiren.Ack { return f[alertID] }

// TestAlertsAPIShowsSirenAcks: the alert DTO (by id and in the list)
// carries the device acknowledgements of every siren channel for that
// alert, as siren_acks [{station, at, command_id, ...}]; an alert no siren
// acknowledged has none.
func TestAlertsAPIShowsSirenAcks(t *testing.T) {
	t0 := time.Date(2025, 10, 28, 3, 0, 0, 0, time.UTC)
	st := store.New()
	var ids []string
	for _, station := range []string{"VG-AINGHIA", "VG-HOIKHACH"} {
		id := schemas.AlertID(station, "level:water_level", t0)
		ids = append(ids, id)
		e := schemas.AlertEvent{V: 1, ID: id, EventID: schemas.EventID(id, schemas.AlertFired, 3, t0), Kind: schemas.AlertFired,
			Station: station, Rule: "level:water_level", Level: 3, Severity: schemas.SeveritySevere, StartedAt: t0, At: t0}
		if !st.Apply(e) {
			t.Fatalf("Apply(%s) = false", e.EventID)
		}
	}
	ack := func(n int, station string) mqttsiren.Ack {
		cmd := mqttsiren.CommandID("n"+string(rune('0'+n)), station)
		return mqttsiren.Ack{CommandID: cmd, AlertID: ids[0], Station: station, Status: "ok", At: t0.Add(time.Duration(n) * time.Second)}
	}
	a1, a2 := ack(1, "VG-AINGHIA"), ack(2, "VG-AINGHIA")
	authn, bearer := viewerAuth(t)
	h := httpapi.New(httpapi.Options{Auth: authn, Alerts: alertsAPI{s: st, sirens: []sirenAcks{fakeSiren{ids[0]: {a1}}, fakeSiren{ids[0]: {a2}}}}}).Handler()
	get := func(target string, v any) {
		t.Helper()
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, target, nil)
		req.Header.Set("Authorization", bearer)
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", target, rec.Code, rec.Body.String())
		}
		if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
			t.Fatalf("%s: %v: %s", target, err, rec.Body.String())
		}
	}
	type dto struct {
		ID        string `json:"id"`
		SirenAcks []struct {
			Station   string    `json:"station"`
			At        time.Time `json:"at"`
			CommandID string    `json:"command_id"`
			Status    string    `json:"status"`
		} `json:"siren_acks"`
	}
	var one dto
	get("/api/v1/alerts/"+ids[0], &one)
	var list struct {
		Alerts []dto `json:"alerts"`
	}
	get("/api/v1/alerts", &list)
	byID := map[string]dto{}
	for _, a := range list.Alerts {
		byID[a.ID] = a
	}
	tests := []struct {
		name string
		got  dto
		want []mqttsiren.Ack
	}{
		{"by id", one, []mqttsiren.Ack{a1, a2}},
		{"not in the list (detail only)", byID[ids[0]], nil},
		{"not acknowledged", byID[ids[1]], nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.got.SirenAcks) != len(tc.want) {
				t.Fatalf("siren_acks = %+v, want %+v", tc.got.SirenAcks, tc.want)
			}
			for i, w := range tc.want {
				g := tc.got.SirenAcks[i]
				if g.Station != w.Station || !g.At.Equal(w.At) || g.CommandID != w.CommandID || g.Status != w.Status {
					t.Errorf("siren_acks[%d] = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}
