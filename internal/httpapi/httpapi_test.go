package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/resilience-project/resilience/internal/httpapi"
	"github.com/resilience-project/resilience/schemas"
)

// Run starts the HTTP server's goroutines; none may be left.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeStations is a StationReader over fixed statuses.
type fakeStations struct{ st []schemas.StationStatus }

func (f fakeStations) Stations() []schemas.StationStatus { return f.st }
func (f fakeStations) Recent(string, schemas.Sensor, time.Time) []schemas.SensorValue {
	return nil // nothing observed
}

func stations() fakeStations {
	return fakeStations{st: []schemas.StationStatus{
		{ID: "DN-HOAVANG", Name: "Hòa Vang", District: "Hòa Vang", Basin: "Cu Đê", Values: map[schemas.Sensor]schemas.SensorValue{},
			Recent: map[schemas.Sensor][]schemas.SensorValue{schemas.Rainfall: {{Value: 1}}}},
		{ID: "VG-AINGHIA", Name: "Ái Nghĩa", District: "Đại Lộc", Basin: "Vu Gia - Thu Bồn", Values: map[schemas.Sensor]schemas.SensorValue{}},
	}}
}

// testAlert is what fakeAlerts serves.
type testAlert struct {
	ID      string `json:"id"`
	Station string `json:"station"`
	State   string `json:"state"`
	Events  int    `json:"events"`
}

// fakeAlerts is an AlertReader over fixed alerts; it records the filters
// it was asked for.
type fakeAlerts struct {
	mu      sync.Mutex
	alerts  []testAlert
	queries []string
}

func (f *fakeAlerts) ListAlerts(station string, state httpapi.AlertState) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, station+"|"+string(state))
	out := []testAlert{}
	for _, a := range f.alerts {
		if (station == "" || a.Station == station) && (state == "" || a.State == string(state)) {
			out = append(out, a)
		}
	}
	return out
}

func (f *fakeAlerts) GetAlert(id string) (any, bool) {
	for _, a := range f.alerts {
		if a.ID == id {
			return a, true
		}
	}
	return nil, false
}

type fixture struct {
	h                   http.Handler
	reg                 *prometheus.Registry
	alerts              *fakeAlerts
	firing, resolved    testAlert
	mu                  sync.Mutex
	kafkaErr, influxErr error
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{reg: prometheus.NewRegistry()}
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "resilience_test_things_total", Help: "Things."})
	f.reg.MustRegister(c)
	c.Add(3)

	f.firing = testAlert{ID: "a-firing", Station: "VG-AINGHIA", State: "firing", Events: 1}
	f.resolved = testAlert{ID: "a-resolved", Station: "DN-HOAVANG", State: "resolved", Events: 2}
	f.alerts = &fakeAlerts{alerts: []testAlert{f.firing, f.resolved}}
	check := func(p *error) httpapi.Check {
		return func() error {
			f.mu.Lock()
			defer f.mu.Unlock()
			return *p
		}
	}
	s := httpapi.New(httpapi.Options{Gatherer: f.reg, Stations: stations(), Alerts: f.alerts,
		Checks: map[string]httpapi.Check{"kafka": check(&f.kafkaErr), "influx": check(&f.influxErr)}})
	f.h = s.Handler()
	return f
}

func (f *fixture) set(kafka, influx error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kafkaErr, f.influxErr = kafka, influx
}

// get serves one request and returns the status, headers and body.
func get(t *testing.T, h http.Handler, target string) (int, http.Header, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	return rec.Code, rec.Header(), rec.Body.String()
}

func decode(t *testing.T, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
}

func TestHealthz(t *testing.T) {
	f := newFixture(t)
	f.set(errors.New("down"), nil) // liveness ignores readiness checks
	code, _, body := get(t, f.h, "/healthz")
	if code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz = %d %q, want 200 ok", code, body)
	}
}

