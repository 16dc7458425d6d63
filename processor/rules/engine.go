package rules

import (
	"fmt"
	"sort"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/resilience-project/resilience/schemas"
)

type ruleKind uint8

const (
	kLevel ruleKind = iota + 1
	kRate
	kAccum
	kOffline
	kStuck
	kSpike
	kComposite
)

// level is one compiled threshold in "up" space: for direction below the
// engine negates values and thresholds so that every rule fires on >=.
type level struct {
	thr, margin float64
	name        string
	sev         schemas.Severity
}

// bound is one rule compiled for one station.
type bound struct {
	name     string
	kind     ruleKind
	sensor   schemas.Sensor
	neg      bool
	levels   []level
	minCount int
	minDur   int64
	window   int64
	minSpan  int64
	absolute bool
	count    int
	maxJump  float64
	k        float64
	and      bool
	terms    []Term
	sev      schemas.Severity
	label    string // window label for events
}

// stationRules are the rules that apply to one station.
type stationRules struct {
	id       string
	district string
	basin    string
	interval time.Duration
	counter  bool
	// bySensor lists the sensor-driven rules (level, rate, accumulation,
	// quality) of each sensor, in file order.
	bySensor   map[schemas.Sensor][]*bound
	quality    map[schemas.Sensor][]*bound
	composites []*bound
	offline    *bound
	// keep is how far behind the newest reading history must reach (rate
	// windows); stuckN is the most readings a stuck check needs.
	keep   int64
	stuckN int
	// ringLen is the number of rainfall buckets (0: no accumulation rule).
	ringLen int
	// names are the names of every rule bound to the station.
	names  map[string]bool
	nrules int
}

// compiled is an immutable RuleSet bound to a registry.
type compiled struct {
	set      *RuleSet
	lateness int64
	bucket   int64
	byID     map[string]*stationRules
	reg      *schemas.Registry
}

// Engine evaluates a RuleSet over per-station State.
//
// Contract: Engine is safe for concurrent use by many goroutines as long as
// each *State is used by one goroutine at a time. Apply and Tick are
// deterministic: the events they return depend only on the rules, the
// registry, the State and the arguments, never on the wall clock.
type Engine struct {
	cur atomic.Pointer[compiled]
}

// NewEngine compiles set against the station registry reg (which may be
// nil: stations then have no registry levels, district, basin or interval,
// and the offline rule does not apply).
func NewEngine(set *RuleSet, reg *schemas.Registry) (*Engine, error) {
	e := &Engine{}
	c, err := compile(set, reg)
	if err != nil {
		return nil, err
	}
	e.cur.Store(c)
	return e, nil
}

// SetRules atomically replaces the rules, keeping the registry. States stay
// valid: rules that keep their name keep their alerts; state of removed
// rules is dropped the next time the station is evaluated (without a
// resolved event); new rules start empty.
func (e *Engine) SetRules(set *RuleSet) error {
	c, err := compile(set, e.cur.Load().reg)
	if err != nil {
		return err
	}
	e.cur.Store(c)
	return nil
}

// Rules returns the rule set in force.
func (e *Engine) Rules() *RuleSet { return e.cur.Load().set }

// NewState returns the empty state of station.
func (e *Engine) NewState(station string) *State {
	return &State{station: station}
}

func compile(set *RuleSet, reg *schemas.Registry) (*compiled, error) {
	if set == nil {
		return nil, ErrNilRuleSet
	}
	c := &compiled{
		set:      set,
		lateness: int64(set.AllowedLateness),
		bucket:   int64(set.Bucket),
		byID:     map[string]*stationRules{},
		reg:      reg,
	}
	if c.lateness <= 0 || c.bucket <= 0 {
		return nil, fmt.Errorf("%w: rule set was not validated (use ParseRuleSet or Validate)", ErrInvalidRules)
	}
	if reg != nil {
		for _, id := range reg.IDs() {
			c.byID[id] = c.bind(id, reg.Lookup(id))
		}
	}
	return c, nil
}

// station returns the rules of station id; stations outside the registry
// get the rules that need no registry data.
func (c *compiled) station(id string) *stationRules {
	if sr, ok := c.byID[id]; ok {
		return sr
	}
	return c.bind(id, nil)
}

