package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/resilience-project/resilience/internal/audit"
	"github.com/resilience-project/resilience/internal/auth"
)

// AuditLog is the audit log the API appends every write to and serves to
// admins (*audit.Log satisfies it).
type AuditLog interface {
	Append(audit.Record) (audit.Entry, error)
	// Page returns up to limit entries below seq before (0: newest),
	// newest first.
	Page(before uint64, limit int) ([]audit.Entry, error)
	Head() audit.Head
}

// auditHandler serves GET /api/v1/audit?limit=&cursor=: entries newest
// first, the head, and next_cursor while older entries remain.
func (s *Server) auditHandler() http.Handler {
	if s.o.Audit == nil {
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		limit, err := auth.ParseLimit(q, DefaultPageSize, MaxPageSize)
		if err != nil {
			writeError(w, r, http.StatusBadRequest, err.Error())
			return
		}
		var before uint64
		if c := q.Get("cursor"); c != "" {
			if before, err = strconv.ParseUint(c, 10, 64); err != nil || before == 0 {
				writeError(w, r, http.StatusBadRequest, "cursor: not a cursor this API returned")
				return
			}
		}
		head := s.o.Audit.Head()
		es, err := s.o.Audit.Page(before, limit)
		switch {
		case errors.Is(err, audit.ErrBroken):
			s.o.Logger.Error("audit log chain broken", "request_id", requestID(r), "err", err)
			var b *audit.BrokenError
			errors.As(err, &b)
			writeError(w, r, http.StatusServiceUnavailable, fmt.Sprintf("the audit log's chain is broken at line %d: %s", b.Line, b.Reason))
			return
		case err != nil:
			s.o.Logger.Error("audit log not readable", "request_id", requestID(r), "err", err)
			writeError(w, r, http.StatusServiceUnavailable, "the audit log could not be read")
			return
		}
		body := map[string]any{"entries": es, "head": head}
		if len(es) == limit && es[len(es)-1].Seq > 1 {
			body["next_cursor"] = strconv.FormatUint(es[len(es)-1].Seq, 10)
		}
		writeJSON(w, http.StatusOK, body)
	})
}
