package rules

import (
	"github.com/resilience-project/resilience/schemas"
	"github.com/resilience-project/resilience/schemas/rulespec"
)

// accumRule is an accumulation rule: the rainfall sum over window (ns),
// from the station's rainfall ring (see applyCtx.accum).
type accumRule struct {
	window int64
}

func compileAccumulation(b *bound, r *RuleSpec, _ *schemas.Station, sr *stationRules) {
	b.hazard = true
	b.label = rulespec.WindowLabel(r.Window)
	sr.keepRain(int64(r.Window))
	sr.addSampler(b, &accumRule{window: int64(r.Window)})
}

func (k *accumRule) value(x *applyCtx, h []sample, j, skip int) (float64, [2]schemas.ReadingRef, int, bool) {
	return float64(x.accum(k.window, h, j, skip)) / 100, [2]schemas.ReadingRef{ref(h[j])}, 1, true
}

func (k *accumRule) message(b *bound, kind schemas.AlertKind, lvl int, name string, v, thr float64) string {
	return thresholdMessage(b, string(b.sensor)+" total over "+b.label, kind, lvl, name, v, thr)
}