func TestReadyz(t *testing.T) {
	tests := []struct {
		name          string
		kafka, influx error
		code          int
		want          map[string]string
	}{
		{"all ok", nil, nil, http.StatusOK, map[string]string{"kafka": "ok", "influx": "ok"}},
		{"one failing", errors.New("kafka 127.0.0.1:9092: connection refused"), nil, http.StatusServiceUnavailable,
			map[string]string{"kafka": "kafka 127.0.0.1:9092: connection refused", "influx": "ok"}},
		{"both failing", errors.New("k"), errors.New("spooling"), http.StatusServiceUnavailable,
			map[string]string{"kafka": "k", "influx": "spooling"}},
	}
	f := newFixture(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.set(tc.kafka, tc.influx)
			code, hdr, body := get(t, f.h, "/readyz")
			if code != tc.code {
				t.Errorf("/readyz = %d, want %d (%s)", code, tc.code, body)
			}
			if ct := hdr.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			var got map[string]string
			decode(t, body, &got)
			if len(got) != len(tc.want) {
				t.Errorf("/readyz body %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("/readyz[%s] = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestReadyzWithoutChecks(t *testing.T) {
	code, _, body := get(t, httpapi.New(httpapi.Options{}).Handler(), "/readyz")
	if code != http.StatusOK || strings.TrimSpace(body) != "{}" {
		t.Errorf("/readyz without checks = %d %q, want 200 {}", code, body)
	}
}

func TestMetrics(t *testing.T) {
	f := newFixture(t)
	code, _, body := get(t, f.h, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
	if !strings.Contains(body, "resilience_test_things_total 3") {
		t.Errorf("/metrics lacks the registered counter:\n%s", body)
	}
}

func TestNilSourcesAre404(t *testing.T) {
	h := httpapi.New(httpapi.Options{}).Handler()
	for _, p := range []string{"/metrics", "/api/v1/stations", "/api/v1/readings?station=VG-AINGHIA&sensor=rainfall",
		"/api/v1/alerts", "/api/v1/alerts/x"} {
		if code, _, _ := get(t, h, p); code != http.StatusNotFound {
			t.Errorf("%s without its source = %d, want 404", p, code)
		}
	}
}

func TestMethodNotAllowed(t *testing.T) {
	f := newFixture(t)
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/alerts", strings.NewReader("{}")))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /api/v1/alerts = %d, want 405", rec.Code)
	}
}

func TestStations(t *testing.T) {
	f := newFixture(t)
	code, _, body := get(t, f.h, "/api/v1/stations")
	if code != http.StatusOK {
		t.Fatalf("/api/v1/stations = %d %s", code, body)
	}
	var got struct {
		Stations []map[string]any `json:"stations"`
	}
	decode(t, body, &got)
	if len(got.Stations) != 2 {
		t.Fatalf("stations: %d, want 2: %s", len(got.Stations), body)
	}
	// Sorted by id; nothing seen yet.
	for i, want := range []struct{ id, name, district, basin string }{
		{"DN-HOAVANG", "Hòa Vang", "Hòa Vang", "Cu Đê"},
		{"VG-AINGHIA", "Ái Nghĩa", "Đại Lộc", "Vu Gia - Thu Bồn"},
	} {
		s := got.Stations[i]
		if s["id"] != want.id || s["name"] != want.name || s["district"] != want.district || s["basin"] != want.basin {
			t.Errorf("stations[%d] = %v, want %+v", i, s, want)
		}
		if s["last_seen"] != nil {
			t.Errorf("stations[%d].last_seen = %v, want null before any reading", i, s["last_seen"])
		}
		if _, ok := s["Recent"]; ok {
			t.Errorf("stations[%d] exposes the recent history", i)
		}
	}
}

func TestReadings(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name     string
		query    string
		code     int
		errorKey string
	}{
		{"missing station", "?sensor=rainfall", http.StatusBadRequest, "station"},
		{"bad station id", "?station=VG%2FAINGHIA&sensor=rainfall", http.StatusBadRequest, "station"},
		{"bad station id with wildcard", "?station=%2B&sensor=rainfall", http.StatusBadRequest, "station"},
		{"missing sensor", "?station=VG-AINGHIA", http.StatusBadRequest, "sensor"},
		{"unknown sensor", "?station=VG-AINGHIA&sensor=temperature", http.StatusBadRequest, "sensor"},
		{"bad since", "?station=VG-AINGHIA&sensor=rainfall&since=yesterday", http.StatusBadRequest, "since"},
		{"since without zone", "?station=VG-AINGHIA&sensor=rainfall&since=2025-10-28T03:00:00", http.StatusBadRequest, "since"},
		{"ok", "?station=VG-AINGHIA&sensor=water_level", http.StatusOK, ""},
		{"ok with since", "?station=VG-AINGHIA&sensor=rainfall&since=2025-10-28T03:00:00%2B07:00", http.StatusOK, ""},
		{"unknown but valid station", "?station=XX-NOWHERE&sensor=rainfall", http.StatusOK, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, body := get(t, f.h, "/api/v1/readings"+tc.query)
			if code != tc.code {
				t.Fatalf("= %d %s, want %d", code, body, tc.code)
			}
			if tc.errorKey != "" {
				var e struct{ Error string }
				decode(t, body, &e)
				if !strings.HasPrefix(e.Error, tc.errorKey+":") {
					t.Errorf("error %q does not name %s", e.Error, tc.errorKey)
				}
				return
			}
			var got struct {
				Station  string          `json:"station"`
				Sensor   string          `json:"sensor"`
				Readings json.RawMessage `json:"readings"`
			}
			decode(t, body, &got)
			if got.Station == "" || got.Sensor == "" {
				t.Errorf("station/sensor not echoed: %s", body)
			}
			if string(got.Readings) != "[]" {
				t.Errorf("readings = %s, want [] (nothing observed)", got.Readings)
			}
		})
	}
}

func TestAlerts(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		query string
		code  int
		want  []string
		asked string // the filter passed to the AlertReader ("": none)
	}{
		{"", http.StatusOK, []string{f.firing.ID, f.resolved.ID}, "|"},
		{"?state=firing", http.StatusOK, []string{f.firing.ID}, "|firing"},
		{"?state=resolved", http.StatusOK, []string{f.resolved.ID}, "|resolved"},
		{"?station=DN-HOAVANG", http.StatusOK, []string{f.resolved.ID}, "DN-HOAVANG|"},
		{"?station=DN-HOAVANG&state=firing", http.StatusOK, []string{}, "DN-HOAVANG|firing"},
		{"?state=open", http.StatusBadRequest, nil, ""},
		{"?state=FIRING", http.StatusBadRequest, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			f.alerts.mu.Lock()
			f.alerts.queries = nil
			f.alerts.mu.Unlock()
			code, _, body := get(t, f.h, "/api/v1/alerts"+tc.query)
			f.alerts.mu.Lock()
			asked := strings.Join(f.alerts.queries, ";")
			f.alerts.mu.Unlock()
			if asked != tc.asked {
				t.Errorf("AlertReader asked for %q, want %q", asked, tc.asked)
			}
			if code != tc.code {
				t.Fatalf("= %d %s, want %d", code, body, tc.code)
			}
			if code != http.StatusOK {
				var e struct{ Error string }
				decode(t, body, &e)
				if !strings.HasPrefix(e.Error, "state:") {
					t.Errorf("error %q does not name state", e.Error)
				}
				return
			}
			var got struct {
				Alerts []testAlert `json:"alerts"`
			}
			decode(t, body, &got)
			if got.Alerts == nil {
				t.Errorf("alerts is null, want a list: %s", body)
			}
			ids := make([]string, len(got.Alerts))
			for i, a := range got.Alerts {
				ids[i] = a.ID
			}
			if strings.Join(ids, ",") != strings.Join(tc.want, ",") {
				t.Errorf("alerts %v, want %v", ids, tc.want)
			}
		})
	}
}

