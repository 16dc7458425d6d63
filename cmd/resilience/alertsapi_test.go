package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/resilience-project/resilience/alerts/store"
	"github.com/resilience-project/resilience/internal/auth"
	"github.com/resilience-project/resilience/internal/httpapi"
	"github.com/resilience-project/resilience/schemas"
)

// TestAlertsAPIOverStore: the HTTP API served through alertsAPI over a real
// store filters by station and state as the store does (the API's state
// names are the store's), and serves one alert by id.
func TestAlertsAPIOverStore(t *testing.T) {
	if string(httpapi.AlertFiring) != string(store.Firing) || string(httpapi.AlertResolved) != string(store.Resolved) {
		t.Fatalf("API states %q/%q differ from the store's %q/%q", httpapi.AlertFiring, httpapi.AlertResolved, store.Firing, store.Resolved)
	}
	t0 := time.Date(2025, 10, 28, 3, 0, 0, 0, time.UTC)
	ev := func(station, rule string, start time.Time, kind schemas.AlertKind, level int, at time.Time) schemas.AlertEvent {
		id := schemas.AlertID(station, rule, start)
		return schemas.AlertEvent{V: 1, ID: id, EventID: schemas.EventID(id, kind, level, at), Kind: kind,
			Station: station, Rule: rule, Level: level, Severity: schemas.SeveritySevere, StartedAt: start, At: at}
	}
	st := store.New()
	firing := ev("VG-AINGHIA", "water_level", t0, schemas.AlertFired, 2, t0)
	resolved := ev("DN-HOAVANG", "rain_1h", t0.Add(-time.Hour), schemas.AlertFired, 1, t0.Add(-time.Hour))
	for _, e := range []schemas.AlertEvent{firing, resolved, ev("DN-HOAVANG", "rain_1h", t0.Add(-time.Hour), schemas.AlertResolved, 0, t0)} {
		if !st.Apply(e) {
			t.Fatalf("Apply(%s) = false", e.EventID)
		}
	}
	authn, bearer := viewerAuth(t)
	h := httpapi.New(httpapi.Options{Auth: authn, Alerts: alertsAPI{s: st}}).Handler()
	get := func(target string) (int, string) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, target, nil)
		req.Header.Set("Authorization", bearer)
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{firing.ID, resolved.ID}},
		{"?state=firing", []string{firing.ID}},
		{"?state=resolved", []string{resolved.ID}},
		{"?station=DN-HOAVANG", []string{resolved.ID}},
		{"?station=DN-HOAVANG&state=firing", []string{}},
	}
	for _, tc := range tests {
		code, body := get("/api/v1/alerts" + tc.query)
		var got struct {
			Alerts []store.Alert `json:"alerts"`
		}
		if err := json.Unmarshal([]byte(body), &got); err != nil || code != http.StatusOK || got.Alerts == nil {
			t.Fatalf("%s: %d %s (%v)", tc.query, code, body, err)
		}
		ids := make([]string, len(got.Alerts))
		for i, a := range got.Alerts {
			ids[i] = a.ID
		}
		if strings.Join(ids, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: alerts %v, want %v", tc.query, ids, tc.want)
		}
	}
	code, body := get("/api/v1/alerts/" + resolved.ID)
	var a store.Alert
	if err := json.Unmarshal([]byte(body), &a); err != nil || code != http.StatusOK {
		t.Fatalf("alert by id: %d %s", code, body)
	}
	if a.ID != resolved.ID || a.State != store.Resolved || a.ResolvedAt == nil || !a.ResolvedAt.Equal(t0) || a.Events != 2 {
		t.Errorf("alert = %+v, want resolved at %s after 2 events", a, t0)
	}
	// The store's peak (level 1: the resolved event does not lower it) and the
	// full history reach the API.
	if a.PeakLevel != 1 || len(a.History) != 2 || a.History[0].Kind != "fired" || a.History[1].Kind != "resolved" {
		t.Errorf("alert peak %d history %+v, want peak 1 and fired, resolved", a.PeakLevel, a.History)
	}
	if code, _ := get("/api/v1/alerts/no-such-alert"); code != http.StatusNotFound {
		t.Errorf("unknown alert = %d, want 404", code)
	}
}

// viewerAuth is an authenticator with one viewer token, and the
// Authorization header that carries it.
func viewerAuth(t *testing.T) (*auth.Authenticator, string) {
	t.Helper()
	tok, hash, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	toks, err := auth.Parse([]byte("- {name: ana, role: viewer, token_hash: "+hash+", created: 2026-10-14T08:00:00Z}\n"), "tokens.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(toks, auth.Options{Rate: 1000, Burst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return a, "Bearer " + tok
}
