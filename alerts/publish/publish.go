package publish

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
	// ErrUnknownStation is returned by Approve and Preview when the
	// registry no longer knows the alert's station (or basin).
	ErrUnknownStation = errors.New("publish: unknown station")
	// ErrNoReason is returned by Discard without a reason.
	ErrNoReason = errors.New("publish: discard reason required")
	// ErrAlreadyIssued is returned (wrapped) by a Log's Append and so by
	// Approve when another record with the same identifier is earlier in
	// the log (another replica approved the same draft first): the earlier
	// one is the issued document.
	ErrAlreadyIssued = errors.New("publish: document already issued")
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
	// AllClear marks the all-clear: an Update with responseType AllClear
	// about the resolved alert.
	AllClear bool `json:"all_clear"`
	// Event is the latest event of the alert; the document reports it.
	Event schemas.AlertEvent `json:"event"`
	// Texts is the generated wording the publisher may edit.
	Texts cap.Texts `json:"texts"`
	// References are the identifiers of the alert's earlier documents
	// (filled in by Drafts and Draft).
	References []string  `json:"references"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

type alertState struct {
	issued []Record
	draft  *Draft
	seen   map[string]struct{}
	// discarded is, per draft kind (draftKey), the newest event time a
	// publisher discarded: events up to it draft nothing again.
	discarded map[string]time.Time
}

// last is the newest issued record (nil: none).
func (st *alertState) last() *Record {
	if len(st.issued) == 0 {
		return nil
	}
	return &st.issued[len(st.issued)-1]
}

// draftKey names a kind of draft: Alert, Update or the all-clear.
func draftKey(t cap.MsgType, allClear bool) string {
	if allClear {
		return "AllClear"
	}
	return string(t)
}

// Publisher runs the draft → approved → issued workflow. It is safe for
// concurrent use.
type Publisher struct {
	c Config
	o Options
	// approving serialises Approve and Discard (sequence numbers and
	// references never race); mu guards the state and is never held
	// across the log's I/O, so records from the log (Run) fold meanwhile.
	approving sync.Mutex
	mu        sync.Mutex
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
		st = &alertState{seen: map[string]struct{}{}, discarded: map[string]time.Time{}}
		p.alerts[id] = st
	}
	return st
}

// add folds one record of the log (caller holds mu or is New): an issued
// document becomes visible (the first record of an identifier wins), a
// discard records its watermark; either way the alert's pending draft is
// reconciled with it.
func (p *Publisher) add(r Record) {
	st := p.state(r.AlertID)
	if r.Kind == KindDiscard {
		key := draftKey(r.MsgType, r.AllClear)
		if w, ok := st.discarded[key]; !ok || r.EventAt.After(w) {
			st.discarded[key] = r.EventAt
		}
		if d := st.draft; d != nil && draftKey(d.MsgType, d.AllClear) == key && !d.Event.At.After(r.EventAt) {
			st.draft = nil
		}
		return
	}
	if _, dup := p.docs[r.Identifier]; dup {
		return
	}
	st.issued = append(st.issued, r)
	st.seen[r.EventID] = struct{}{}
	p.docs[r.Identifier] = r
	p.order = append(p.order, r.Identifier)
	p.reconcile(st)
}

// over reports whether r ended the alert publicly (the all-clear, or a
// Cancel of an older log).
func (r *Record) over() bool { return r.AllClear || r.MsgType == cap.MsgCancel }

// place is where ev warns: its station, or for a basin's alert (whose
// station is the basin) nil and the registry's stations of the basin; ok
// is false when there is neither.
func (p *Publisher) place(ev schemas.AlertEvent) (station *schemas.Station, basin []*schemas.Station, ok bool) {
	if s := p.o.Stations.Lookup(ev.Station); s != nil {
		return s, nil, true
	}
	if ev.Basin == "" {
		return nil, nil, false
	}
	for _, id := range p.o.Stations.IDs() {
		if s := p.o.Stations.Lookup(id); s != nil && s.Basin == ev.Basin {
			basin = append(basin, s)
		}
	}
	return nil, basin, len(basin) > 0
}

// reconcile fits the alert's pending draft to its newest issued document
// (issued here or, through the log, by another replica): a draft of the
// event just issued, or of a level no higher, is done; a higher level
// becomes an Update; an all-clear stays until it is issued.
func (p *Publisher) reconcile(st *alertState) {
	d, last := st.draft, st.last()
	switch {
	case d == nil || last == nil:
		return
	case last.over() || d.Event.EventID == last.EventID:
		st.draft = nil
	case d.AllClear:
	case d.Event.Level > last.Level:
		if d.MsgType != cap.MsgUpdate {
			d.MsgType = cap.MsgUpdate
			station, _, _ := p.place(d.Event)
			d.Texts = p.o.Builder.DefaultTexts(d.MsgType, d.Event, station)
		}
	default:
		st.draft = nil
	}
}

// Observe folds one alert event and reports whether it created, refreshed
// or dropped a draft. It does no I/O.
func (p *Publisher) Observe(ev schemas.AlertEvent) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	defer p.drafts.Set(float64(p.countDrafts()))
	st := p.state(ev.ID)
	if _, dup := st.seen[ev.EventID]; dup {
		return false
	}
	st.seen[ev.EventID] = struct{}{}
	last := st.last()
	var kind cap.MsgType
	allClear := false
	switch ev.Kind {
	case schemas.AlertFired, schemas.AlertEscalated:
		if severityRank(ev.Severity) < severityRank(p.c.MinSeverity) {
			return false
		}
		switch {
		case last == nil:
			kind = cap.MsgAlert
		case last.over():
			return false // the all-clear was issued: the alert is over
		case ev.Level > last.Level:
			kind = cap.MsgUpdate
		default:
			return false
		}
	case schemas.AlertResolved:
		if last == nil {
			dropped := st.draft != nil
			st.draft = nil
			return dropped
		}
		if last.over() {
			return false
		}
		kind, allClear = cap.MsgUpdate, true
	default:
		return false
	}
	key := draftKey(kind, allClear)
	if w, ok := st.discarded[key]; ok && !ev.At.After(w) {
		return false // a publisher discarded this draft
	}
	if d := st.draft; d != nil && draftKey(d.MsgType, d.AllClear) == key && ev.At.Before(d.Event.At) {
		return false // an older event than the draft's
	}
	station, _, ok := p.place(ev)
	if !ok {
		// A station removed from the registry, or a basin without
		// stations: there is no area to warn.
		p.o.Logger.Warn("cap: alert of a station or basin the registry does not know: no public warning drafted",
			"alert", ev.ID, "station", ev.Station, "basin", ev.Basin, "kind", ev.Kind)
		return false
	}
	now := p.o.Now()
	d := &Draft{AlertID: ev.ID, MsgType: kind, AllClear: allClear, Event: ev, CreatedAt: now, UpdatedAt: now}
	if st.draft != nil {
		d.CreatedAt = st.draft.CreatedAt
	}
	d.Texts = p.o.Builder.DefaultTexts(kind, ev, station)
	st.draft = d
	p.o.Logger.Info("cap draft", "alert", ev.ID, "station", ev.Station, "msg_type", kind, "all_clear", allClear, "level", ev.Level, "severity", ev.Severity)
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
			out = append(out, st.view())
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

// view is a copy of the pending draft with its references (caller holds
// mu; st.draft is not nil).
func (st *alertState) view() Draft {
	d := *st.draft
	d.References = make([]string, 0, len(st.issued))
	for _, r := range st.issued {
		d.References = append(d.References, r.Identifier)
	}
	return d
}

// Draft returns the pending draft of alertID.
func (p *Publisher) Draft(alertID string) (Draft, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.alerts[alertID]
	if st == nil || st.draft == nil {
		return Draft{}, false
	}
	return st.view(), true
}

// Preview is the document approving the draft of alertID with edits would
// issue now (not issued, not logged). Errors: ErrNoDraft,
// ErrUnknownStation, the builder's.
func (p *Publisher) Preview(alertID string, edits cap.Texts) ([]byte, error) {
	p.mu.Lock()
	r, err := p.prepare(alertID, "", edits)
	p.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("publish: preview alert %s: %w", alertID, err)
	}
	return r.Doc, nil
}

// prepare builds the record that issues the pending draft of alertID
// (caller holds mu).
func (p *Publisher) prepare(alertID, by string, edits cap.Texts) (Record, error) {
	st := p.alerts[alertID]
	if st == nil || st.draft == nil {
		return Record{}, ErrNoDraft
	}
	d := st.draft
	station, basin, ok := p.place(d.Event)
	if !ok {
		return Record{}, fmt.Errorf("station %s basin %q: %w", d.Event.Station, d.Event.Basin, ErrUnknownStation)
	}
	refs := make([]cap.Ref, 0, len(st.issued))
	for _, r := range st.issued {
		refs = append(refs, cap.Ref{Sender: p.o.Builder.Sender(), Identifier: r.Identifier, Sent: cap.Time{Time: r.Sent}})
	}
	texts := cap.Texts{VI: overlay(d.Texts.VI, edits.VI), EN: overlay(d.Texts.EN, edits.EN)}
	seq := len(st.issued) + 1
	a, err := p.o.Builder.Build(cap.Issue{
		MsgType: d.MsgType, Seq: seq, Event: d.Event, Station: station, Area: basin,
		Sent: p.o.Now(), References: refs, Texts: texts,
	})
	if err != nil {
		return Record{}, err
	}
	doc, err := cap.Marshal(a)
	if err != nil {
		return Record{}, err
	}
	return Record{
		Identifier: a.Identifier, AlertID: alertID, Seq: seq, MsgType: d.MsgType, AllClear: d.AllClear,
		EventID: d.Event.EventID, EventAt: d.Event.At, Level: d.Event.Level, Sent: a.Sent.Time, ApprovedBy: by,
		Headline: a.Info[len(a.Info)-1].Headline, Doc: doc,
	}, nil
}

// Approve issues the pending draft of alertID with the publisher's edits
// (empty fields keep the draft's text). The document is in the Log before
// Approve returns it. Errors: ErrNoApprover, ErrNoDraft,
// ErrUnknownStation, ErrAlreadyIssued (another replica issued the same
// document first), the log's.
func (p *Publisher) Approve(ctx context.Context, alertID, by string, edits cap.Texts) (Record, error) {
	if by == "" {
		return Record{}, fmt.Errorf("publish: approve alert %s: %w", alertID, ErrNoApprover)
	}
	p.approving.Lock()
	defer p.approving.Unlock()
	p.mu.Lock()
	r, err := p.prepare(alertID, by, edits)
	p.mu.Unlock()
	if err != nil {
		return Record{}, fmt.Errorf("publish: approve alert %s: %w", alertID, err)
	}
	r.Proposal = proposalID()
	if err := p.o.Log.Append(ctx, r); err != nil {
		return Record{}, fmt.Errorf("publish: approve alert %s document %s: %w", alertID, r.Identifier, err)
	}
	p.mu.Lock()
	p.add(r) // a no-op when the log already folded it (Run)
	p.drafts.Set(float64(p.countDrafts()))
	p.mu.Unlock()
	p.issues.WithLabelValues(string(r.MsgType)).Inc()
	p.o.Logger.Info("cap issued", "alert", alertID, "identifier", r.Identifier, "msg_type", r.MsgType, "all_clear", r.AllClear, "by", by)
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
// publish it) and records that in the Log, so that neither a restart nor
// another replica drafts it again from the same events; a later event
// (an escalation, the resolve) may draft again. Errors: ErrNoApprover,
// ErrNoReason, ErrNoDraft, the log's.
func (p *Publisher) Discard(ctx context.Context, alertID, by, reason string) error {
	if by == "" {
		return fmt.Errorf("publish: discard alert %s: %w", alertID, ErrNoApprover)
	}
	if reason == "" {
		return fmt.Errorf("publish: discard alert %s: %w", alertID, ErrNoReason)
	}
	p.approving.Lock()
	defer p.approving.Unlock()
	p.mu.Lock()
	st := p.alerts[alertID]
	if st == nil || st.draft == nil {
		p.mu.Unlock()
		return fmt.Errorf("publish: discard alert %s: %w", alertID, ErrNoDraft)
	}
	d := st.draft
	r := Record{Kind: KindDiscard, AlertID: alertID, MsgType: d.MsgType, AllClear: d.AllClear, EventID: d.Event.EventID,
		EventAt: d.Event.At, Level: d.Event.Level, Sent: p.o.Now(), ApprovedBy: by, Reason: reason, Proposal: proposalID()}
	p.mu.Unlock()
	if err := p.o.Log.Append(ctx, r); err != nil {
		return fmt.Errorf("publish: discard alert %s: %w", alertID, err)
	}
	p.mu.Lock()
	p.add(r)
	p.drafts.Set(float64(p.countDrafts()))
	p.mu.Unlock()
	p.o.Logger.Info("cap draft discarded", "alert", alertID, "by", by, "reason", reason)
	return nil
}

// Follower is a Log that other writers append to (replicas sharing a
// Kafka topic): Follow calls fn for every record after those Records
// returned, in log order, until ctx ends.
type Follower interface {
	Follow(ctx context.Context, fn func(Record)) error
}

// Run folds the records other replicas append to a shared Log until ctx
// ends; with a Log that is not a Follower (FileLog: this process is the
// only writer) it only waits for ctx.
func (p *Publisher) Run(ctx context.Context) error {
	f, ok := p.o.Log.(Follower)
	if !ok {
		<-ctx.Done()
		return nil
	}
	return f.Follow(ctx, func(r Record) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.add(r)
		p.drafts.Set(float64(p.countDrafts()))
	})
}

// proposalID is a random id that tells this Append's record from another
// replica's record of the same identifier.
func proposalID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
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
