package rules

import (
	"fmt"
	"time"

	"github.com/resilience-project/resilience/schemas"
)

// offlineRule is the offline rule: no reading for k times the station's
// interval. Engine.Tick drives it; the station's next reading resolves it.
type offlineRule struct {
	k        float64
	interval time.Duration
}

// compileOffline binds the offline rule to stations with an interval
// (registry stations); the last offline rule of the file wins.
func compileOffline(b *bound, r *RuleSpec, st *schemas.Station, rc *ruleClass) {
	if st == nil || st.Interval <= 0 {
		return
	}
	rc.setTimed(b, &offlineRule{k: r.K, interval: st.Interval})
}

func (k *offlineRule) gradeNames() (vi, en string) {
	return "trạm mất kết nối", "station offline"
}

func (k *offlineRule) due(newest int64) int64 { return newest + int64(k.k*float64(k.interval)) }

func (k *offlineRule) overdue(newest int64) string {
	return fmt.Sprintf("no reading since %s (expected every %s)", ts2t(newest).Format(time.RFC3339), k.interval)
}

func (k *offlineRule) message(b *bound, kind schemas.AlertKind, lvl int, name string, v, thr float64) string {
	return thresholdMessage(b, string(b.sensor), kind, lvl, name, v, thr)
}
