package rules

import (
	"github.com/resilience-project/resilience/schemas"
	"github.com/resilience-project/resilience/schemas/rulespec"
)

// accumRule is an accumulation rule: the rainfall sum over window (ns),
// from the station's rainfall ring (see rainSums.rainfall); counter: the
// station reports a running counter.
type accumRule struct {
	window  int64
	counter bool
}

func compileAccumulation(b *bound, r *RuleSpec, st *schemas.Station, rc *ruleClass) {
	b.hazard = true
	b.label = rulespec.WindowLabel(r.Window)
	rc.keepRain(int64(r.Window))
	rc.addSampler(b, &accumRule{window: int64(r.Window), counter: st != nil && st.RainCounter})
}

func (k *accumRule) value(st *State, sums *rainSums, h []sample, j, skip int) (float64, [2]schemas.ReadingRef, int, bool) {
	return float64(sums.rainfall(st, k.window, k.counter, h, j, skip)) / 100, [2]schemas.ReadingRef{ref(h[j])}, 1, true
}

func (k *accumRule) message(b *bound, kind schemas.AlertKind, lvl int, name string, v, thr float64) string {
	return thresholdMessage(b, string(b.sensor)+" total over "+b.label, kind, lvl, name, v, thr)
}
