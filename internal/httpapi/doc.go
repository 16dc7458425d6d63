// Package httpapi serves the operator HTTP API: health (/healthz, /readyz),
// Prometheus metrics (/metrics), the JSON API under /api/v1 (stations with
// their status, recent readings, alerts with their history and the operator
// actions on them, silences, the audit log), the event stream (sse.go), the
// public warnings (cap.go) and the console's static files. It listens on
// 127.0.0.1:8080 by default.
//
// Routes is the one route table: method, ServeMux pattern, permission
// (internal/auth) and, for a write, its audit action. The mux mounts each
// route whose source is set as: request id (X-Request-Id, echoed, recorded)
// → audit (writes) → auth.Require(permission) → body limit (MaxBody, 413)
// → handler. Every /api/v1 route needs a bearer token whose role has the
// permission (401 without, 403 below, 429 over the token's rate), except
// the public ones (the OpenAPI document, the console, the CAP feed; the
// event stream checks its own token or ticket); health and metrics are open
// from loopback only. Without an Authenticator no token is accepted (secure
// by default).
//
// Every write is audited before its answer: the handler's answer is held,
// the entry {actor, role, action, target, detail{outcome, request_id, …}}
// is appended and fsynced (internal/audit), then the answer is sent; if the
// entry cannot be written the answer is 503 (the action itself may have
// been recorded: the server log names it). A forbidden write of a valid
// token is audited; 401s and 429s are not (anyone could grow the log).
// The acting user of an action or a silence is always the token's name.
//
// Lists are paginated: limit 1..MaxPageSize (DefaultPageSize), an opaque
// next_cursor while more match. The OpenAPI 3 document (OpenAPI, served at
// /api/v1/openapi.json) is merged from openapi/*.json fragments, one per
// owner; the tests validate every answer against it.
//
// The package sits in the application layer: it imports no component. It
// reads through the small interfaces it declares (StationReader,
// StationRegistry, AlertReader, AlertActor, SilenceStore, AuditLog, Check,
// Degradation), which the processor's view, the station registry, adapters
// over the alerts service and its store, the audit log and the components'
// readiness functions satisfy.
package httpapi
