package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/resilience-project/resilience/internal/audit"
	"github.com/resilience-project/resilience/internal/auth"
	"github.com/resilience-project/resilience/internal/httpapi"
	"github.com/resilience-project/resilience/schemas"
)

// t0 is the fixture's "now".
var t0 = time.Date(2026, 10, 28, 3, 0, 0, 0, time.UTC)

// remoteAddr is a client that is not on loopback.
const remoteAddr = "192.0.2.10:40000"

// fakeStations is a StationReader over fixed statuses and recent values.
type fakeStations struct {
	st     []schemas.StationStatus
	recent map[string][]schemas.SensorValue // station/sensor → values, oldest first
}

func (f fakeStations) Stations() []schemas.StationStatus { return f.st }
func (f fakeStations) Recent(station string, sensor schemas.Sensor, since time.Time) []schemas.SensorValue {
	var out []schemas.SensorValue
	for _, v := range f.recent[station+"/"+string(sensor)] {
		if !v.TS.Before(since) {
			out = append(out, v)
		}
	}
	return out
}

// fakeRegistry is a StationRegistry over a map.
type fakeRegistry map[string]*schemas.Station

func (r fakeRegistry) Lookup(id string) *schemas.Station { return r[id] }

// fakeAlerts is an AlertReader over fixed alerts.
type fakeAlerts struct{ alerts []httpapi.Alert }

func (f *fakeAlerts) ListAlerts(flt httpapi.AlertFilter) []httpapi.Alert {
	out := []httpapi.Alert{}
	for _, a := range f.alerts {
		if (flt.Station == "" || a.Station == flt.Station) && (flt.State == "" || a.State == flt.State) {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].StartedAt.Equal(out[j].StartedAt) {
			return out[i].StartedAt.After(out[j].StartedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

func (f *fakeAlerts) GetAlert(id string) (httpapi.Alert, bool) {
	for _, a := range f.alerts {
		if a.ID == id {
			return a, true
		}
	}
	return httpapi.Alert{}, false
}

type actCall struct{ id, kind, by, note string }

// fakeActor records actions; err fails them; unknown ids are ErrNoSuchAlert.
type fakeActor struct {
	mu    sync.Mutex
	calls []actCall
	err   error
	known func(string) bool
}

func (f *fakeActor) Act(_ context.Context, id, kind, by, note string) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	if f.known != nil && !f.known(id) {
		return nil, fmt.Errorf("alert %q: %w", id, httpapi.ErrNoSuchAlert)
	}
	f.calls = append(f.calls, actCall{id, kind, by, note})
	return map[string]any{"v": 1, "action_id": id + ":" + kind + ":1", "alert_id": id, "kind": kind, "by": by, "note": note, "at": t0}, nil
}

func (f *fakeActor) list() []actCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]actCall(nil), f.calls...)
}

// fakeSilences is a SilenceStore in memory.
type fakeSilences struct {
	mu  sync.Mutex
	by  map[string]httpapi.Silence
	n   int
	err error
	now func() time.Time
}

func (f *fakeSilences) CreateSilence(_ context.Context, s httpapi.Silence) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return "", f.err
	}
	if len(s.Matchers) == 0 {
		return "", fmt.Errorf("matchers: at least one: %w", httpapi.ErrBadSilence)
	}
	f.n++
	s.ID = fmt.Sprintf("s%d", f.n)
	f.by[s.ID] = s
	return s.ID, nil
}

func (f *fakeSilences) ExpireSilence(_ context.Context, id, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.by[id]
	if !ok {
		return fmt.Errorf("%q: %w", id, httpapi.ErrNoSuchSilence)
	}
	if now := f.now(); s.EndsAt.After(now) {
		s.EndsAt = now
	}
	f.by[id] = s
	return nil
}

