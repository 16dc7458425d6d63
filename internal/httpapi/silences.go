package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/resilience-project/resilience/internal/auth"
)

// Sentinel errors a SilenceStore returns (wrapped) to choose the answer.
var (
	// ErrNoSuchSilence answers 404.
	ErrNoSuchSilence = errors.New("no such silence")
	// ErrBadSilence answers 400 (the message names the field).
	ErrBadSilence = errors.New("bad silence")
)

// SilenceStore creates, lists and expires silences (an adapter over the
// alerts service satisfies it). Create and Expire return once the change
// is durable and visible in Silences.
type SilenceStore interface {
	// CreateSilence records s (s.ID empty: a new id) and returns its id.
	CreateSilence(ctx context.Context, s Silence) (string, error)
	// ExpireSilence ends silence id now, recorded as done by by.
	ExpireSilence(ctx context.Context, id, by string) error
	// Silences returns every silence known, by id.
	Silences() []Silence
}

// Silence mutes the alerts its matchers select (every named label equals
// one of its values; labels: district, basin, station, sensor, rule,
// severity) from StartsAt (included) to EndsAt (excluded).
type Silence struct {
	ID       string              `json:"id"`
	Matchers map[string][]string `json:"matchers"`
	Author   string              `json:"author"`
	Comment  string              `json:"comment"`
	StartsAt time.Time           `json:"starts_at"`
	EndsAt   time.Time           `json:"ends_at"`
	// State is filled in by the API: pending, active or expired.
	State string `json:"state"`
}

// The silence states.
const (
	SilencePending = "pending"
	SilenceActive  = "active"
	SilenceExpired = "expired"
)

// MaxSilence bounds how long a silence may last.
const MaxSilence = 30 * 24 * time.Hour

func (s Silence) withState(now time.Time) Silence {
	switch {
	case now.Before(s.StartsAt):
		s.State = SilencePending
	case now.Before(s.EndsAt):
		s.State = SilenceActive
	default:
		s.State = SilenceExpired
	}
	return s
}

// silenceBody is the body of POST /api/v1/silences.
type silenceBody struct {
	Matchers map[string][]string `json:"matchers"`
	Comment  string              `json:"comment"`
	StartsAt *time.Time          `json:"starts_at"`
	EndsAt   time.Time           `json:"ends_at"`
}

func (s *Server) silencesHandler() http.Handler {
	if s.o.Silences == nil {
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"silences": s.silences()})
	})
}

// silences lists the store's silences with their state.
func (s *Server) silences() []Silence {
	now := s.o.Now()
	list := s.o.Silences.Silences()
	out := make([]Silence, len(list))
	for i, x := range list {
		out[i] = x.withState(now)
	}
	return out
}

// silence finds id in the store's list.
func (s *Server) silence(id string) (Silence, bool) {
	for _, x := range s.silences() {
		if x.ID == id {
			return x, true
		}
	}
	return Silence{}, false
}

func (s *Server) createSilenceHandler() http.Handler {
	if s.o.Silences == nil {
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b silenceBody
		if err := decodeBody(r, &b); err != nil {
			if auth.IsTooLarge(err) {
				writeError(w, r, http.StatusRequestEntityTooLarge, "request body over the limit")
				return
			}
			writeError(w, r, http.StatusBadRequest, "body: {\"matchers\": {label: [values]}, \"comment\", \"starts_at\"?, \"ends_at\"} expected: "+err.Error())
			return
		}
		now := s.o.Now()
		sil := Silence{Matchers: b.Matchers, Author: principal(r).Name, Comment: b.Comment, StartsAt: now, EndsAt: b.EndsAt}
		if b.StartsAt != nil {
			sil.StartsAt = *b.StartsAt
		}
		if sil.EndsAt.Sub(sil.StartsAt) > MaxSilence {
			writeError(w, r, http.StatusBadRequest, "ends_at: a silence lasts at most 30 days")
			return
		}
		if !sil.EndsAt.After(now) {
			writeError(w, r, http.StatusBadRequest, "ends_at: must be in the future")
			return
		}
		m, _ := json.Marshal(b.Matchers) // a map of string lists: cannot fail
		auditDetail(r, "matchers", string(m))
		auditDetail(r, "comment", b.Comment)
		auditDetail(r, "starts_at", sil.StartsAt.UTC().Format(time.RFC3339))
		auditDetail(r, "ends_at", b.EndsAt.UTC().Format(time.RFC3339))
		id, err := s.o.Silences.CreateSilence(r.Context(), sil)
		if !s.silenceErr(w, r, "create", err) {
			return
		}
		auditTarget(r, id)
		out, ok := s.silence(id)
		if !ok {
			sil.ID = id
			out = sil.withState(now)
		}
		w.Header().Set("Location", "/api/v1/silences/"+id)
		writeJSON(w, http.StatusCreated, out)
	})
}

func (s *Server) expireSilenceHandler() http.Handler {
	if s.o.Silences == nil {
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		auditTarget(r, id)
		if !s.silenceErr(w, r, "expire", s.o.Silences.ExpireSilence(r.Context(), id, principal(r).Name)) {
			return
		}
		out, ok := s.silence(id)
		if !ok {
			writeError(w, r, http.StatusNotFound, "no such silence")
			return
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// silenceErr answers a store error (false) or does nothing (true).
func (s *Server) silenceErr(w http.ResponseWriter, r *http.Request, op string, err error) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, ErrBadSilence):
		writeError(w, r, http.StatusBadRequest, err.Error())
	case errors.Is(err, ErrNoSuchSilence):
		writeError(w, r, http.StatusNotFound, "no such silence")
	default:
		s.o.Logger.Error("silence not recorded", "op", op, "request_id", requestID(r), "err", err)
		writeError(w, r, http.StatusServiceUnavailable, "the silence could not be recorded; retry")
	}
	return false
}
