package rules

import (
	"fmt"

	"github.com/resilience-project/resilience/schemas"
)

// Each rule kind is one evaluator type in its own file (level.go, rate.go,
// accumulation.go, offline.go, quality_stuck.go, quality_spike.go,
// composite.go) and one entry of the kinds table below. Its compile
// function gives the compiled rule its role on the station through the
// ruleClass methods at the end of this file: driven by its sensor's
// readings (a sampler, maybe also a checker), derived from other rules (a
// deriver) or driven by the processor's clock (a timer). The engine calls
// only these interfaces; it never switches on kind.

// evaluator is what every kind's compiled rule can do: describe an event.
type evaluator interface {
	// message is the text of event kind of rule b moving to level lvl
	// (level name name, threshold thr, both as in the event) at value v.
	message(b *bound, kind schemas.AlertKind, lvl int, name string, v, thr float64) string
}

// sampler is a rule driven by its sensor's readings.
type sampler interface {
	evaluator
	// value is the watched value at sample j of the sensor's history h,
	// as if sample skip (-1: none) were absent, and the readings it
	// derives from (refs[:nref]); ok is false where the rule has no value
	// (e.g. a rate without a reading old enough). st is the station's
	// state (its rainfall ring; work is counted in st.steps), sums the
	// rolling-rain caches of this Apply.
	value(st *State, sums *rainSums, h []sample, j, skip int) (v float64, refs [2]schemas.ReadingRef, nref int, ok bool)
}

// annotator is an evaluator that adds what its readers need to an event
// at a level (not resolved events) with readings: the time to the next
// grade, a time-to-failure estimate, a fuller message. It reads the
// station's state as it is when the event is emitted (deterministic for a
// given sequence of records) and must not change it. The event's last
// reading is the one that caused it.
type annotator interface {
	annotate(st *State, b *bound, ev *schemas.AlertEvent)
}

// namer is an evaluator without levels (offline) that still names its one
// grade in Vietnamese and English.
type namer interface {
	gradeNames() (vi, en string)
}

// checker is a quality check on a sensor's readings.
type checker interface {
	// suspect reports whether sample j of history h is suspect.
	suspect(h []sample, j int) bool
}

// deriver is a rule over the alert levels of the station's other rules.
type deriver interface {
	evaluator
	// holds reports whether the condition holds for the rules' states.
	holds(st *State) bool
}

// timer is a rule driven by the processor's clock.
type timer interface {
	evaluator
	// due is the moment the rule fires, given the newest reading's time.
	due(newest int64) int64
	// overdue is the message of the event fired at due.
	overdue(newest int64) string
}

// A compiled rule in its role: the common part and the kind's evaluator.
type (
	sensorRule struct {
		*bound
		sampler
		// loc, traced: the sampler as a traceable kind (traceable);
		// shr: as a shifter, or nil. Resolved once at compile time: the
		// traced paths ask for every late reading.
		loc    local
		traced bool
		shr    shifter
	}
	derivedRule struct {
		*bound
		deriver
	}
	timedRule struct {
		*bound
		timer
	}
)

// compileFunc compiles rule r (defaults filled in), whose common part is
// b, for station st (nil outside the registry) and adds it to rc.
type compileFunc func(b *bound, r *RuleSpec, st *schemas.Station, rc *ruleClass)

// kinds maps every rule kind of the rules file to its compile function.
// It is never modified. Validation (package rulespec) guarantees that a
// compiled rule set has only these kinds.
var kinds = map[string]compileFunc{
	KindLevel:        compileLevel,
	KindRate:         compileRate,
	KindAccumulation: compileAccumulation,
	KindOffline:      compileOffline,
	KindQuality:      compileQuality,
	KindComposite:    compileComposite,
	KindLandslide:    compileLandslide,
	KindRisk:         compileRisk,
}

// qualityChecks maps a quality rule's check to its compile function. It is
// never modified.
var qualityChecks = map[string]compileFunc{
	CheckStuck: compileStuck,
	CheckSpike: compileSpike,
}

func compileQuality(b *bound, r *RuleSpec, st *schemas.Station, rc *ruleClass) {
	qualityChecks[r.Check](b, r, st, rc)
}

// addSampler makes b, evaluated by s, a rule of its sensor's readings,
// unless it has no levels at this station (e.g. registry levels missing).
func (rc *ruleClass) addSampler(b *bound, s sampler) {
	if len(b.levels) == 0 {
		return
	}
	b.evSensor = b.sensor
	r := sensorRule{bound: b, sampler: s}
	r.loc, r.traced = traceableKind(b, s)
	r.shr, _ = s.(shifter)
	rc.bySensor[b.sensor] = append(rc.bySensor[b.sensor], r)
}

// addCheck makes c a quality check of sensor's readings.
func (rc *ruleClass) addCheck(sensor schemas.Sensor, c checker) {
	rc.quality[sensor] = append(rc.quality[sensor], c)
}

// addDerived makes b, evaluated by d, a rule evaluated after every record.
func (rc *ruleClass) addDerived(b *bound, d deriver) {
	rc.composites = append(rc.composites, derivedRule{b, d})
}

// setTimed makes b, evaluated by t, the station's clock-driven rule.
func (rc *ruleClass) setTimed(b *bound, t timer) { rc.offline = &timedRule{b, t} }

// watchContext keeps the history of sensor k, which a rule driven by
// another sensor's readings consults (a landslide rule's soil moisture).
func (rc *ruleClass) watchContext(k schemas.Sensor) {
	if rc.context == nil {
		rc.context = map[schemas.Sensor]bool{}
	}
	rc.context[k] = true
}

// keepHistory makes the sensor histories reach d (ns) behind the newest
// reading.
func (rc *ruleClass) keepHistory(d int64) { rc.keep = max(rc.keep, d) }

// keepRain makes the station keep rainfall buckets for a window of d (ns).
func (rc *ruleClass) keepRain(d int64) { rc.rainWindow = max(rc.rainWindow, d) }

// thresholdMessage is the message of a rule that watches what against
// levels: "NAME fired: WHAT 9.1 reached BĐ III (9)" or "... back below".
func thresholdMessage(b *bound, what string, kind schemas.AlertKind, lvl int, name string, v, thr float64) string {
	if lvl == 0 {
		return fmt.Sprintf("%s %s: %s %g back below %g", b.name, kind, what, v, thr)
	}
	return fmt.Sprintf("%s %s: %s %g reached %s (%g)", b.name, kind, what, v, name, thr)
}

// ref is the reading reference of sample s.
func ref(s sample) schemas.ReadingRef {
	return schemas.ReadingRef{Seq: s.Seq, TS: ts2t(s.TS), Value: s.V}
}