func TestAlertByID(t *testing.T) {
	f := newFixture(t)
	code, _, body := get(t, f.h, "/api/v1/alerts/no-such-alert")
	if code != http.StatusNotFound {
		t.Errorf("unknown alert = %d %s, want 404", code, body)
	}
	code, _, body = get(t, f.h, "/api/v1/alerts/"+f.resolved.ID)
	if code != http.StatusOK {
		t.Fatalf("alert = %d %s, want 200", code, body)
	}
	var a testAlert
	decode(t, body, &a)
	if a != f.resolved {
		t.Errorf("alert = %+v, want %+v", a, f.resolved)
	}
}

// addrHandler is a slog.Handler that reports the "addr" attribute.
type addrHandler struct{ addr chan string }

func (h addrHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h addrHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h addrHandler) WithGroup(string) slog.Handler            { return h }
func (h addrHandler) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "addr" {
			h.addr <- a.Value.String()
		}
		return true
	})
	return nil
}

func TestRunServesAndStops(t *testing.T) {
	f := newFixture(t)
	addrs := make(chan string, 1)
	s := httpapi.New(httpapi.Options{Listen: "127.0.0.1:0", Gatherer: f.reg, Logger: slog.New(addrHandler{addrs})})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var addr string
	select {
	case addr = <-addrs:
	case err := <-done:
		t.Fatalf("Run returned early: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not log its address")
	}
	cl := &http.Client{Transport: &http.Transport{}}
	defer cl.CloseIdleConnections()
	resp, err := cl.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(b) != "ok\n" {
		t.Errorf("GET /healthz = %d %q", resp.StatusCode, b)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil after cancel", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	cl.CloseIdleConnections()
	if _, err := cl.Get("http://" + addr + "/healthz"); err == nil {
		t.Error("server still answers after Run returned")
	}
}

func TestRunListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := httpapi.New(httpapi.Options{Listen: ln.Addr().String()})
	err = s.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Errorf("Run on a taken port = %v, want an error naming %s", err, ln.Addr())
	}
}

