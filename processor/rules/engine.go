package rules

import (
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/resilience-project/resilience/schemas"
)

// level is one compiled threshold in "up" space: for direction below the
// engine negates values and thresholds so that every rule fires on >=.
type level struct {
	thr, margin    float64
	name           string
	nameVI, nameEN string
	colour         string
	beaufort       int
	sev            schemas.Severity
}

// bound is one rule compiled for one station: what the engine tracks for
// every kind (name, levels, gates, severity). What differs per kind is its
// evaluator (evaluator.go), kept beside it in stationRules.
type bound struct {
	name string
	// sensor is the rule's sensor (messages); evSensor the sensor its
	// events name, set for the rules its sensor's readings drive.
	sensor, evSensor schemas.Sensor
	neg              bool
	levels           []level
	minCount         int
	minDur           int64
	sev              schemas.Severity
	label            string // window label for events
	// hazard: suspect readings neither fire nor clear the rule.
	hazard bool
	// wind: the levels are Beaufort grades; events carry the Beaufort
	// number of the value.
	wind bool
	// slot is the rule's index in its class's slotNames, and so in the
	// rules of every State aligned to the class.
	slot int
}

// stationRules are the rules that apply to one station: its class's, and
// what its events name (id, district, basin).
type stationRules struct {
	id       string
	district string
	basin    string
	*ruleClass
}

// ruleClass is the rules that apply to a class of stations, by the role
// their kind gave them when compiled (see evaluator.go). Stations that no
// rule names (no override, no station list that lists them) and that are
// alike in every registry field a kind compiles from (classKey) share one
// ruleClass: compiled once, read-only afterwards. A class per station was
// most of the engine's memory for 10,000 stations.
type ruleClass struct {
	counter bool
	// bySensor lists the rules each sensor's readings drive, in file order;
	// quality the checks that flag its readings suspect.
	bySensor map[schemas.Sensor][]sensorRule
	quality  map[schemas.Sensor][]checker
	// context are sensors whose history rules of other sensors consult.
	context    map[schemas.Sensor]bool
	composites []derivedRule
	offline    *timedRule
	// keep is how far behind the newest reading history must reach (rate
	// windows, one rainfall bucket); rainWindow is the longest rolling-rain
	// window.
	keep, rainWindow int64
	// ringLen is the number of rainfall buckets (0: no accumulation rule).
	ringLen int
	// slotNames are the names of every rule of the class, sorted: a
	// State keeps the state of rule slotNames[i] at index i (State.align),
	// and each rule's bound knows its slot.
	slotNames []string
	// intern shares station-independent levels while compiling (nil
	// after, and for a station outside the registry).
	intern levelIntern
}

// classKey is every registry field of a station that a kind's compile
// function reads (compileFunc's st), so stations equal in it, and named by
// no rule, bind equal rules. A kind that reads a further field adds it
// here (TestStationsOfOneClassBindEqualRules checks each field).
type classKey struct {
	alarm, flood schemas.Levels
	interval     time.Duration
	counter      bool
	saturation   float64
	zone         int
}

// keyOf is the class key of st.
func keyOf(st *schemas.Station) classKey {
	return classKey{alarm: st.AlarmLevelsM, flood: st.FloodDepthLevelsCM, interval: st.Interval,
		counter: st.RainCounter, saturation: st.SaturationPct, zone: st.HazardZone}
}

// compiled is an immutable RuleSet bound to a registry.
type compiled struct {
	set      *RuleSet
	lateness int64
	bucket   int64
	byID     map[string]*stationRules
	reg      *schemas.Registry
}

// binder binds the registry's stations during one compile, sharing what
// stations have in common.
type binder struct {
	levels  levelIntern
	classes map[classKey]*ruleClass
}

// levelIntern shares, between the stations of one compile, the levels of
// a rule that do not depend on the station (most rules: only registry
// alarm levels and per-station overrides do). A copy per station was
// about a third of the engine's memory for 10,000 stations. Levels are
// read-only once compiled. Only compile's eager binding of the registry
// uses one; a station outside the registry is bound on its own (nil).
type levelIntern map[levelKey][]level

