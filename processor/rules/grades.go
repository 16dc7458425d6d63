package rules

import (
	"sort"
	"time"

	"github.com/resilience-project/resilience/schemas"
)

// What events carry for their readers beyond the level: the Beaufort
// number of a wind value and the time to the next grade of a rising
// hazard.

// beaufortFrom are the lower bounds (m/s) of Beaufort numbers 1..17
// (WMO; 12-17 as Vietnam extends the scale, Decision 18/2021/QĐ-TTg).
var beaufortFrom = [...]float64{0.3, 1.6, 3.4, 5.5, 8.0, 10.8, 13.9, 17.2, 20.8, 24.5, 28.5, 32.7, 37.0, 41.5, 46.2, 51.0, 56.1}

// beaufort is the Beaufort number of wind speed v (m/s).
func beaufort(v float64) int {
	n := 0
	for _, b := range beaufortFrom {
		if v >= b {
			n++
		}
	}
	return n
}

// trendSpan is how far back the current rate of a level rule's value is
// measured for its time to the next grade.
const trendSpan = int64(time.Hour)

// at returns the index of the sample of h at ts.
func at(h []sample, ts int64) (int, bool) {
	i := sort.Search(len(h), func(i int) bool { return h[i].TS >= ts })
	return i, i < len(h) && h[i].TS == ts
}

// trend is the rate per hour of sensor k at the sample at ts: from the
// oldest good sample within trendSpan before it; ok is false without one.
func trend(st *State, k schemas.Sensor, ts int64) (float64, bool) {
	ss := st.sensorOf(k)
	if ss == nil {
		return 0, false
	}
	j, ok := at(ss.Hist, ts)
	if !ok {
		return 0, false
	}
	h := ss.Hist
	for i := sort.Search(j, func(i int) bool { return h[i].TS >= ts-trendSpan }); i < j; i++ {
		if h[i].Q != int8(QualitySuspect) {
			return (h[j].V - h[i].V) / (float64(h[j].TS-h[i].TS) / float64(time.Hour)), true
		}
	}
	return 0, false
}

// timeTo is the seconds until value v, rising at rate per hour, reaches
// next; 0 when it is not rising or already there.
func timeTo(next, v, rate float64) float64 {
	if !(rate > 0) || !(next > v) {
		return 0
	}
	return (next - v) / rate * 3600
}

// lastRef is the reading that caused ev.
func lastRef(ev *schemas.AlertEvent) schemas.ReadingRef { return ev.Readings[len(ev.Readings)-1] }
