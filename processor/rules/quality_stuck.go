package rules

import (
	"fmt"

	"github.com/resilience-project/resilience/schemas"
)

// stuckRule is a quality check: count identical consecutive readings make
// the sensor stuck. Its value is the run of identical readings.
type stuckRule struct {
	count int
}

func compileStuck(b *bound, r *RuleSpec, _ *schemas.Station, rc *ruleClass) {
	b.levels = rc.intern.get(levelKey{r, "stuck"}, func() []level {
		return []level{{thr: float64(r.Count), name: "stuck", nameVI: "cảm biến kẹt giá trị", nameEN: "sensor stuck", sev: r.Severity}}
	})
	k := &stuckRule{count: r.Count}
	rc.addCheck(r.Sensor, k)
	rc.addSampler(b, k)
}

func (k *stuckRule) suspect(h []sample, j int) bool { return int(h[j].Run) >= k.count }

func (k *stuckRule) value(_ *State, _ *rainSums, h []sample, j, _ int) (float64, [2]schemas.ReadingRef, int, bool) {
	return float64(h[j].Run), [2]schemas.ReadingRef{ref(h[j])}, 1, true
}

func (k *stuckRule) message(b *bound, kind schemas.AlertKind, _ int, _ string, v, _ float64) string {
	return fmt.Sprintf("%s %s: sensor %s repeated the same value %g times", b.name, kind, b.sensor, v)
}