func (f *fakeSilences) Silences() []httpapi.Silence {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []httpapi.Silence{}
	for _, s := range f.by {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// failingAudit refuses to append (a full disk).
type failingAudit struct{ httpapi.AuditLog }

func (failingAudit) Append(audit.Record) (audit.Entry, error) {
	return audit.Entry{}, errors.New("write audit.jsonl: no space left on device")
}

// fixture is a server with every source, one token per role and a real
// audit log.
type fixture struct {
	t        testing.TB
	h        http.Handler
	tokens   map[auth.Role]string
	actor    *fakeActor
	silences *fakeSilences
	alerts   *fakeAlerts
	log      *audit.Log
	logPath  string
	reg      *prometheus.Registry
	mu       sync.Mutex
	readyErr error
}

type fixtureOpts struct {
	rate  float64
	burst int
	audit func(*audit.Log) httpapi.AuditLog
}

func newFixture(t testing.TB) *fixture { return newFixtureWith(t, fixtureOpts{}) }

func newFixtureWith(t testing.TB, fo fixtureOpts) *fixture {
	t.Helper()
	f := &fixture{t: t, reg: prometheus.NewRegistry()}
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "resilience_test_things_total", Help: "Things."})
	f.reg.MustRegister(c)
	c.Add(3)
	var toks []auth.Token
	f.tokens, toks = roleTokens(t)
	if fo.rate == 0 {
		fo.rate, fo.burst = 10000, 10000
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	authn, err := auth.New(toks, auth.Options{Rate: fo.rate, Burst: fo.burst, Now: func() time.Time { return t0 }, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	f.logPath = filepath.Join(t.TempDir(), "audit.jsonl")
	f.log, err = audit.Open(f.logPath, audit.Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.log.Close() })
	var al httpapi.AuditLog = f.log
	if fo.audit != nil {
		al = fo.audit(f.log)
	}
	f.alerts = &fakeAlerts{alerts: testAlerts()}
	f.actor = &fakeActor{known: func(id string) bool { _, ok := f.alerts.GetAlert(id); return ok }}
	f.silences = &fakeSilences{by: map[string]httpapi.Silence{}, now: func() time.Time { return t0 }}
	st, reg := testStations()
	f.h = httpapi.New(httpapi.Options{Gatherer: f.reg, Stations: st, Registry: reg, Alerts: f.alerts, Actions: f.actor,
		Silences: f.silences, Auth: authn, Audit: al, Now: func() time.Time { return t0 }, Logger: logger,
		Console: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "<html></html>") }),
		Checks:  map[string]httpapi.Check{"kafka": func() error { f.mu.Lock(); defer f.mu.Unlock(); return f.readyErr }},
	}).Handler()
	return f
}

// roleTokens is one token per role, named after it.
func roleTokens(t testing.TB) (map[auth.Role]string, []auth.Token) {
	t.Helper()
	secrets := map[auth.Role]string{}
	var y strings.Builder
	for _, r := range auth.Roles() {
		tok, hash, err := auth.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		secrets[r] = tok
		fmt.Fprintf(&y, "- {name: %s-user, role: %s, token_hash: %s, created: 2026-10-14T08:00:00Z}\n", r, r, hash)
	}
	toks, err := auth.Parse([]byte(y.String()), "tokens.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return secrets, toks
}

// set sets the readiness check's error.
func (f *fixture) set(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.readyErr = err
}

// req describes one request of a test.
type req struct {
	method, path, body string
	role               auth.Role // 0: no token
	authz              string    // overrides role
	from               string    // RemoteAddr (remoteAddr when empty)
	hdr                map[string]string
}

// do serves r and checks the answer against the OpenAPI document.
func (f *fixture) do(t *testing.T, r req) *httptest.ResponseRecorder {
	t.Helper()
	if r.method == "" {
		r.method = http.MethodGet
	}
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr := httptest.NewRequest(r.method, r.path, body)
	hr.RemoteAddr = remoteAddr
	if r.from != "" {
		hr.RemoteAddr = r.from
	}
	if r.body != "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	switch {
	case r.authz != "":
		hr.Header.Set("Authorization", r.authz)
	case r.role != 0:
		hr.Header.Set("Authorization", "Bearer "+f.tokens[r.role])
	}
	for k, v := range r.hdr {
		hr.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, hr)
	validateResponse(t, hr, r.body, rec)
	return rec
}

func decode(t *testing.T, rec *httptest.ResponseRecorder, v any) {
	t.Helper()
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
}

// auditEntries is the whole audit log, oldest first.
func (f *fixture) auditEntries() []audit.Entry {
	f.t.Helper()
	es, err := f.log.Page(0, 1000)
	if err != nil {
		f.t.Fatal(err)
	}
	for i, j := 0, len(es)-1; i < j; i, j = i+1, j-1 {
		es[i], es[j] = es[j], es[i]
	}
	return es
}