// TestReadyzDegraded (defect 5): a degradation (the point spool full) keeps
// /readyz at 200, so a load balancer keeps routing, but names the reason in
// the body and the X-Resilience-Degraded header; a failing check still
// makes it 503.
func TestReadyzDegraded(t *testing.T) {
	var mu sync.Mutex
	reason := ""
	var checkErr error
	h := httpapi.New(httpapi.Options{
		Checks: map[string]httpapi.Check{"processor": func() error { mu.Lock(); defer mu.Unlock(); return checkErr }},
		Degradations: map[string]httpapi.Degradation{"points": func() string {
			mu.Lock()
			defer mu.Unlock()
			return reason
		}},
	}).Handler()
	set := func(r string, err error) { mu.Lock(); reason, checkErr = r, err; mu.Unlock() }
	cases := []struct {
		name    string
		reason  string
		err     error
		code    int
		want    map[string]string
		wantHdr string
	}{
		{"fine", "", nil, http.StatusOK, map[string]string{"processor": "ok", "points": "ok"}, ""},
		{"spool full", "point spool full, 1200 readings not yet stored in InfluxDB", nil, http.StatusOK,
			map[string]string{"processor": "ok", "points": "degraded: point spool full, 1200 readings not yet stored in InfluxDB"}, "points"},
		{"spool full and not ready", "point spool full, 5 readings not yet stored in InfluxDB", errors.New("no partitions assigned yet"),
			http.StatusServiceUnavailable,
			map[string]string{"processor": "no partitions assigned yet", "points": "degraded: point spool full, 5 readings not yet stored in InfluxDB"}, "points"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			set(tc.reason, tc.err)
			code, hdr, body := get(t, h, "/readyz")
			if code != tc.code {
				t.Errorf("/readyz = %d, want %d (%s)", code, tc.code, body)
			}
			if got := hdr.Get("X-Resilience-Degraded"); got != tc.wantHdr {
				t.Errorf("X-Resilience-Degraded = %q, want %q", got, tc.wantHdr)
			}
			var got map[string]string
			decode(t, body, &got)
			if len(got) != len(tc.want) {
				t.Errorf("/readyz body %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("/readyz[%s] = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}
