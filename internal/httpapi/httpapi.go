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
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/resilience-project/resilience/internal/auth"
)

// Check is a readiness check: nil means ready.
type Check func() error

// Degradation reports a part that works but not fully ("" means fine): a
// non-empty reason shows in /readyz without making the process unready.
type Degradation func() string

// Options configure the server. Nil sources disable their endpoints (404).
type Options struct {
	Listen   string
	Gatherer prometheus.Gatherer
	Stations StationReader
	// Registry gives the stations' metadata (coordinates, interval, alarm
	// levels) for the station status; *schemas.Registry satisfies it.
	Registry StationRegistry
	// OfflineIntervals: a station is offline when it has not been seen for
	// this many of its intervals (3 when 0, as the default offline rule).
	OfflineIntervals int
	Alerts           AlertReader
	// Actions enables the alert actions (needs Alerts).
	Actions AlertActor
	// Silences enables the silence endpoints.
	Silences SilenceStore
	// Auth authenticates every route but the public ones. Nil: an
	// authenticator without tokens, so only public routes and loopback
	// health answer (secure by default).
	Auth *auth.Authenticator
	// Audit records every write before its answer. Nil: writes answer 503
	// (no write goes unaudited). It also serves GET /api/v1/audit.
	Audit AuditLog
	// Events is the event stream hub (sse.go; nil: no /api/v1/events).
	Events *Events
	// Console serves the dashboard's static files at / and /console/
	// (nil: not mounted).
	Console http.Handler
	// CAP serves the public warnings (cap.go; nil: no CAP routes).
	CAP    *CAP
	Checks map[string]Check
	// Degradations show in /readyz as "degraded: …" but keep it 200 (see
	// readyz).
	Degradations map[string]Degradation
	// Now is the clock (time.Now when nil).
	Now    func() time.Time
	Logger *slog.Logger
}

// Server is the HTTP API.
type Server struct {
	o   Options
	srv *http.Server
}

// New builds the server: every route of Routes whose source is set,
// behind its permission.
func New(o Options) *Server {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:8080"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.OfflineIntervals <= 0 {
		o.OfflineIntervals = 3
	}
	if o.Auth == nil {
		o.Auth, _ = auth.New(nil, auth.Options{Logger: o.Logger}) // no tokens, no error
	}
	s := &Server{o: o}
	s.srv = &http.Server{Handler: s.mux(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
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
	s.o.Logger.Info("HTTP API listening", "addr", ln.Addr().String())
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

// writeJSON writes v as indented JSON with code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
