package httpapi

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/resilience-project/resilience/internal/auth"
)

// Route is one line of the route table: a ServeMux pattern, the permission
// it needs and, for a write, the action the audit log records.
type Route struct {
	Method  string
	Pattern string // as net/http.ServeMux spells it, e.g. /api/v1/alerts/{id}
	Perm    auth.Permission
	// Audit is the audit log's action for a write ("" for a read).
	Audit string
	// handler builds the route's handler; nil when the server lacks the
	// route's source (the route is then not mounted: 404).
	handler func(*Server) http.Handler
}

// Routes is THE route table of the HTTP API: the mux mounts exactly these
// routes behind their permission, and the role × endpoint test reads it.
// A new endpoint is one line here (its handler in its own file).
func Routes() []Route {
	return []Route{
		{http.MethodGet, "/healthz", auth.PermHealth, "", func(*Server) http.Handler { return http.HandlerFunc(healthz) }},
		{http.MethodGet, "/readyz", auth.PermHealth, "", func(s *Server) http.Handler { return http.HandlerFunc(s.readyz) }},
		{http.MethodGet, "/metrics", auth.PermHealth, "", (*Server).metrics},
		{http.MethodGet, "/api/v1/openapi.json", auth.PermPublic, "", (*Server).openapi},
		{http.MethodGet, "/api/v1/whoami", auth.PermRead, "", func(*Server) http.Handler { return http.HandlerFunc(whoami) }},
		{http.MethodGet, "/api/v1/stations", auth.PermRead, "", (*Server).stationsHandler},
		{http.MethodGet, "/api/v1/stations/{id}", auth.PermRead, "", (*Server).stationHandler},
		{http.MethodGet, "/api/v1/readings", auth.PermRead, "", (*Server).readingsHandler},
		{http.MethodGet, "/api/v1/alerts", auth.PermRead, "", (*Server).alertsHandler},
		{http.MethodGet, "/api/v1/alerts/{id}", auth.PermRead, "", (*Server).alertHandler},
		{http.MethodPost, "/api/v1/alerts/{id}/ack", auth.PermOperate, "alert.ack", actionRoute("ack", "note", false)},
		{http.MethodPost, "/api/v1/alerts/{id}/unack", auth.PermOperate, "alert.unack", actionRoute("unack", "note", false)},
		{http.MethodPost, "/api/v1/alerts/{id}/resolve", auth.PermOperate, "alert.resolve", actionRoute("resolve", "reason", true)},
		{http.MethodPost, "/api/v1/alerts/{id}/assign", auth.PermOperate, "alert.assign", actionRoute("assign", "to", true)},
		{http.MethodPost, "/api/v1/alerts/{id}/comment", auth.PermOperate, "alert.comment", actionRoute("comment", "text", true)},
		{http.MethodGet, "/api/v1/silences", auth.PermRead, "", (*Server).silencesHandler},
		{http.MethodPost, "/api/v1/silences", auth.PermOperate, "silence.create", (*Server).createSilenceHandler},
		{http.MethodDelete, "/api/v1/silences/{id}", auth.PermOperate, "silence.expire", (*Server).expireSilenceHandler},
		{http.MethodGet, "/api/v1/audit", auth.PermAdmin, "", (*Server).auditHandler},
		// The event stream authenticates itself: a bearer token (PermRead) or
		// a single-use ?ticket= (EventSource cannot send headers), so it is
		// public here and 401 without either.
		{http.MethodGet, "/api/v1/events", auth.PermPublic, "", func(s *Server) http.Handler {
			if s.o.Events == nil {
				return nil
			}
			return s.o.Events.Stream(s.o.Auth)
		}},
		{http.MethodPost, "/api/v1/events/ticket", auth.PermRead, "", func(s *Server) http.Handler {
			if s.o.Events == nil {
				return nil
			}
			return s.o.Events.Ticket(nil) // Require of this table checks the token
		}},
		{http.MethodGet, "/{$}", auth.PermPublic, "", func(s *Server) http.Handler { return s.o.Console }},
		{http.MethodGet, "/console/", auth.PermPublic, "", func(s *Server) http.Handler { return s.o.Console }},
		{http.MethodGet, "/api/v1/cap/drafts", auth.PermPublish, "", func(s *Server) http.Handler { return s.o.CAP.DraftsHandler() }},
		{http.MethodGet, "/api/v1/cap/drafts/{id}", auth.PermPublish, "", func(s *Server) http.Handler { return s.o.CAP.DraftHandler() }},
		{http.MethodPost, "/api/v1/cap/drafts/{id}/approve", auth.PermPublish, "cap.approve", func(s *Server) http.Handler { return s.o.CAP.ApproveHandler() }},
		{http.MethodPost, "/api/v1/cap/drafts/{id}/discard", auth.PermPublish, "cap.discard", func(s *Server) http.Handler { return s.o.CAP.DiscardHandler() }},
		{http.MethodGet, "/cap/feed.atom", auth.PermPublic, "", func(s *Server) http.Handler { return s.o.CAP.FeedHandler() }},
		{http.MethodGet, "/cap/{file}", auth.PermPublic, "", func(s *Server) http.Handler { return s.o.CAP.FeedHandler() }},
	}
}

// mux mounts every route whose source is set: request id, then (writes)
// the audit record, then the permission check and the body limit.
func (s *Server) mux() *http.ServeMux {
	mux := http.NewServeMux()
	for _, rt := range Routes() {
		h := rt.handler(s)
		if h == nil {
			continue
		}
		if rt.Method == http.MethodPost || rt.Method == http.MethodPut || rt.Method == http.MethodDelete {
			h = auth.LimitBody(MaxBody, h)
		}
		h = s.o.Auth.Require(rt.Perm, h)
		if rt.Audit != "" {
			h = s.audited(rt.Audit, h)
		}
		mux.Handle(rt.Method+" "+rt.Pattern, withRequestID(h))
	}
	return mux
}

// MaxBody bounds a request body (413 above).
const MaxBody = 16 << 10

func healthz(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) }

func (s *Server) metrics() http.Handler {
	if s.o.Gatherer == nil {
		return nil
	}
	return promhttp.HandlerFor(s.o.Gatherer, promhttp.HandlerOpts{})
}

// whoami answers the token's name and role (the console shows the buttons
// the role may use).
func whoami(w http.ResponseWriter, r *http.Request) {
	p, _ := auth.FromContext(r.Context())
	writeJSON(w, http.StatusOK, map[string]string{"name": p.Name, "role": p.Role.String()})
}
