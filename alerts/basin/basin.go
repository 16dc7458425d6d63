package basin

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/resilience-project/resilience/schemas"
	"github.com/resilience-project/resilience/schemas/rulespec"
)

// StationPrefix starts the station id of basin alerts.
const StationPrefix = "BASIN-"

// BasinStation is the station id basin alerts carry: BASIN- and the basin
// name with anything outside [A-Za-z0-9_-] replaced by '_', cut to the
// station id length.
func BasinStation(basin string) string {
	id := StationPrefix + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, basin)
	if len(id) > schemas.MaxStationIDLen {
		id = id[:schemas.MaxStationIDLen]
	}
	return id
}

type level struct {
	level int
	at    time.Time
}

type emitted struct {
	firing    bool
	id        string
	startedAt time.Time
	at        time.Time
}

// Evaluator holds the basin picture. It is safe for concurrent use.
type Evaluator struct {
	rules []rulespec.Rule
	reg   *schemas.Registry

	// all is every basin of the registry, sorted (the basins of a rule
	// that names none).
	all []string

	mu sync.Mutex
	// levels[rule][basin][station] is the current level of that station's
	// alert (stations the registry does not know are in basin "").
	levels map[string]map[string]map[string]level
	// dirty holds the basins whose picture changed since the last
	// Evaluate: only those can change a rule's condition or need a
	// comparison with what was emitted. Evaluate was O(rules × basins ×
	// stations) per alert event, a tenth of `resilience run`'s CPU in
	// an alert storm.
	dirty map[string]bool
	// terms lists, by station rule, the basin rule terms that read it;
	// counts[term][basin] is how many stations of the basin meet the term
	// (their level of its rule at least its min_level), kept by Observe,
	// so that a condition is O(terms), not O(stations) (holds).
	terms  map[string][]termRef
	counts map[termRef]map[string]int
	// state[basin station id + "\x00" + rule] is what was emitted last.
	state map[string]emitted
	// last is the time of the newest station event seen (event time).
	last time.Time
	// cause is the station event that last changed a level.
	cause schemas.AlertEvent
}

// termRef is term t of basin rule r (indexes into Evaluator.rules).
type termRef struct{ r, t int }

// New returns an evaluator for the basin rules of a rule set.
func New(set *rulespec.RuleSet, reg *schemas.Registry) *Evaluator {
	e := &Evaluator{rules: set.WithDefaults().BasinRules(), reg: reg, all: registryBasins(reg),
		levels: map[string]map[string]map[string]level{}, dirty: map[string]bool{}, state: map[string]emitted{},
		terms: map[string][]termRef{}, counts: map[termRef]map[string]int{}}
	for ri, r := range e.rules {
		for ti, t := range r.Of {
			ref := termRef{ri, ti}
			e.terms[t.Rule] = append(e.terms[t.Rule], ref)
			e.counts[ref] = map[string]int{}
		}
	}
	return e
}

// registryBasins lists the basins of the registry's stations, sorted.
func registryBasins(reg *schemas.Registry) []string {
	seen := map[string]bool{}
	var out []string
	for _, id := range reg.IDs() {
		if b := reg.Lookup(id).Basin; b != "" && !seen[b] {
			seen[b] = true
			out = append(out, b)
		}
	}
	sort.Strings(out)
	return out
}

// basinOf is the registry basin of station ("" if unknown).
func (e *Evaluator) basinOf(station string) string {
	if s := e.reg.Lookup(station); s != nil {
		return s.Basin
	}
	return ""
}

// Rules reports how many basin rules there are.
func (e *Evaluator) Rules() int { return len(e.rules) }