// cut shortens a registry label (district, basin) to maxLabelLen bytes at
// a rune boundary, so that events and the encoded state stay bounded.
func cut(s string) string {
	if len(s) <= maxLabelLen {
		return s
	}
	n := maxLabelLen
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (c *compiled) bind(id string, st *schemas.Station) *stationRules {
	sr := &stationRules{id: id, bySensor: map[schemas.Sensor][]*bound{}, quality: map[schemas.Sensor][]*bound{}}
	if st != nil {
		sr.district, sr.basin, sr.interval, sr.counter = cut(st.District), cut(st.Basin), st.Interval, st.RainCounter
	}
	var maxAccum int64
	for i := range c.set.Rules {
		r := &c.set.Rules[i]
		if r.Scope == ScopeBasin {
			continue // evaluated across stations by the alerts service
		}
		if len(r.Stations) > 0 && !contains(r.Stations, id) {
			continue
		}
		o := r.Overrides[id]
		if o.Disabled {
			continue
		}
		b := &bound{name: r.Name, sensor: r.Sensor, sev: r.Severity, minCount: r.MinCount,
			minDur: int64(r.MinDuration), window: int64(r.Window), minSpan: int64(r.MinSpan),
			absolute: r.Absolute, count: r.Count, maxJump: r.MaxJump, k: r.K, and: r.Op == "and", terms: r.Of}
		if o.MinCount != nil {
			b.minCount = *o.MinCount
		}
		if o.MinDuration != nil {
			b.minDur = int64(*o.MinDuration)
		}
		if b.minCount < 1 {
			b.minCount = 1
		}
		margin := 0.0
		if r.ClearMargin != nil {
			margin = *r.ClearMargin
		}
		if o.ClearMargin != nil {
			margin = *o.ClearMargin
		}
		specs := r.Levels
		if len(o.Levels) > 0 {
			specs = o.Levels
		} else if r.LevelsFromRegistry && st != nil {
			var l schemas.Levels
			if r.Sensor == schemas.WaterLevel {
				l = st.AlarmLevelsM
			} else {
				l = st.FloodDepthLevelsCM
			}
			if l.Set() {
				names := append(append([]string(nil), r.RegistryLevelNames...), "I", "II", "III")
				if len(r.RegistryLevelNames) < 3 {
					names = []string{"I", "II", "III"}
				}
				sevs := []schemas.Severity{schemas.SeverityModerate, schemas.SeveritySevere, schemas.SeverityExtreme}
				specs = nil
				for j, v := range []float64{l.I, l.II, l.III} {
					specs = append(specs, LevelSpec{Name: names[j], Threshold: v, Severity: sevs[j]})
				}
			}
		}
		for _, s := range specs {
			lv := level{thr: s.Threshold, margin: margin, name: s.Name, sev: s.Severity}
			if s.ClearMargin != nil {
				lv.margin = *s.ClearMargin
			}
			if lv.sev == "" {
				lv.sev = r.Severity
			}
			if r.Direction == "below" {
				lv.thr = -lv.thr
			}
			b.levels = append(b.levels, lv)
		}
		b.neg = r.Direction == "below"
		switch r.Kind {
		case KindLevel:
			b.kind = kLevel
		case KindRate:
			b.kind = kRate
			b.label = windowLabel(r.Window)
			if b.window > sr.keep {
				sr.keep = b.window
			}
		case KindAccumulation:
			b.kind = kAccum
			b.label = windowLabel(r.Window)
			if b.window > maxAccum {
				maxAccum = b.window
			}
		case KindOffline:
			b.kind = kOffline
			if st == nil || st.Interval <= 0 {
				continue
			}
			sr.offline = b
			continue
		case KindQuality:
			b.kind = kSpike
			b.levels = []level{{thr: r.MaxJump, name: "spike", sev: r.Severity}}
			if r.Check == CheckStuck {
				b.kind = kStuck
				b.levels = []level{{thr: float64(r.Count), margin: 0, name: "stuck", sev: r.Severity}}
				if r.Count > sr.stuckN {
					sr.stuckN = r.Count
				}
			}
			sr.quality[r.Sensor] = append(sr.quality[r.Sensor], b)
		case KindComposite:
			b.kind = kComposite
			b.levels = []level{{thr: 1, name: r.Name, sev: r.Severity}}
			sr.composites = append(sr.composites, b)
			continue
		}
		if len(b.levels) == 0 {
			continue // e.g. registry levels missing for this station
		}
		sr.bySensor[r.Sensor] = append(sr.bySensor[r.Sensor], b)
	}
	sr.names = map[string]bool{}
	for _, bs := range sr.bySensor {
		for _, b := range bs {
			sr.names[b.name] = true
		}
	}
	for _, b := range sr.composites {
		sr.names[b.name] = true
	}
	if sr.offline != nil {
		sr.names[sr.offline.name] = true
	}
	sr.nrules = len(sr.names)
	if maxAccum > 0 {
		sr.ringLen = int((maxAccum+c.lateness)/c.bucket) + 2
		if sr.keep < c.bucket {
			sr.keep = c.bucket // a bucket's readings are summed from the history
		}
	}
	return sr
}

// sensors returns the sensors with rules, sorted.
func (sr *stationRules) sensors() []schemas.Sensor {
	out := make([]schemas.Sensor, 0, len(sr.bySensor))
	for s := range sr.bySensor {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
