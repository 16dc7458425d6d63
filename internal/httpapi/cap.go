package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/resilience-project/resilience/internal/auth"
	"github.com/resilience-project/resilience/schemas"
)

// Sentinel errors a CAPPublisher returns (wrapped) to choose the answer.
var (
	// ErrNoCAPDraft answers 404: the alert has no pending draft.
	ErrNoCAPDraft = errors.New("no pending public warning draft for this alert")
	// ErrCAPIssued answers 409: the document was already issued (another
	// replica approved the same draft first).
	ErrCAPIssued = errors.New("public warning already issued")
	// ErrBadCAPRequest answers 400 (e.g. a discard without a reason).
	ErrBadCAPRequest = errors.New("bad public warning request")
)

// CAPText is the editable wording of one language of a public warning.
type CAPText struct {
	Headline    string `json:"headline"`
	Description string `json:"description"`
	Instruction string `json:"instruction"`
}

// CAPTexts is the wording in Vietnamese (vi-VN) and English (en-US).
type CAPTexts struct {
	VI CAPText `json:"vi"`
	EN CAPText `json:"en"`
}

// CAPDraft is a public warning waiting for a publisher.
type CAPDraft struct {
	AlertID string `json:"alert_id"`
	// MsgType is Alert or Update (CAP msgType).
	MsgType string `json:"msg_type"`
	// AllClear: an Update with responseType AllClear (the alert resolved).
	AllClear bool `json:"all_clear"`
	// Event is the alert event the document would report.
	Event schemas.AlertEvent `json:"event"`
	Texts CAPTexts           `json:"texts"`
	// References are the identifiers of the alert's earlier documents.
	References []string  `json:"references"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// CAPDocument is an issued CAP 1.2 document (its XML is public at URL).
type CAPDocument struct {
	Identifier string    `json:"identifier"`
	AlertID    string    `json:"alert_id"`
	Seq        int       `json:"seq"`
	MsgType    string    `json:"msg_type"`
	AllClear   bool      `json:"all_clear"`
	Sent       time.Time `json:"sent"`
	ApprovedBy string    `json:"approved_by"`
	Headline   string    `json:"headline"`
	URL        string    `json:"url"`
}

// CAPPublisher is what the publisher endpoints read and act through (an
// adapter over the alerts service's publisher satisfies it).
type CAPPublisher interface {
	// Drafts returns the pending drafts, oldest first (never nil).
	Drafts() []CAPDraft
	// Draft returns one pending draft and the CAP XML approving it
	// unedited would issue now; ErrNoCAPDraft if there is none.
	Draft(alertID string) (CAPDraft, []byte, error)
	// Approve issues the draft with the edits (empty fields keep the
	// draft's text), durably, approved by `by`. Errors: ErrNoCAPDraft,
	// ErrCAPIssued, ErrBadCAPRequest, others (503).
	Approve(ctx context.Context, alertID, by string, edits CAPTexts) (CAPDocument, error)
	// Discard drops the draft durably with a reason. Errors:
	// ErrNoCAPDraft, ErrBadCAPRequest, others (503).
	Discard(ctx context.Context, alertID, by, reason string) error
}

// CAP serves the publisher endpoints (GET /api/v1/cap/drafts,
// GET /api/v1/cap/drafts/{id}, POST …/approve, POST …/discard: the publish
// permission; the writes audited by the route table as cap.approve and
// cap.discard) and mounts the public feed (GET /cap/feed.atom,
// GET /cap/{file}: no token, a public warning is public). A nil *CAP
// serves nothing (each builder returns nil: the route is not mounted).
type CAP struct {
	p      CAPPublisher
	feed   http.Handler
	logger *slog.Logger
}

// NewCAP serves p's drafts and the public feed handler (nil: no feed);
// logger (nil: slog.Default()) logs what answers 503.
func NewCAP(p CAPPublisher, feed http.Handler, logger *slog.Logger) *CAP {
	if logger == nil {
		logger = slog.Default()
	}
	return &CAP{p: p, feed: feed, logger: logger}
}

// DraftsHandler answers {"drafts": [CAPDraft…]}.
func (c *CAP) DraftsHandler() http.Handler {
	if c == nil || c.p == nil {
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		ds := c.p.Drafts()
		if ds == nil {
			ds = []CAPDraft{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"drafts": ds})
	})
}

// DraftHandler answers {"draft": CAPDraft, "preview": "<CAP XML>"} (404).
func (c *CAP) DraftHandler() http.Handler {
	if c == nil || c.p == nil {
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, preview, err := c.p.Draft(r.PathValue("id"))
		if err != nil {
			c.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"draft": d, "preview": string(preview)})
	})
}

// ApproveHandler issues a draft: body optional {"texts": CAPTexts};
// 201 {"document": CAPDocument}.
func (c *CAP) ApproveHandler() http.Handler {
	if c == nil || c.p == nil {
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		auditTarget(r, id)
		var body struct {
			Texts CAPTexts `json:"texts"`
		}
		if !c.decode(w, r, &body, `{"texts": {"vi": {"headline", "description", "instruction"}, "en": {…}}}`) {
			return
		}
		doc, err := c.p.Approve(r.Context(), id, principal(r).Name, body.Texts)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		auditDetail(r, "identifier", doc.Identifier)
		auditDetail(r, "msg_type", doc.MsgType)
		if doc.URL != "" {
			w.Header().Set("Location", doc.URL)
		}
		writeJSON(w, http.StatusCreated, map[string]any{"document": doc})
	})
}

// DiscardHandler drops a draft: body {"reason": "…"}; 200
// {"discarded": alert id}.
func (c *CAP) DiscardHandler() http.Handler {
	if c == nil || c.p == nil {
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		auditTarget(r, id)
		var body struct {
			Reason string `json:"reason"`
		}
		if !c.decode(w, r, &body, `{"reason": "…"}`) {
			return
		}
		if body.Reason == "" {
			writeError(w, r, http.StatusBadRequest, "reason: required")
			return
		}
		auditDetail(r, "reason", body.Reason)
		if err := c.p.Discard(r.Context(), id, principal(r).Name, body.Reason); err != nil {
			c.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"discarded": id})
	})
}

// FeedHandler is the public feed and documents (nil without one).
func (c *CAP) FeedHandler() http.Handler {
	if c == nil || c.feed == nil {
		return nil
	}
	return c.feed
}

// decode reads the JSON body into v (empty: v unchanged); 400 or 413 and
// false otherwise.
func (c *CAP) decode(w http.ResponseWriter, r *http.Request, v any, shape string) bool {
	if err := decodeBody(r, v); err != nil {
		if auth.IsTooLarge(err) {
			writeError(w, r, http.StatusRequestEntityTooLarge, "request body over the limit")
			return false
		}
		writeError(w, r, http.StatusBadRequest, "body: "+shape+" expected (the acting user is the token's): "+err.Error())
		return false
	}
	return true
}

func (c *CAP) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrNoCAPDraft):
		writeError(w, r, http.StatusNotFound, "no pending draft for this alert")
	case errors.Is(err, ErrCAPIssued):
		writeError(w, r, http.StatusConflict, err.Error())
	case errors.Is(err, ErrBadCAPRequest):
		writeError(w, r, http.StatusBadRequest, err.Error())
	default:
		c.logger.Error("public warning request failed", "method", r.Method, "path", r.URL.Path, "request_id", requestID(r), "err", err)
		writeError(w, r, http.StatusServiceUnavailable, "the public warning could not be recorded; retry")
	}
}