// levelKey names a rule's station-independent levels: the rule and which
// of its levels (its own, or a kind's fixed one).
type levelKey struct {
	rule *RuleSpec
	what string
}

// get returns the levels stored under k, storing build's on the first
// call (every call's with a nil intern).
func (in levelIntern) get(k levelKey, build func() []level) []level {
	if in == nil {
		return build()
	}
	if l, ok := in[k]; ok {
		return l
	}
	l := build()
	in[k] = l
	return l
}

// Engine evaluates a RuleSet over per-station State.
//
// Contract: Engine is safe for concurrent use by many goroutines as long as
// each *State is used by one goroutine at a time. Apply and Tick are
// deterministic: the events they return depend only on the rules, the
// registry, the State and the arguments, never on the wall clock.
type Engine struct {
	cur atomic.Pointer[compiled]
	// sums are rolling-sum caches lent to one Apply at a time (rain.go).
	sums sync.Pool
	// replay makes late readings replay their rules from the checkpoint,
	// without traces (trace.go): the reference the traces are tested
	// against. Set only by tests, before the first Apply.
	replay bool
}

// NewEngine validates set, compiles it with its defaults filled in
// (set.WithDefaults; set itself is not changed) against the station
// registry reg (which may be nil: stations then have no registry levels,
// district, basin or interval, and the offline rule does not apply).
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

// Rules returns the rule set in force, with its defaults filled in.
func (e *Engine) Rules() *RuleSet { return e.cur.Load().set }

// NewState returns the empty state of station.
func (e *Engine) NewState(station string) *State {
	return &State{station: station}
}

