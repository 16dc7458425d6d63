package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"regexp"
	"strconv"

	"github.com/resilience-project/resilience/internal/audit"
	"github.com/resilience-project/resilience/internal/auth"
)

// RequestIDHeader carries the request id: the client's when valid, a new
// one otherwise; every answer repeats it and the audit log records it.
const RequestIDHeader = "X-Request-Id"

var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

type requestIDKey struct{}

// withRequestID gives the request its id (context and answer header).
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !requestIDRE.MatchString(id) {
			var b [8]byte
			rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set(RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

// requestID is the id withRequestID gave r.
func requestID(r *http.Request) string {
	id, _ := r.Context().Value(requestIDKey{}).(string)
	return id
}

// writeError answers {"error": msg, "request_id": …}.
func writeError(w http.ResponseWriter, r *http.Request, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg, "request_id": requestID(r)})
}

// auditDetailKey is the context key of the detail a write handler adds to
// its audit entry (auditDetail).
type auditDetailKey struct{}

// auditDetail adds key=value to the request's audit entry (no-op on a
// request that is not audited).
func auditDetail(r *http.Request, key, value string) {
	if d, ok := r.Context().Value(auditDetailKey{}).(map[string]string); ok && value != "" {
		d[key] = value
	}
}

// auditTarget sets the entry's target (the alert or silence id).
func auditTarget(r *http.Request, target string) { auditDetail(r, "\x00target", target) }

// bufferedResponse holds an answer until the audit entry is durable.
type bufferedResponse struct {
	hdr  http.Header
	code int
	body bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.hdr }
func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.code == 0 {
		b.code = http.StatusOK
	}
	return b.body.Write(p)
}
func (b *bufferedResponse) WriteHeader(code int) {
	if b.code == 0 {
		b.code = code
	}
}

// audited wraps a write: its answer is held until the audit log has the
// entry {actor, role, action, target, outcome, request_id} (fsynced), then
// sent. Refusals before a valid token (401) and rate limiting (429) are
// not recorded: they would let anyone grow the log at will; a forbidden
// write (403) of a known token is. When the entry cannot be written the
// answer is 503 and the log names what was done, so that no write is
// acknowledged unaudited.
func (s *Server) audited(action string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.o.Audit == nil {
			writeError(w, r, http.StatusServiceUnavailable, "no audit log: writes are disabled")
			return
		}
		p, err := s.o.Auth.Authenticate(r)
		if err != nil {
			next.ServeHTTP(w, r)
			return
		}
		detail := map[string]string{}
		buf := &bufferedResponse{hdr: w.Header()}
		next.ServeHTTP(buf, r.WithContext(context.WithValue(r.Context(), auditDetailKey{}, detail)))
		if buf.code == 0 {
			buf.code = http.StatusOK
		}
		if buf.code == http.StatusTooManyRequests {
			flush(w, buf)
			return
		}
		target := detail["\x00target"]
		delete(detail, "\x00target")
		if target == "" {
			target = r.URL.Path
		}
		detail["request_id"] = requestID(r)
		detail["outcome"] = strconv.Itoa(buf.code) + " " + http.StatusText(buf.code)
		e, err := s.o.Audit.Append(audit.Record{Actor: p.Name, Role: p.Role.String(), Action: action, Target: target, Detail: detail})
		if err != nil {
			s.o.Logger.Error("audit: write not recorded; answering 503", "action", action, "target", target, "actor", p.Name,
				"outcome", detail["outcome"], "request_id", detail["request_id"], "err", err)
			w.Header().Del("Location")
			writeError(w, r, http.StatusServiceUnavailable, "the audit log could not record this write ("+detail["outcome"]+"); check the audit log before retrying")
			return
		}
		s.o.Logger.Info("audit", "seq", e.Seq, "hash", e.Hash, "action", action, "target", target, "actor", p.Name, "outcome", detail["outcome"])
		flush(w, buf)
	})
}

func flush(w http.ResponseWriter, b *bufferedResponse) {
	w.WriteHeader(b.code)
	w.Write(b.body.Bytes())
}

// principal is the authenticated caller (Require ran before the handler).
func principal(r *http.Request) auth.Principal {
	p, _ := auth.FromContext(r.Context())
	return p
}
