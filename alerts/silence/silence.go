package silence

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/resilience-project/resilience/alerts/route"
)

// ErrInvalid is wrapped by the error of a Silence that does not validate.
var ErrInvalid = errors.New("invalid silence")

// ErrNotFound is returned by Expire for an unknown silence id.
var ErrNotFound = errors.New("silence not found")

// Silence mutes the alerts its Matchers select from Start (included) to End
// (excluded).
type Silence struct {
	ID       string         `json:"id"`
	Matchers route.Matchers `json:"matchers"`
	Author   string         `json:"author"`
	Comment  string         `json:"comment"`
	Start    time.Time      `json:"start"`
	End      time.Time      `json:"end"`
	// ExpiredBy is who ended the silence early (Expired), if anyone; End
	// is then when it was expired.
	ExpiredBy string `json:"expired_by,omitempty"`
}

// Validate checks that the silence is usable: an id, at least one matcher on
// a known label (a silence of everything must be said with a matcher, not by
// omission), an author, a comment and End after Start.
func (s Silence) Validate() error {
	var errs []error
	if s.ID == "" {
		errs = append(errs, errors.New("id: required"))
	}
	if len(s.Matchers) == 0 {
		errs = append(errs, errors.New("matchers: at least one matcher is required"))
	}
	names := route.LabelNames()
	for k, v := range s.Matchers {
		if !slices.Contains(names, k) {
			errs = append(errs, fmt.Errorf("matchers: %q is not a label", k))
		} else if len(v) == 0 {
			errs = append(errs, fmt.Errorf("matchers.%s: at least one value is required", k))
		}
	}
	if s.Author == "" {
		errs = append(errs, errors.New("author: required"))
	}
	if s.Comment == "" {
		errs = append(errs, errors.New("comment: required (why the alerts are muted)"))
	}
	if !s.End.After(s.Start) {
		errs = append(errs, fmt.Errorf("end: %s must be after start %s", s.End.Format(time.RFC3339), s.Start.Format(time.RFC3339)))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w %q: %w", ErrInvalid, s.ID, errors.Join(errs...))
	}
	return nil
}

// Active reports whether the silence is in force at now.
func (s Silence) Active(now time.Time) bool { return !now.Before(s.Start) && now.Before(s.End) }

// Mutes reports whether the silence mutes an alert with labels l at now.
func (s Silence) Mutes(l route.Labels, now time.Time) bool {
	return s.Active(now) && len(s.Matchers) > 0 && s.Matchers.Matches(l)
}

// Set is the silences in force, safe for concurrent use.
type Set struct {
	mu sync.RWMutex
	by map[string]Silence
}

// NewSet returns an empty set.
func NewSet() *Set { return &Set{by: map[string]Silence{}} }

// Add validates s and adds it, replacing a silence with the same id.
func (t *Set) Add(s Silence) error {
	if err := s.Validate(); err != nil {
		return err
	}
	s.Matchers = cloneMatchers(s.Matchers)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.by[s.ID] = s
	return nil
}

// Expire ends silence id at now (if it ends later).
func (t *Set) Expire(id string, now time.Time) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.by[id]
	if !ok {
		return fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	t.by[id] = s.Expired(now, s.ExpiredBy)
	return nil
}

// Get returns silence id.
func (t *Set) Get(id string) (Silence, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	s, ok := t.by[id]
	return s, ok
}

// Expired returns s ended at now by by (unchanged if it ends earlier
// already). A silence that has not started yet gets a start just before
// now, so it stays valid (End after Start).
func (s Silence) Expired(now time.Time, by string) Silence {
	if !s.End.After(now) {
		return s
	}
	s.End, s.ExpiredBy = now, by
	if !s.End.After(s.Start) {
		s.Start = now.Add(-time.Nanosecond)
	}
	return s
}

// Fold merges a silence read from the durable log (a Record) into the
// set: a new id is added; a known id takes the record's fields, except
// that its end never moves later (an expiry is final, whatever order two
// replicas' records are folded in). It returns whether the set changed,
// or the validation error.
func (t *Set) Fold(s Silence) (bool, error) {
	if err := s.Validate(); err != nil {
		return false, err
	}
	s.Matchers = cloneMatchers(s.Matchers)
	t.mu.Lock()
	defer t.mu.Unlock()
	if cur, ok := t.by[s.ID]; ok {
		if cur.End.Before(s.End) {
			s.End, s.Start, s.ExpiredBy = cur.End, cur.Start, cur.ExpiredBy
		}
		if equal(cur, s) {
			return false, nil
		}
	}
	t.by[s.ID] = s
	return true, nil
}

func equal(a, b Silence) bool {
	if a.ID != b.ID || a.Author != b.Author || a.Comment != b.Comment || !a.Start.Equal(b.Start) ||
		!a.End.Equal(b.End) || a.ExpiredBy != b.ExpiredBy || len(a.Matchers) != len(b.Matchers) {
		return false
	}
	for k, v := range a.Matchers {
		if !slices.Equal(v, b.Matchers[k]) {
			return false
		}
	}
	return true
}

// Muted returns the id of a silence that mutes labels l at now (the first
// by id), or "" and false.
func (t *Set) Muted(l route.Labels, now time.Time) (string, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var ids []string
	for id, s := range t.by {
		if s.Mutes(l, now) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return "", false
	}
	sort.Strings(ids)
	return ids[0], true
}

// List returns every silence, by id.
func (t *Set) List() []Silence {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]Silence, 0, len(t.by))
	for _, s := range t.by {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// GC drops silences that ended before cutoff.
func (t *Set) GC(cutoff time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for id, s := range t.by {
		if s.End.Before(cutoff) {
			delete(t.by, id)
			n++
		}
	}
	return n
}

func cloneMatchers(m route.Matchers) route.Matchers {
	out := make(route.Matchers, len(m))
	for k, v := range m {
		out[k] = slices.Clone(v)
	}
	return out
}