func compile(set *RuleSet, reg *schemas.Registry) (*compiled, error) {
	if set == nil {
		return nil, ErrNilRuleSet
	}
	if err := set.Validate(); err != nil {
		return nil, err
	}
	set = set.WithDefaults()
	c := &compiled{
		set:      set,
		lateness: int64(set.AllowedLateness),
		bucket:   int64(set.Bucket),
		byID:     map[string]*stationRules{},
		reg:      reg,
	}
	if reg != nil {
		bd := &binder{levels: levelIntern{}, classes: map[classKey]*ruleClass{}}
		for _, id := range reg.IDs() {
			c.byID[id] = c.bind(id, reg.Lookup(id), bd)
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
	return c.bind(id, nil, nil)
}

// named reports whether a rule names station id: lists it among its
// stations or has an override for it. Such a station has a class of its own.
func (c *compiled) named(id string) bool {
	for i := range c.set.Rules {
		r := &c.set.Rules[i]
		if _, ok := r.Overrides[id]; ok || contains(r.Stations, id) {
			return true
		}
	}
	return false
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

// bind returns the rules of station id (st: its registry entry, nil
// outside the registry): the class of the stations like it that bd has
// compiled already, or a new one; a station a rule names, or bound
// outside a compile (bd nil), gets a class of its own.
func (c *compiled) bind(id string, st *schemas.Station, bd *binder) *stationRules {
	sr := &stationRules{id: id}
	if st != nil {
		sr.district, sr.basin = cut(st.District), cut(st.Basin)
	}
	if st == nil || bd == nil || c.named(id) {
		var in levelIntern
		if bd != nil {
			in = bd.levels
		}
		sr.ruleClass = c.compileClass(id, st, in)
		return sr
	}
	k := keyOf(st)
	if sr.ruleClass = bd.classes[k]; sr.ruleClass == nil {
		sr.ruleClass = c.compileClass(id, st, bd.levels)
		bd.classes[k] = sr.ruleClass
	}
	return sr
}

// compileClass compiles the rules that apply to station id (st: its
// registry entry, nil outside the registry): the common part of each, then
// its kind's compile function (kinds), which gives it its role.
func (c *compiled) compileClass(id string, st *schemas.Station, in levelIntern) *ruleClass {
	rc := &ruleClass{bySensor: map[schemas.Sensor][]sensorRule{}, quality: map[schemas.Sensor][]checker{}, intern: in}
	if st != nil {
		rc.counter = st.RainCounter
	}
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
		kinds[r.Kind](common(r, &o, st, in), r, st, rc)
	}
	rc.intern = nil
	rc.assignSlots()
	if rc.rainWindow > 0 {
		rc.ringLen = int((rc.rainWindow+c.lateness)/c.bucket) + 2
		if rc.keep < c.bucket {
			rc.keep = c.bucket // a bucket's readings are summed from the history
		}
	}
	return rc
}

// assignSlots names the class's rules in slotNames, sorted, and gives each
// rule's bound its index there.
func (rc *ruleClass) assignSlots() {
	var all []*bound
	for _, rs := range rc.bySensor {
		for _, r := range rs {
			all = append(all, r.bound)
		}
	}
	for _, r := range rc.composites {
		all = append(all, r.bound)
	}
	if rc.offline != nil {
		all = append(all, rc.offline.bound)
	}
	slot := map[string]int{}
	for _, b := range all {
		slot[b.name] = 0
	}
	rc.slotNames = slices.Sorted(maps.Keys(slot))
	for i, n := range rc.slotNames {
		slot[n] = i
	}
	for _, b := range all {
		b.slot = slot[b.name]
	}
}

// common compiles what every kind shares: name, sensor, severity, the
// gates (min_count, min_duration) and the levels (the override's, the
// registry's or the rule's) in up space.
func common(r *RuleSpec, o *Override, st *schemas.Station, in levelIntern) *bound {
	b := &bound{name: r.Name, sensor: r.Sensor, sev: r.Severity, minCount: r.MinCount, minDur: int64(r.MinDuration),
		neg: r.Direction == "below"}
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
	specs, own := levelSpecs(r, o, st)
	build := func() []level {
		var out []level
		for _, s := range specs {
			lv := level{thr: s.Threshold, margin: margin, name: s.Name, sev: s.Severity,
				nameVI: s.NameVI, nameEN: s.NameEN, colour: s.Colour, beaufort: s.Beaufort}
			if s.ClearMargin != nil {
				lv.margin = *s.ClearMargin
			}
			if lv.sev == "" {
				lv.sev = r.Severity
			}
			if b.neg {
				lv.thr = -lv.thr
			}
			out = append(out, lv)
		}
		return out
	}
	if own && o.ClearMargin == nil {
		b.levels = in.get(levelKey{r, "levels"}, build) // the rule's own: the same at every station
	} else {
		b.levels = build()
	}
	for _, s := range specs {
		b.wind = b.wind || s.Beaufort > 0
	}
	return b
}

// levelSpecs are the levels of r at station st: the override's, else the
// registry's (levels_from_registry, if the station has them), else the
// rule's (own: the same at every station).
func levelSpecs(r *RuleSpec, o *Override, st *schemas.Station) (specs []LevelSpec, own bool) {
	if len(o.Levels) > 0 {
		return o.Levels, false
	}
	if !r.LevelsFromRegistry || st == nil {
		return r.Levels, true
	}
	l := st.FloodDepthLevelsCM
	if r.Sensor == schemas.WaterLevel {
		l = st.AlarmLevelsM
	}
	if !l.Set() {
		return r.Levels, true
	}
	names := r.RegistryLevelNames // all three or none (validated)
	if len(names) != 3 {
		names = []string{"I", "II", "III"}
	}
	sevs := []schemas.Severity{schemas.SeverityModerate, schemas.SeveritySevere, schemas.SeverityExtreme}
	for j, v := range []float64{l.I, l.II, l.III} {
		specs = append(specs, LevelSpec{Name: names[j], NameVI: nth(r.RegistryLevelNamesVI, j), NameEN: nth(r.RegistryLevelNamesEN, j),
			Threshold: v, Severity: sevs[j]})
	}
	return specs, false
}

// nth is list[j], or "" when the list is empty (validated: all or none).
func nth(list []string, j int) string {
	if j < len(list) {
		return list[j]
	}
	return ""
}
