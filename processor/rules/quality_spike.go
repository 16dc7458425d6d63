package rules

import (
	"fmt"
	"math"

	"github.com/resilience-project/resilience/schemas"
)

// spikeRule is a quality check: a jump of maxJump or more from the
// previous reading. Its value is the jump.
type spikeRule struct {
	maxJump float64
}

func compileSpike(b *bound, r *RuleSpec, _ *schemas.Station, rc *ruleClass) {
	b.levels = rc.intern.get(levelKey{r, "spike"}, func() []level {
		return []level{{thr: r.MaxJump, name: "spike", nameVI: "cảm biến nhảy giá trị", nameEN: "sensor spike", sev: r.Severity}}
	})
	k := &spikeRule{maxJump: r.MaxJump}
	rc.addCheck(r.Sensor, k)
	rc.addSampler(b, k)
}

func (k *spikeRule) suspect(h []sample, j int) bool {
	return j > 0 && math.Abs(h[j].V-h[j-1].V) >= k.maxJump
}

func (k *spikeRule) value(_ *State, _ *rainSums, h []sample, j, skip int) (float64, [2]schemas.ReadingRef, int, bool) {
	p := j - 1
	if p == skip {
		p--
	}
	if p < 0 {
		return 0, [2]schemas.ReadingRef{ref(h[j])}, 0, false
	}
	return math.Abs(h[j].V - h[p].V), [2]schemas.ReadingRef{ref(h[p]), ref(h[j])}, 2, true
}

func (k *spikeRule) message(b *bound, kind schemas.AlertKind, _ int, _ string, v, thr float64) string {
	return fmt.Sprintf("%s %s: sensor %s jumped by %g (max %g)", b.name, kind, b.sensor, v, thr)
}
