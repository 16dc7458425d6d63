package publish

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/resilience-project/resilience/alerts/cap"
	"github.com/resilience-project/resilience/schemas"
)

// Sentinel errors.
var (
	// ErrNoDraft is returned by Approve and Discard when the alert has no
	// pending draft.
	ErrNoDraft = errors.New("publish: no draft for this alert")
	// ErrNoApprover is returned by Approve and Discard without a user.
	ErrNoApprover = errors.New("publish: approver required")
	// ErrUnknownStation is returned by Approve when the registry does not
	// know the alert's station.
	ErrUnknownStation = errors.New("publish: unknown station")
)

// Config configures a Publisher.
type Config struct {
	// MinSeverity is the lowest alert severity that becomes a draft
	// (default Severe).
	MinSeverity schemas.Severity
}

// Options are the Publisher's collaborators.
type Options struct {
	Builder  *cap.Builder
	Log      Log
	Stations *schemas.Registry
	// Now is the clock of sent (default time.Now).
	Now func() time.Time
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// Registerer receives the metrics (nil: none).
	Registerer prometheus.Registerer
}

// Draft is a pending warning waiting for a publisher.
type Draft struct {
	AlertID string      `json:"alert_id"`
	MsgType cap.MsgType `json:"msg_type"`
	// Event is the latest event of the alert; the document reports it.
	Event schemas.AlertEvent `json:"event"`
	// Texts is the generated wording the publisher may edit.
	Texts     cap.Texts `json:"texts"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

type alertState struct {
	issued []Record
	draft  *Draft
	seen   map[string]struct{}
}

// Publisher runs the draft → approved → issued workflow. It is safe for
// concurrent use.
type Publisher struct {
	c  Config
	o  Options
	mu sync.Mutex
	// alerts by alert id; docs by identifier (issued, in order).
	alerts map[string]*alertState
	docs   map[string]Record
	order  []string

	drafts prometheus.Gauge
	issues *prometheus.CounterVec
}

func severityRank(s schemas.Severity) int {
	switch s {
	case schemas.SeverityMinor:
		return 1
	case schemas.SeverityModerate:
		return 2
	case schemas.SeveritySevere:
		return 3
	case schemas.SeverityExtreme:
		return 4
	}
	return 0
}

// New replays the log and returns the publisher.
func New(ctx context.Context, c Config, o Options) (*Publisher, error) {
	if c.MinSeverity == "" {
		c.MinSeverity = schemas.SeveritySevere
	}
	if severityRank(c.MinSeverity) == 0 {
		return nil, fmt.Errorf("publish: min_severity %q: want Minor, Moderate, Severe or Extreme", c.MinSeverity)
	}
	if o.Builder == nil || o.Log == nil || o.Stations == nil {
		return nil, errors.New("publish: Builder, Log and Stations are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	p := &Publisher{
		c: c, o: o, alerts: map[string]*alertState{}, docs: map[string]Record{},
		drafts: prometheus.NewGauge(prometheus.GaugeOpts{Name: "resilience_cap_drafts", Help: "Public warning drafts waiting for approval."}),
		issues: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resilience_cap_issued_total", Help: "CAP documents issued, by msgType."}, []string{"msg_type"}),
	}
	if o.Registerer != nil {
		for _, m := range []prometheus.Collector{p.drafts, p.issues} {
			if err := o.Registerer.Register(m); err != nil {
				return nil, fmt.Errorf("publish: metrics: %w", err)
			}
		}
	}
	recs, err := o.Log.Records(ctx)
	if err != nil {
		return nil, fmt.Errorf("publish: replay: %w", err)
	}
	for _, r := range recs {
		p.add(r)
	}
	return p, nil
}

func (p *Publisher) state(id string) *alertState {
	st := p.alerts[id]
	if st == nil {
		st = &alertState{seen: map[string]struct{}{}}
		p.alerts[id] = st
	}
	return st
}

// add makes an issued record visible (caller holds mu or is New).
func (p *Publisher) add(r Record) {
	if _, dup := p.docs[r.Identifier]; dup {
		return
	}
	st := p.state(r.AlertID)
	st.issued = append(st.issued, r)
	st.seen[r.EventID] = struct{}{}
	p.docs[r.Identifier] = r
	p.order = append(p.order, r.Identifier)
}

// Observe folds one alert event and reports whether it created, refreshed
// or dropped a draft.
func (p *Publisher) Observe(ev schemas.AlertEvent) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	defer p.drafts.Set(float64(p.countDrafts()))
	st := p.state(ev.ID)
	if _, dup := st.seen[ev.EventID]; dup {
		return false
	}
	st.seen[ev.EventID] = struct{}{}
	var kind cap.MsgType
	switch ev.Kind {
	case schemas.AlertFired, schemas.AlertEscalated:
		if severityRank(ev.Severity) < severityRank(p.c.MinSeverity) {
			return false
		}
		switch {
		case len(st.issued) == 0:
			kind = cap.MsgAlert
		case st.issued[len(st.issued)-1].MsgType == cap.MsgCancel:
			return false // the all-clear was issued: the alert is over
		case ev.Level > st.issued[len(st.issued)-1].Level:
			kind = cap.MsgUpdate
		default:
			return false
		}
	case schemas.AlertResolved:
		if len(st.issued) == 0 {
			dropped := st.draft != nil
			st.draft = nil
			return dropped
		}
		if st.issued[len(st.issued)-1].MsgType == cap.MsgCancel {
			return false
		}
		kind = cap.MsgCancel
	default:
		return false
	}
	now := p.o.Now()
	if st.draft != nil && st.draft.MsgType == kind && ev.At.Before(st.draft.Event.At) {
		return false // an older event than the draft's
	}
	d := &Draft{AlertID: ev.ID, MsgType: kind, Event: ev, CreatedAt: now, UpdatedAt: now}
	if st.draft != nil {
		d.CreatedAt = st.draft.CreatedAt
	}
	if s := p.o.Stations.Lookup(ev.Station); s != nil {
		d.Texts = p.o.Builder.DefaultTexts(kind, ev, s)
	}
	st.draft = d
	p.o.Logger.Info("cap draft", "alert", ev.ID, "station", ev.Station, "msg_type", kind, "level", ev.Level, "severity", ev.Severity)
	return true
}

func (p *Publisher) countDrafts() int {
	n := 0
	for _, st := range p.alerts {
		if st.draft != nil {
			n++
		}
	}
	return n
}

// Drafts returns the pending drafts, oldest first.
func (p *Publisher) Drafts() []Draft {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Draft
	for _, st := range p.alerts {
		if st.draft != nil {
			out = append(out, *st.draft)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].AlertID < out[j].AlertID
	})
	return out
}

// Approve issues the pending draft of alertID with the publisher's edits
// (empty fields keep the draft's text). The document is in the Log before
// Approve returns it.
func (p *Publisher) Approve(ctx context.Context, alertID, by string, edits cap.Texts) (Record, error) {
	if by == "" {
		return Record{}, fmt.Errorf("publish: approve alert %s: %w", alertID, ErrNoApprover)
	}
	// Holding mu across the append serialises approvals, so sequence
	// numbers and references never race.
	p.mu.Lock()
	defer p.mu.Unlock()
	defer p.drafts.Set(float64(p.countDrafts()))
	st := p.alerts[alertID]
	if st == nil || st.draft == nil {
		return Record{}, fmt.Errorf("publish: approve alert %s: %w", alertID, ErrNoDraft)
	}
	d := st.draft
	station := p.o.Stations.Lookup(d.Event.Station)
	if station == nil {
		return Record{}, fmt.Errorf("publish: approve alert %s station %s: %w", alertID, d.Event.Station, ErrUnknownStation)
	}
	refs := make([]cap.Ref, 0, len(st.issued))
	for _, r := range st.issued {
		refs = append(refs, cap.Ref{Sender: p.o.Builder.Sender(), Identifier: r.Identifier, Sent: cap.Time{Time: r.Sent}})
	}
	texts := cap.Texts{VI: overlay(d.Texts.VI, edits.VI), EN: overlay(d.Texts.EN, edits.EN)}
	seq := len(st.issued) + 1
	a, err := p.o.Builder.Build(cap.Issue{
		MsgType: d.MsgType, Seq: seq, Event: d.Event, Station: station,
		Sent: p.o.Now(), References: refs, Texts: texts,
	})
	if err != nil {
		return Record{}, fmt.Errorf("publish: approve alert %s: %w", alertID, err)
	}
	doc, err := cap.Marshal(a)
	if err != nil {
		return Record{}, fmt.Errorf("publish: approve alert %s: %w", alertID, err)
	}
	r := Record{
		Identifier: a.Identifier, AlertID: alertID, Seq: seq, MsgType: d.MsgType,
		EventID: d.Event.EventID, Level: d.Event.Level, Sent: a.Sent.Time, ApprovedBy: by,
		Headline: a.Info[len(a.Info)-1].Headline, Doc: doc,
	}
	if err := p.o.Log.Append(ctx, r); err != nil {
		return Record{}, fmt.Errorf("publish: approve alert %s attempt %d: %w", alertID, seq, err)
	}
	st.draft = nil
	p.add(r)
	p.issues.WithLabelValues(string(d.MsgType)).Inc()
	p.o.Logger.Info("cap issued", "alert", alertID, "identifier", r.Identifier, "msg_type", r.MsgType, "by", by)
	return r, nil
}

func overlay(base, edit cap.Text) cap.Text {
	if edit.Headline != "" {
		base.Headline = edit.Headline
	}
	if edit.Description != "" {
		base.Description = edit.Description
	}
	if edit.Instruction != "" {
		base.Instruction = edit.Instruction
	}
	return base
}

// Discard drops the pending draft of alertID (a publisher decided not to
// publish it). A later escalation or resolution may draft again.
func (p *Publisher) Discard(alertID, by string) error {
	if by == "" {
		return fmt.Errorf("publish: discard alert %s: %w", alertID, ErrNoApprover)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	defer p.drafts.Set(float64(p.countDrafts()))
	st := p.alerts[alertID]
	if st == nil || st.draft == nil {
		return fmt.Errorf("publish: discard alert %s: %w", alertID, ErrNoDraft)
	}
	st.draft = nil
	p.o.Logger.Info("cap draft discarded", "alert", alertID, "by", by)
	return nil
}

// Document returns the issued document with identifier id.
func (p *Publisher) Document(id string) (Record, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.docs[id]
	return r, ok
}

// Issued returns at most n issued documents, newest first (n <= 0: all).
func (p *Publisher) Issued(n int) []Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n <= 0 || n > len(p.order) {
		n = len(p.order)
	}
	out := make([]Record, 0, n)
	for i := len(p.order) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, p.docs[p.order[i]])
	}
	return out
}
