package store

import (
	"sort"
	"sync"
	"time"

	"github.com/resilience-project/resilience/schemas"
)

// State of an alert.
type State string

// States.
const (
	Firing       State = "firing"
	Acknowledged State = "acknowledged"
	Resolved     State = "resolved"
)

// Bounds of what one store holds.
const (
	// MaxHistory bounds one alert's History (the oldest entries go first).
	MaxHistory = 200
	// MaxOrphans bounds the actions held for alerts not seen yet.
	MaxOrphans = 10000
)

// Ack is who acknowledged an alert, when, and why.
type Ack struct {
	By   string    `json:"by"`
	At   time.Time `json:"at"`
	Note string    `json:"note,omitempty"`
}

// Transition is one entry of an alert's history: a processor event (Kind
// fired, escalated, deescalated, resolved; By empty) or an operator action
// (Kind ack, unack, resolve, comment, assign).
type Transition struct {
	At   time.Time `json:"at"`
	Kind string    `json:"kind"`
	By   string    `json:"by,omitempty"`
	Note string    `json:"note,omitempty"`
	// Level is the event's level (0 for actions: an action's place in the
	// history does not depend on what was folded before it).
	Level int `json:"level,omitempty"`
	// ID is the event id or the action id.
	ID string `json:"id"`
}

// Alert is the current picture of one alert.
type Alert struct {
	ID         string           `json:"id"`
	Station    string           `json:"station"`
	Sensor     schemas.Sensor   `json:"sensor,omitempty"`
	Rule       string           `json:"rule"`
	Level      int              `json:"level"`
	LevelName  string           `json:"level_name,omitempty"`
	Severity   schemas.Severity `json:"severity"`
	State      State            `json:"state"`
	Value      float64          `json:"value"`
	Threshold  float64          `json:"threshold"`
	StartedAt  time.Time        `json:"started_at"`
	UpdatedAt  time.Time        `json:"updated_at"`
	ResolvedAt *time.Time       `json:"resolved_at,omitempty"`
	District   string           `json:"district,omitempty"`
	Basin      string           `json:"basin,omitempty"`
	Message    string           `json:"message,omitempty"`
	Events     int              `json:"events"`
	// Ack is set while the alert is acknowledged (and kept once resolved).
	Ack *Ack `json:"ack,omitempty"`
	// ResolvedBy and ResolveReason are set when an operator resolved it.
	ResolvedBy    string `json:"resolved_by,omitempty"`
	ResolveReason string `json:"resolve_reason,omitempty"`
	Assignee      string `json:"assignee,omitempty"`
	// PeakLevel is the highest level the alert's events reached, PeakValue
	// the value of such an event (the largest at that level).
	PeakLevel int     `json:"peak_level"`
	PeakValue float64 `json:"peak_value"`
	// Readings are the readings the events carried, by time, deduplicated,
	// the newest MaxReadings.
	Readings []schemas.ReadingRef `json:"readings,omitempty"`
	// History is every event and action, oldest first; HistoryDropped
	// counts the oldest entries dropped over MaxHistory.
	History        []Transition `json:"history"`
	HistoryDropped int          `json:"history_dropped,omitempty"`
}

// entry is an alert with the fold's bookkeeping.
type entry struct {
	a         Alert
	seen      map[string]struct{} // event and action ids folded in
	procDone  bool                // the processor's resolved event is in
	lastAck   *schemas.AlertAction
	opResolve *schemas.AlertAction
	assign    *schemas.AlertAction
}

