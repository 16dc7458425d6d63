package rules

import (
	"fmt"
	"time"

	"github.com/resilience-project/resilience/schemas"
	"github.com/resilience-project/resilience/schemas/rulespec"
)

const day = int64(24 * time.Hour)

// riskRule is a risk rule: the official risk level of the station's rain
// (rulespec.RiskTable) in its hazard zone, at each rainfall reading, from
// the rolling sums of the last 24 h and of the two days before.
type riskRule struct {
	table   *rulespec.RiskTable
	zone    int
	counter bool
}

func compileRisk(b *bound, r *RuleSpec, st *schemas.Station, rc *ruleClass) {
	if st == nil || st.HazardZone < 1 {
		return // no hazard zone: the table does not apply
	}
	b.hazard = true
	b.label = "24h"
	rc.keepRain(3 * day)
	rc.addSampler(b, &riskRule{table: r.Risk, zone: st.HazardZone, counter: st.RainCounter})
}

// rains are the rain (mm) of the last 24 h and of the two days before.
func (k *riskRule) rains(st *State, sums *rainSums, h []sample, j, skip int) (r24, d1, d2 float64) {
	s1 := sums.rainfall(st, day, k.counter, h, j, skip)
	s2 := sums.rainfall(st, 2*day, k.counter, h, j, skip)
	s3 := sums.rainfall(st, 3*day, k.counter, h, j, skip)
	return float64(s1) / 100, float64(s2-s1) / 100, float64(s3-s2) / 100
}

// long: rain for more than 2 days (each day before the last 24 h rainy).
func (k *riskRule) long(d1, d2 float64) bool {
	return d1 >= k.table.RainyDayMM && d2 >= k.table.RainyDayMM
}

// level is the table's risk level.
func (k *riskRule) level(r24, d1, d2 float64) int {
	band := 0
	for _, b := range k.table.BandsMM {
		if r24 >= b {
			band++
		}
	}
	if band == 0 {
		return 0
	}
	rows := k.table.Short
	if k.long(d1, d2) {
		rows = k.table.Long
	}
	return rows[band-1][k.zone-1]
}

func (k *riskRule) value(st *State, sums *rainSums, h []sample, j, skip int) (float64, [2]schemas.ReadingRef, int, bool) {
	return float64(k.level(k.rains(st, sums, h, j, skip))), [2]schemas.ReadingRef{ref(h[j])}, 1, true
}

func (k *riskRule) message(b *bound, kind schemas.AlertKind, lvl int, name string, _, _ float64) string {
	return gradeMessage(b, kind, lvl, name)
}

// annotate states the rain that made the level, with its colour and the
// table's source.
func (k *riskRule) annotate(st *State, _ *bound, ev *schemas.AlertEvent) {
	ss := st.sensorOf(schemas.Rainfall)
	if ss == nil {
		return
	}
	j, ok := at(ss.Hist, lastRef(ev).TS.UnixNano())
	if !ok {
		return
	}
	sums := &rainSums{}
	r24, d1, d2 := k.rains(st, sums, ss.Hist, j, -1)
	dur := "1-2 days"
	if k.long(d1, d2) {
		dur = "more than 2 days"
	}
	ev.Message += fmt.Sprintf(" (%s): rain %.1f mm in 24 h, for %s (%.1f and %.1f mm the days before), hazard zone %d; table: %s",
		ev.Colour, r24, dur, d1, d2, k.zone, k.table.Source)
}
