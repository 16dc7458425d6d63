package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/resilience-project/resilience/schemas"
)

// Check is a readiness check: nil means ready.
type Check func() error

// Degradation reports a part that works but not fully ("" means fine): a
// non-empty reason shows in /readyz without making the process unready.
type Degradation func() string

// StationReader is what the station endpoints read (the processor's view
// satisfies it).
type StationReader interface {
	// Stations returns every station's status, sorted by id.
	Stations() []schemas.StationStatus
	// Recent returns the recent values of one station's sensor since a
	// time, oldest first (nil: none).
	Recent(station string, sensor schemas.Sensor, since time.Time) []schemas.SensorValue
}

// AlertState is an alert state the alerts endpoints filter on.
type AlertState string

// The alert states of the API ("" in a filter: any).
const (
	AlertFiring       AlertState = "firing"
	AlertAcknowledged AlertState = "acknowledged"
	AlertResolved     AlertState = "resolved"
)

// Sentinel errors an AlertActor returns (wrapped) to choose the answer.
var (
	// ErrNoSuchAlert answers 404.
	ErrNoSuchAlert = errors.New("no such alert")
	// ErrBadAction answers 400 (a missing or too long field).
	ErrBadAction = errors.New("bad action")
)

// AlertActor takes operator actions on alerts (an adapter over the alerts
// service satisfies it). Act records the action durably (produced to
// Kafka) and returns it; it is applied asynchronously, so the API answers
// 202 Accepted.
type AlertActor interface {
	Act(ctx context.Context, alertID, kind, by, note string) (any, error)
}

// MaxActionBody bounds an action request's body.
const MaxActionBody = 16 << 10

// AlertReader is what the alerts endpoints read (an adapter over the
// alerts service's store satisfies it). The values are served as JSON.
type AlertReader interface {
	// ListAlerts returns the alerts of station ("": every station) in state
	// ("": any), as a JSON list (never null).
	ListAlerts(station string, state AlertState) any
	// GetAlert returns one alert by id, false if there is none.
	GetAlert(id string) (any, bool)
}

// Options configure the server. Nil sources disable their endpoints (404).
type Options struct {
	Listen   string
	Gatherer prometheus.Gatherer
	Stations StationReader
	Alerts   AlertReader
	// Actions enables POST /api/v1/alerts/{id}/ack and /resolve (needs Alerts).
	Actions AlertActor
	Checks  map[string]Check
	// Degradations show in /readyz as "degraded: …" but keep it 200 (see
	// readyz).
	Degradations map[string]Degradation
	Logger       *slog.Logger
}

// Server is the HTTP API.
type Server struct {
	o   Options
	srv *http.Server
}

// New builds the server.
func New(o Options) *Server {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:8080"
	}
	s := &Server{o: o}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", s.readyz)
	if o.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{}))
	}
	if o.Stations != nil {
		mux.HandleFunc("GET /api/v1/stations", s.stations)
		mux.HandleFunc("GET /api/v1/readings", s.readings)
	}
	if o.Alerts != nil {
		mux.HandleFunc("GET /api/v1/alerts", s.alerts)
		mux.HandleFunc("GET /api/v1/alerts/{id}", s.alert)
		if o.Actions != nil {
			mux.HandleFunc("POST /api/v1/alerts/{id}/ack", s.action("ack", "note"))
			mux.HandleFunc("POST /api/v1/alerts/{id}/resolve", s.action("resolve", "reason"))
		}
	}
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second}
	return s
}

// Handler exposes the routes (tests).
func (s *Server) Handler() http.Handler { return s.srv.Handler }

// Run serves until ctx is done, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.o.Listen)
	if err != nil {
		return fmt.Errorf("http.listen %s: %w", s.o.Listen, err)
	}
	if s.o.Logger != nil {
		s.o.Logger.Info("HTTP API listening", "addr", ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		s.srv.Shutdown(sctx)
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}

// readyz answers 200 when every check passes and 503 with the failing
// checks' reasons otherwise. A degradation (e.g. the point spool full:
// alerts flow, readings wait to be stored in InfluxDB) keeps the answer 200
// — the process serves alerts and the API, so a load balancer must keep
// routing to it — and adds its reason, "degraded: …", under its name for
// the control room to see; the header X-Resilience-Degraded lists the
// degraded names.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	out := map[string]string{}
	ok := true
	var degraded []string
	for name, d := range s.o.Degradations {
		if reason := d(); reason != "" {
			out[name] = "degraded: " + reason
			degraded = append(degraded, name)
		} else {
			out[name] = "ok"
		}
	}
	if len(degraded) > 0 {
		sort.Strings(degraded)
		w.Header().Set("X-Resilience-Degraded", strings.Join(degraded, ","))
	}
	for name, c := range s.o.Checks {
		if err := c(); err != nil {
			out[name] = err.Error()
			ok = false
		} else {
			out[name] = "ok"
		}
	}
	code := http.StatusOK
	if !ok {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, out)
}

func (s *Server) stations(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"stations": s.o.Stations.Stations()})
}

func (s *Server) readings(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	station, sensor := q.Get("station"), schemas.Sensor(q.Get("sensor"))
	if !schemas.ValidStationID(station) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "station: a valid station id is required"})
		return
	}
	if _, ok := schemas.Specs[sensor]; !ok {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "sensor: a known sensor kind is required"})
		return
	}
	var since time.Time
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "since: RFC 3339 expected"})
			return
		}
		since = t
	}
	rs := s.o.Stations.Recent(station, sensor, since)
	if rs == nil {
		rs = []schemas.SensorValue{} // [] rather than null, like the other lists
	}
	writeJSON(w, http.StatusOK, map[string]any{"station": station, "sensor": sensor, "readings": rs})
}

func (s *Server) alerts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	station, state := q.Get("station"), AlertState(q.Get("state"))
	if state != "" && state != AlertFiring && state != AlertAcknowledged && state != AlertResolved {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "state: firing, acknowledged or resolved"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"alerts": s.o.Alerts.ListAlerts(station, state)})
}

func (s *Server) alert(w http.ResponseWriter, r *http.Request) {
	a, ok := s.o.Alerts.GetAlert(r.PathValue("id"))
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such alert"})
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// action handles POST /api/v1/alerts/{id}/<kind> with a JSON body {by,
// <noteKey>}: 202 with the action once it is durable, 400 for a bad body,
// 404 for an unknown alert, 503 when it could not be recorded.
func (s *Server) action(kind, noteKey string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body map[string]string
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxActionBody))
		if err := dec.Decode(&body); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body: a JSON object {\"by\": ..., \"" + noteKey + "\": ...} expected"})
			return
		}
		for k := range body {
			if k != "by" && k != noteKey {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body: unknown key " + strconv.Quote(k)})
				return
			}
		}
		if body["by"] == "" || kind == "resolve" && body[noteKey] == "" {
			msg := "by: required"
			if body["by"] != "" {
				msg = noteKey + ": required"
			}
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": msg})
			return
		}
		a, err := s.o.Actions.Act(r.Context(), r.PathValue("id"), kind, body["by"], body[noteKey])
		switch {
		case errors.Is(err, ErrNoSuchAlert):
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such alert"})
		case errors.Is(err, ErrBadAction):
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		case err != nil:
			if s.o.Logger != nil {
				s.o.Logger.Error("alert action not recorded", "alert", r.PathValue("id"), "kind", kind, "err", err)
			}
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "the action could not be recorded; retry"})
		default:
			writeJSON(w, http.StatusAccepted, a)
		}
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