// testStations: Ái Nghĩa above BĐ II and rising, Hòa Vang silent for an
// hour (offline), one station the registry does not know.
func testStations() (fakeStations, fakeRegistry) {
	seen := t0.Add(-5 * time.Minute)
	old := t0.Add(-time.Hour)
	reg := fakeRegistry{
		"VG-AINGHIA": {ID: "VG-AINGHIA", Name: "Ái Nghĩa", District: "Đại Lộc", Basin: "Vu Gia - Thu Bồn", River: "Vu Gia",
			Lat: 15.88, Lon: 108.12, Interval: 5 * time.Minute, Sensors: []schemas.Sensor{schemas.WaterLevel, schemas.Rainfall},
			AlarmLevelsM: schemas.Levels{I: 6.5, II: 8, III: 9}},
		"DN-HOAVANG": {ID: "DN-HOAVANG", Name: "Hòa Vang", District: "Hòa Vang", Basin: "Cu Đê", Lat: 16.06, Lon: 108.05,
			Interval: 10 * time.Minute, Sensors: []schemas.Sensor{schemas.Rainfall}},
	}
	var rising []schemas.SensorValue
	for i := range 7 { // 7.9 m → 8.5 m over the last 30 minutes: +1.2 m/h
		rising = append(rising, schemas.SensorValue{Value: 7.9 + 0.1*float64(i), Unit: "m", TS: seen.Add(time.Duration(i-6) * 5 * time.Minute), Quality: 1})
	}
	st := fakeStations{
		st: []schemas.StationStatus{
			{ID: "DN-HOAVANG", Name: "Hòa Vang", District: "Hòa Vang", Basin: "Cu Đê", LastSeen: &old, LastSeq: 40,
				Values: map[schemas.Sensor]schemas.SensorValue{schemas.Rainfall: {Value: 0, Unit: "mm", TS: old, Quality: 1}}},
			{ID: "VG-AINGHIA", Name: "Ái Nghĩa", District: "Đại Lộc", Basin: "Vu Gia - Thu Bồn", LastSeen: &seen, LastSeq: 1024,
				Battery: &schemas.SensorValue{Value: 3.9, Unit: "V", TS: seen, Quality: 2},
				Values:  map[schemas.Sensor]schemas.SensorValue{schemas.WaterLevel: rising[6], schemas.Rainfall: {Value: 12.5, Unit: "mm", TS: seen, Quality: 1}}},
			{ID: "XX-NEW", Name: "new", Values: map[schemas.Sensor]schemas.SensorValue{}},
		},
		recent: map[string][]schemas.SensorValue{"VG-AINGHIA/water_level": rising},
	}
	return st, reg
}

// testAlerts: 7 alerts over two stations, started an hour apart.
func testAlerts() []httpapi.Alert {
	var out []httpapi.Alert
	for i := range 7 {
		a := httpapi.Alert{ID: fmt.Sprintf("A%d", i), Station: "VG-AINGHIA", Sensor: "water_level", Rule: "level:water_level", Level: 2,
			LevelName: "BĐ II", Severity: "Severe", State: httpapi.AlertFiring, Value: 8.5, Threshold: 8,
			StartedAt: t0.Add(-time.Duration(i) * time.Hour), UpdatedAt: t0, District: "Đại Lộc", Basin: "Vu Gia - Thu Bồn", Events: 2,
			History: []httpapi.AlertTransition{
				{At: t0.Add(-time.Duration(i) * time.Hour), Kind: "fired", Level: 3, ID: fmt.Sprintf("A%d:fired", i)},
				{At: t0, Kind: "deescalated", Level: 2, ID: fmt.Sprintf("A%d:deescalated", i)},
			},
			Readings: []schemas.ReadingRef{{Seq: 1000, TS: t0.Add(-time.Duration(i) * time.Hour), Value: 9.2}},
		}
		switch i {
		case 1:
			a.State, a.Ack = httpapi.AlertAcknowledged, &httpapi.AlertAck{By: "operator-user", At: t0}
		case 2:
			a.Station, a.District, a.Basin, a.Rule, a.Sensor, a.Severity = "DN-HOAVANG", "Hòa Vang", "Cu Đê", "accumulation:rainfall:24h", "rainfall", "Moderate"
		case 5:
			rt := t0.Add(-4 * time.Hour)
			a.State, a.ResolvedAt = httpapi.AlertResolved, &rt
		}
		out = append(out, a)
	}
	return out
}
