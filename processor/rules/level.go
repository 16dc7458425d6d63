package rules

import "github.com/resilience-project/resilience/schemas"

// levelRule is a level rule: the reading itself against the levels.
type levelRule struct{}

func compileLevel(b *bound, _ *RuleSpec, _ *schemas.Station, rc *ruleClass) {
	b.hazard = true
	rc.addSampler(b, levelRule{})
}

func (levelRule) value(_ *State, _ *rainSums, h []sample, j, _ int) (float64, [2]schemas.ReadingRef, int, bool) {
	return h[j].V, [2]schemas.ReadingRef{ref(h[j])}, 1, true
}

func (levelRule) message(b *bound, kind schemas.AlertKind, lvl int, name string, v, thr float64) string {
	return thresholdMessage(b, string(b.sensor), kind, lvl, name, v, thr)
}

// annotate sets the time to the next level at the value's current rate
// (over the last hour) while it rises (direction above only; not when
// the alert falls).
func (levelRule) annotate(st *State, b *bound, ev *schemas.AlertEvent) {
	if b.neg || ev.Level >= len(b.levels) || ev.Kind == schemas.AlertDeescalated {
		return
	}
	r := lastRef(ev)
	if rate, ok := trend(st, b.sensor, r.TS.UnixNano()); ok {
		ev.TimeToNext = timeTo(b.levels[ev.Level].thr, r.Value, rate)
	}
}