// Options configure a store.
type Options struct {
	// ResolvedRetention is how long a resolved alert stays in memory (0:
	// for ever).
	ResolvedRetention time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Store holds alerts by id.
type Store struct {
	o       Options
	mu      sync.RWMutex
	alerts  map[string]*entry
	gone    map[string]time.Time // aged-out alert id → when it was resolved
	orphans map[string][]schemas.AlertAction
	norphan int
	// version counts the calls that may have changed an alert (Version);
	// journal holds the ids they changed, the latest maxJournal
	// (ChangedSince).
	version uint64
	journal []change
	jstart  int // index of the oldest change in journal (a ring once full)
}

// change is one journal entry: the alert id that version changed.
type change struct {
	version uint64
	id      string
}

// maxJournal bounds the change journal: a reader that falls further
// behind lists the store instead (ChangedSince's ok false).
const maxJournal = 8192

// touch moves the version for a change of alert id and journals it.
func (s *Store) touch(id string) {
	s.version++
	c := change{s.version, id}
	if len(s.journal) < maxJournal {
		s.journal = append(s.journal, c)
		return
	}
	s.journal[s.jstart] = c
	s.jstart = (s.jstart + 1) % maxJournal
}

// New returns an empty store that keeps resolved alerts for ever.
func New() *Store { return NewWithOptions(Options{}) }

// NewWithOptions returns an empty store.
func NewWithOptions(o Options) *Store {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Store{o: o, alerts: map[string]*entry{}, gone: map[string]time.Time{}, orphans: map[string][]schemas.AlertAction{}}
}

// Apply folds an event in. It returns false for a duplicate EventID (or an
// event of an alert that aged out).
func (s *Store) Apply(e schemas.AlertEvent) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.touch(e.ID)
	if _, gone := s.gone[e.ID]; gone {
		return false
	}
	en := s.alerts[e.ID]
	if en == nil {
		en = &entry{a: Alert{ID: e.ID, Station: e.Station, Sensor: e.Sensor, Rule: e.Rule, StartedAt: e.StartedAt,
			District: e.District, Basin: e.Basin, History: []Transition{}}, seen: map[string]struct{}{}}
		s.alerts[e.ID] = en
		defer s.adoptOrphans(en)
	}
	if _, dup := en.seen[e.EventID]; dup {
		return false
	}
	en.seen[e.EventID] = struct{}{}
	a := &en.a
	a.Events++
	record(a, Transition{At: e.At, Kind: string(e.Kind), Level: e.Level, ID: e.EventID})
	peak(a, e)
	if e.Kind == schemas.AlertResolved {
		en.procDone = true
		if a.ResolvedAt == nil || e.At.Before(*a.ResolvedAt) {
			at := e.At
			a.ResolvedAt = &at
		}
	}
	// Events of one alert may arrive out of order after a replay; the
	// latest event time wins, and resolved is final.
	if !e.At.Before(a.UpdatedAt) && !(a.State == Resolved && e.Kind != schemas.AlertResolved) {
		a.UpdatedAt = e.At
		a.Level, a.LevelName, a.Severity = e.Level, e.LevelName, e.Severity
		a.Value, a.Threshold, a.Message = e.Value, e.Threshold, e.Message
	}
	s.derive(en)
	s.ageOut(en)
	return true
}

// ApplyAction folds an operator action in. It returns false for a
// duplicate ActionID or an alert that aged out; an action of an alert not
// seen yet is held until its first event (false if MaxOrphans are held).
func (s *Store) ApplyAction(x schemas.AlertAction) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.touch(x.AlertID)
	if _, gone := s.gone[x.AlertID]; gone {
		return false
	}
	en := s.alerts[x.AlertID]
	if en == nil {
		for _, o := range s.orphans[x.AlertID] {
			if o.ActionID == x.ActionID {
				return false
			}
		}
		if s.norphan >= MaxOrphans {
			return false
		}
		s.orphans[x.AlertID] = append(s.orphans[x.AlertID], x)
		s.norphan++
		return true
	}
	applied := s.fold(en, x)
	s.ageOut(en)
	return applied
}

func (s *Store) adoptOrphans(en *entry) {
	for _, x := range s.orphans[en.a.ID] {
		s.fold(en, x)
	}
	s.norphan -= len(s.orphans[en.a.ID])
	delete(s.orphans, en.a.ID)
	s.ageOut(en)
}

// fold applies one action to en.
func (s *Store) fold(en *entry, x schemas.AlertAction) bool {
	if _, dup := en.seen[x.ActionID]; dup {
		return false
	}
	en.seen[x.ActionID] = struct{}{}
	record(&en.a, Transition{At: x.At, Kind: string(x.Kind), By: x.By, Note: x.Note, ID: x.ActionID})
	switch x.Kind {
	case schemas.ActionAck, schemas.ActionUnack:
		if later(&x, en.lastAck) {
			en.lastAck = &x
		}
	case schemas.ActionResolve:
		if en.opResolve == nil || earlier(&x, en.opResolve) {
			en.opResolve = &x
		}
	case schemas.ActionAssign:
		if later(&x, en.assign) {
			en.assign = &x
		}
	}
	s.derive(en)
	return true
}

// later: x is after cur (At, then ActionID), or cur is nil.
func later(x, cur *schemas.AlertAction) bool {
	return cur == nil || x.At.After(cur.At) || x.At.Equal(cur.At) && x.ActionID > cur.ActionID
}

func earlier(x, cur *schemas.AlertAction) bool { return !later(x, cur) && x.ActionID != cur.ActionID }

