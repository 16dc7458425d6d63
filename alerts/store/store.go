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
	Firing   State = "firing"
	Resolved State = "resolved"
)

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
}

// Store holds alerts by id.
type Store struct {
	mu     sync.RWMutex
	alerts map[string]*Alert
	seen   map[string]struct{} // EventIDs applied
}

// New returns an empty store.
func New() *Store {
	return &Store{alerts: map[string]*Alert{}, seen: map[string]struct{}{}}
}

// Apply folds an event in. It returns false for a duplicate EventID.
func (s *Store) Apply(e schemas.AlertEvent) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.seen[e.EventID]; dup {
		return false
	}
	s.seen[e.EventID] = struct{}{}
	a := s.alerts[e.ID]
	if a == nil {
		a = &Alert{ID: e.ID, Station: e.Station, Sensor: e.Sensor, Rule: e.Rule, StartedAt: e.StartedAt,
			District: e.District, Basin: e.Basin}
		s.alerts[e.ID] = a
	}
	a.Events++
	// Events of one alert may arrive out of order after a replay; the
	// latest event time wins, and resolved is final.
	if e.At.Before(a.UpdatedAt) || a.State == Resolved && e.Kind != schemas.AlertResolved {
		return true
	}
	a.UpdatedAt = e.At
	a.Level, a.LevelName, a.Severity = e.Level, e.LevelName, e.Severity
	a.Value, a.Threshold, a.Message = e.Value, e.Threshold, e.Message
	if e.Kind == schemas.AlertResolved {
		a.State = Resolved
		at := e.At
		a.ResolvedAt = &at
	} else {
		a.State = Firing
	}
	return true
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
	for _, a := range s.alerts {
		if (f.Station == "" || a.Station == f.Station) && (f.State == "" || a.State == f.State) {
			out = append(out, *a)
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
	a, ok := s.alerts[id]
	if !ok {
		return Alert{}, false
	}
	return *a, true
}