// Observe folds one alert event in: a station event updates that station's
// level of its rule (the latest event time wins); a basin event records what
// was emitted.
func (e *Evaluator) Observe(ev schemas.AlertEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if strings.HasPrefix(ev.Station, StationPrefix) {
		k := ev.Station + "\x00" + ev.Rule
		if cur, ok := e.state[k]; ok && ev.At.Before(cur.at) {
			return
		}
		e.state[k] = emitted{firing: ev.Kind != schemas.AlertResolved, id: ev.ID, startedAt: ev.StartedAt, at: ev.At}
		e.dirty[ev.Basin] = true
		return
	}
	basin := e.basinOf(ev.Station)
	byBasin := e.levels[ev.Rule]
	if byBasin == nil {
		byBasin = map[string]map[string]level{}
		e.levels[ev.Rule] = byBasin
	}
	m := byBasin[basin]
	if m == nil {
		m = map[string]level{}
		byBasin[basin] = m
	}
	cur, had := m[ev.Station]
	if had && ev.At.Before(cur.at) {
		return
	}
	l := ev.Level
	if ev.Kind == schemas.AlertResolved {
		l = 0
	}
	m[ev.Station] = level{level: l, at: ev.At}
	for _, ref := range e.terms[ev.Rule] {
		need := e.rules[ref.r].Of[ref.t].MinLevel
		was, is := had && cur.level >= need, l >= need
		if was != is {
			if is {
				e.counts[ref][basin]++
			} else {
				e.counts[ref][basin]--
			}
		}
	}
	e.dirty[basin] = true
	if ev.At.After(e.last) {
		e.last = ev.At
	}
	e.cause = ev
}

// Evaluate compares every basin rule's condition with what was emitted
// and returns the events (fired or resolved) that make them agree, marking
// them emitted. The caller produces them; if it cannot, it must not call
// Evaluate again before a restart (the replay then finds them missing).
func (e *Evaluator) Evaluate() []schemas.AlertEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []schemas.AlertEvent
	defer clear(e.dirty)
	for ri, r := range e.rules {
		for _, basin := range e.basins(r) {
			if !e.dirty[basin] {
				continue // as it was at the last Evaluate
			}
			on := e.holds(ri, basin)
			id := BasinStation(basin)
			k := id + "\x00" + r.Name
			cur := e.state[k]
			if on == cur.firing {
				continue
			}
			at := e.last
			ev := schemas.AlertEvent{V: schemas.AlertEventVersion, Station: id, Rule: r.Name, Level: 1, LevelName: r.Name,
				Severity: r.Severity, Basin: basin, At: at, Threshold: 1}
			if on {
				_, detail := e.explain(r, basin)
				ev.Kind, ev.StartedAt, ev.Value = schemas.AlertFired, at, 1
				ev.ID = schemas.AlertID(id, r.Name, at)
				ev.Message = fmt.Sprintf("%s fired in basin %s: %s (after %s at %s)", r.Name, basin, detail, e.cause.Rule, e.cause.Station)
				if e.cause.Station != "" {
					ev.Readings = e.cause.Readings
				}
			} else {
				ev.Kind, ev.StartedAt, ev.ID = schemas.AlertResolved, cur.startedAt, cur.id
				ev.Message = fmt.Sprintf("%s resolved in basin %s", r.Name, basin)
			}
			ev.EventID = schemas.EventID(ev.ID, ev.Kind, ev.Level, ev.At)
			e.state[k] = emitted{firing: on, id: ev.ID, startedAt: ev.StartedAt, at: at}
			out = append(out, ev)
		}
	}
	return out
}

// basins lists the basins a rule applies to.
func (e *Evaluator) basins(r rulespec.Rule) []string {
	if len(r.Basins) > 0 {
		return r.Basins
	}
	return e.all
}

// holds evaluates basin rule ri on basin from the term counts.
func (e *Evaluator) holds(ri int, basin string) bool {
	r := &e.rules[ri]
	result := r.Op == "and"
	for ti, t := range r.Of {
		ok := e.counts[termRef{ri, ti}][basin] >= t.MinStations
		if r.Op == "and" {
			result = result && ok
		} else {
			result = result || ok
		}
	}
	return result
}

// explain evaluates rule r on basin from the stations' levels and says
// which stations meet which terms (the fired event's message).
func (e *Evaluator) explain(r rulespec.Rule, basin string) (bool, string) {
	var parts []string
	result := r.Op == "and"
	for _, t := range r.Of {
		var n int
		var who []string
		for station, l := range e.levels[t.Rule][basin] {
			if l.level >= t.MinLevel {
				n++
				who = append(who, station)
			}
		}
		ok := n >= t.MinStations
		if ok {
			sort.Strings(who)
			parts = append(parts, fmt.Sprintf("%s>=%d at %s", t.Rule, t.MinLevel, strings.Join(who, ",")))
		}
		if r.Op == "and" {
			result = result && ok
		} else {
			result = result || ok
		}
	}
	return result, strings.Join(parts, "; ")
}