// derive computes the state from the folded facts.
func (s *Store) derive(en *entry) {
	a := &en.a
	a.Ack = nil
	if en.lastAck != nil && en.lastAck.Kind == schemas.ActionAck {
		a.Ack = &Ack{By: en.lastAck.By, At: en.lastAck.At, Note: en.lastAck.Note}
	}
	a.Assignee = ""
	if en.assign != nil {
		a.Assignee = en.assign.Note
	}
	a.ResolvedBy, a.ResolveReason = "", ""
	if r := en.opResolve; r != nil {
		a.ResolvedBy, a.ResolveReason = r.By, r.Note
		if a.ResolvedAt == nil || r.At.Before(*a.ResolvedAt) {
			at := r.At
			a.ResolvedAt = &at
		}
	}
	switch {
	case en.procDone || en.opResolve != nil:
		a.State = Resolved
	case a.Ack != nil:
		a.State = Acknowledged
	default:
		a.State = Firing
	}
}

// record inserts t into the history in time order, within MaxHistory.
func record(a *Alert, t Transition) {
	i := sort.Search(len(a.History), func(i int) bool {
		h := a.History[i]
		return h.At.After(t.At) || h.At.Equal(t.At) && h.ID > t.ID
	})
	a.History = append(a.History, Transition{})
	copy(a.History[i+1:], a.History[i:])
	a.History[i] = t
	if n := len(a.History) - MaxHistory; n > 0 {
		a.History = append(a.History[:0], a.History[n:]...)
		a.HistoryDropped += n
	}
}

// ageOut drops en if it has been resolved longer than the retention.
func (s *Store) ageOut(en *entry) {
	r := s.o.ResolvedRetention
	if r <= 0 || en.a.State != Resolved || en.a.ResolvedAt == nil || s.o.Now().Sub(*en.a.ResolvedAt) < r {
		return
	}
	delete(s.alerts, en.a.ID)
	s.gone[en.a.ID] = *en.a.ResolvedAt
}

// Sweep drops the alerts resolved longer than the retention ago, and
// forgets aged-out ids after another retention. It returns how many alerts
// it dropped.
func (s *Store) Sweep() int {
	r := s.o.ResolvedRetention
	if r <= 0 {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.alerts)
	for id, en := range s.alerts {
		s.ageOut(en)
		if _, kept := s.alerts[id]; !kept {
			s.touch(id)
		}
	}
	cutoff := s.o.Now().Add(-2 * r)
	for id, at := range s.gone {
		if at.Before(cutoff) {
			delete(s.gone, id)
		}
	}
	return n - len(s.alerts)
}

// Version changes whenever an alert may have changed (an event or action
// applied, an alert aged out): a reader that saw version v and reads v
// again has nothing new to read. The API's event feed looks every 100 ms
// and lists the store only when it moved.
func (s *Store) Version() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.version
}

// ChangedSince returns the ids of the alerts changed after version v (an
// event or action applied, an alert aged out; each id once, in no set
// order) and the current version. ok is false when the changes since v
// are no longer all journaled (v is older than the latest 8,192
// changes): the caller lists the store instead. A reader that keeps the
// returned version and asks again sees every later change.
func (s *Store) ChangedSince(v uint64) (ids []string, cur uint64, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	cur = s.version
	if v >= cur {
		return nil, cur, true
	}
	n := len(s.journal)
	if n == 0 || s.journal[s.jstart].version > v+1 {
		return nil, cur, false
	}
	seen := map[string]bool{}
	for k := n - 1; k >= 0; k-- {
		c := s.journal[(s.jstart+k)%n]
		if c.version <= v {
			break
		}
		if !seen[c.id] {
			seen[c.id] = true
			ids = append(ids, c.id)
		}
	}
	return ids, cur, true
}

// Len is the number of alerts held.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.alerts)
}

// Filter selects alerts; zero fields match everything.
type Filter struct {
	Station string
	State   State
}

// List returns matching alerts, newest start first.
func (s *Store) List(f Filter) []Alert {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Alert, 0, len(s.alerts))
	for _, en := range s.alerts {
		a := &en.a
		if (f.Station == "" || a.Station == f.Station) && (f.State == "" || a.State == f.State) {
			out = append(out, clone(a))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].StartedAt.Equal(out[j].StartedAt) {
			return out[i].StartedAt.After(out[j].StartedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Get returns one alert.
func (s *Store) Get(id string) (Alert, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	en, ok := s.alerts[id]
	if !ok {
		return Alert{}, false
	}
	return clone(&en.a), true
}

// clone copies a with its own history and ack.
func clone(a *Alert) Alert {
	c := *a
	c.History = append([]Transition{}, a.History...)
	c.Readings = append([]schemas.ReadingRef(nil), a.Readings...)
	if a.Ack != nil {
		ack := *a.Ack
		c.Ack = &ack
	}
	if a.ResolvedAt != nil {
		at := *a.ResolvedAt
		c.ResolvedAt = &at
	}
	return c
}
