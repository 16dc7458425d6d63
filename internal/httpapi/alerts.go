package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/resilience-project/resilience/internal/auth"
	"github.com/resilience-project/resilience/schemas"
)

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
// 202 Accepted. kind is ack, unack, resolve, assign or comment; note is
// the ack note, the reason, the assignee or the comment.
type AlertActor interface {
	Act(ctx context.Context, alertID, kind, by, note string) (any, error)
}

// AlertFilter is what an AlertReader selects on (zero fields: any); the
// API filters the other parameters itself.
type AlertFilter struct {
	Station string
	State   AlertState
}

// AlertReader is what the alerts endpoints read (an adapter over the
// alerts service's store satisfies it).
type AlertReader interface {
	// ListAlerts returns the alerts matching f, newest start first (ties
	// by id).
	ListAlerts(f AlertFilter) []Alert
	// GetAlert returns one alert by id, false if there is none.
	GetAlert(id string) (Alert, bool)
}

// Alert is an alert as the API shows it.
type Alert struct {
	ID        string     `json:"id"`
	Station   string     `json:"station"`
	Sensor    string     `json:"sensor,omitempty"`
	Rule      string     `json:"rule"`
	Kind      string     `json:"kind"` // the rule kind (RuleKind), filled in by the API
	Level     int        `json:"level"`
	LevelName string     `json:"level_name,omitempty"`
	Severity  string     `json:"severity"`
	State     AlertState `json:"state"`
	Value     float64    `json:"value"`
	Threshold float64    `json:"threshold"`
	StartedAt time.Time  `json:"started_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	// ResolvedAt is set once resolved.
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
	District   string     `json:"district,omitempty"`
	Basin      string     `json:"basin,omitempty"`
	Message    string     `json:"message,omitempty"`
	Events     int        `json:"events"`
	Ack        *AlertAck  `json:"ack,omitempty"`
	ResolvedBy string     `json:"resolved_by,omitempty"`
	// ResolveReason is the operator's reason when one resolved it.
	ResolveReason string `json:"resolve_reason,omitempty"`
	Assignee      string `json:"assignee,omitempty"`
	// PeakLevel is the highest level the alert reached; PeakValue the
	// value then (when the store keeps it).
	PeakLevel int      `json:"peak_level"`
	PeakValue *float64 `json:"peak_value,omitempty"`
	// History is every event and operator action, oldest first (only in
	// GET /api/v1/alerts/{id}); HistoryDropped counts the oldest ones the
	// store no longer holds.
	History        []AlertTransition `json:"history,omitempty"`
	HistoryDropped int               `json:"history_dropped,omitempty"`
	// Readings are the readings that caused the events (detail only).
	Readings []schemas.ReadingRef `json:"readings,omitempty"`
	// SirenAcks are the siren devices' acknowledgements (detail only).
	SirenAcks []SirenAck `json:"siren_acks,omitempty"`
}

// AlertAck is who acknowledged an alert.
type AlertAck struct {
	By   string    `json:"by"`
	At   time.Time `json:"at"`
	Note string    `json:"note,omitempty"`
}

// AlertTransition is one entry of an alert's history: a processor event
// (fired, escalated, deescalated, resolved) or an operator action (ack,
// unack, resolve, comment, assign; By set).
type AlertTransition struct {
	At    time.Time `json:"at"`
	Kind  string    `json:"kind"`
	By    string    `json:"by,omitempty"`
	Note  string    `json:"note,omitempty"`
	Level int       `json:"level,omitempty"`
	ID    string    `json:"id"`
}

// SirenAck is a siren device's acknowledgement of a command.
type SirenAck struct {
	CommandID string    `json:"command_id"`
	AlertID   string    `json:"alert_id"`
	Station   string    `json:"station"`
	Status    string    `json:"status"`
	Detail    string    `json:"detail,omitempty"`
	At        time.Time `json:"at"`
}

// RuleKind is the kind of a rule from its name ("level:water_level" →
// "level", "offline" → "offline").
func RuleKind(rule string) string {
	k, _, _ := strings.Cut(rule, ":")
	return k
}

// Page sizes of the list endpoints.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// alertQuery is a parsed GET /api/v1/alerts.
type alertQuery struct {
	f                               AlertFilter
	district, basin, severity, kind string
	since, until                    time.Time
	limit                           int
	after                           *alertCursor
}

// alertCursor is the position after the last alert of a page, in the
// list's order (started_at descending, then id).
type alertCursor struct {
	Started int64  `json:"s"`
	ID      string `json:"i"`
}

func (c alertCursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeAlertCursor(s string) (*alertCursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	var c alertCursor
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.ID == "" {
		return nil, errors.New("cursor: not a cursor this API returned")
	}
	return &c, nil
}

// before: a comes after the cursor in the list's order.
func (c *alertCursor) before(a Alert) bool {
	s := a.StartedAt.UnixNano()
	return s < c.Started || s == c.Started && a.ID > c.ID
}

func (s *Server) parseAlertQuery(w http.ResponseWriter, r *http.Request) (alertQuery, bool) {
	q := r.URL.Query()
	aq := alertQuery{f: AlertFilter{Station: q.Get("station"), State: AlertState(q.Get("state"))},
		district: q.Get("district"), basin: q.Get("basin"), severity: q.Get("severity"), kind: q.Get("kind")}
	switch aq.f.State {
	case "", AlertFiring, AlertAcknowledged, AlertResolved:
	default:
		writeError(w, r, http.StatusBadRequest, "state: firing, acknowledged or resolved")
		return aq, false
	}
	var ok bool
	if aq.since, ok = parseTime(w, r, "since"); !ok {
		return aq, false
	}
	if aq.until, ok = parseTime(w, r, "until"); !ok {
		return aq, false
	}
	n, err := auth.ParseLimit(q, DefaultPageSize, MaxPageSize)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, err.Error())
		return aq, false
	}
	aq.limit = n
	if c := q.Get("cursor"); c != "" {
		if aq.after, err = decodeAlertCursor(c); err != nil {
			writeError(w, r, http.StatusBadRequest, err.Error())
			return aq, false
		}
	}
	return aq, true
}

// matches applies the filters the reader does not.
func (aq *alertQuery) matches(a Alert) bool {
	switch {
	case aq.district != "" && a.District != aq.district,
		aq.basin != "" && a.Basin != aq.basin,
		aq.severity != "" && a.Severity != aq.severity,
		aq.kind != "" && RuleKind(a.Rule) != aq.kind,
		!aq.until.IsZero() && a.StartedAt.After(aq.until),
		!aq.since.IsZero() && a.ResolvedAt != nil && a.ResolvedAt.Before(aq.since),
		aq.after != nil && !aq.after.before(a):
		return false
	}
	return true
}

func (s *Server) alertsHandler() http.Handler {
	if s.o.Alerts == nil {
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		aq, ok := s.parseAlertQuery(w, r)
		if !ok {
			return
		}
		page := []Alert{}
		next := ""
		for _, a := range s.o.Alerts.ListAlerts(aq.f) {
			if !aq.matches(a) {
				continue
			}
			if len(page) == aq.limit {
				last := page[len(page)-1]
				next = alertCursor{Started: last.StartedAt.UnixNano(), ID: last.ID}.encode()
				break
			}
			page = append(page, summary(a))
		}
		body := map[string]any{"alerts": page}
		if next != "" {
			body["next_cursor"] = next
		}
		writeJSON(w, http.StatusOK, body)
	})
}

// summary is a as the list shows it: without history, readings and siren
// acknowledgements.
func summary(a Alert) Alert {
	a = complete(a)
	a.History, a.Readings, a.SirenAcks = nil, nil, nil
	return a
}

// complete fills in what the API derives: the rule kind and, when the
// reader left it zero, the peak level from the history.
func complete(a Alert) Alert {
	a.Kind = RuleKind(a.Rule)
	if a.PeakLevel == 0 {
		a.PeakLevel = a.Level
		for _, h := range a.History {
			a.PeakLevel = max(a.PeakLevel, h.Level)
		}
	}
	return a
}

func (s *Server) alertHandler() http.Handler {
	if s.o.Alerts == nil {
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := s.o.Alerts.GetAlert(r.PathValue("id"))
		if !ok {
			writeError(w, r, http.StatusNotFound, "no such alert")
			return
		}
		a = complete(a)
		if a.History == nil {
			a.History = []AlertTransition{}
		}
		writeJSON(w, http.StatusOK, a)
	})
}

// actionRoute is the handler of POST /api/v1/alerts/{id}/<kind> with a
// JSON body {<field>: …} (field required when required is set): 202 with
// the action once it is durable, 400 for a bad body, 404 for an unknown
// alert, 413 for a body over MaxBody, 503 when it could not be recorded.
// The acting user is the token's name.
func actionRoute(kind, field string, required bool) func(*Server) http.Handler {
	return func(s *Server) http.Handler {
		if s.o.Alerts == nil || s.o.Actions == nil {
			return nil
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := r.PathValue("id")
			auditTarget(r, id)
			note, ok := readField(w, r, field, required)
			if !ok {
				return
			}
			auditDetail(r, field, note)
			a, err := s.o.Actions.Act(r.Context(), id, kind, principal(r).Name, note)
			switch {
			case errors.Is(err, ErrNoSuchAlert):
				writeError(w, r, http.StatusNotFound, "no such alert")
			case errors.Is(err, ErrBadAction):
				writeError(w, r, http.StatusBadRequest, err.Error())
			case err != nil:
				s.o.Logger.Error("alert action not recorded", "alert", id, "kind", kind, "request_id", requestID(r), "err", err)
				writeError(w, r, http.StatusServiceUnavailable, "the action could not be recorded; retry")
			default:
				writeJSON(w, http.StatusAccepted, a)
			}
		})
	}
}

// readField decodes a body {field: "…"} (an empty body is {}); anything
// else is a 400 (413 over the size limit).
func readField(w http.ResponseWriter, r *http.Request, field string, required bool) (string, bool) {
	body := map[string]string{}
	if err := decodeBody(r, &body); err != nil {
		if auth.IsTooLarge(err) {
			writeError(w, r, http.StatusRequestEntityTooLarge, "request body over the limit")
			return "", false
		}
		writeError(w, r, http.StatusBadRequest, "body: a JSON object {\""+field+"\": \"…\"} expected")
		return "", false
	}
	for k := range body {
		if k != field {
			writeError(w, r, http.StatusBadRequest, "body: unknown key "+strconv.Quote(k)+" (the acting user is the token's)")
			return "", false
		}
	}
	if required && body[field] == "" {
		writeError(w, r, http.StatusBadRequest, field+": required")
		return "", false
	}
	return body[field], true
}

// decodeBody decodes a JSON body into v; an empty body leaves v as is.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err == nil && dec.More() {
		return errors.New("data after the JSON value")
	}
	return err
}
