package store

import (
	"sort"

	"github.com/resilience-project/resilience/schemas"
)

// MaxReadings bounds one alert's Readings (the oldest go first).
const MaxReadings = 50

// peak folds an event's level, value and readings into a's peak and
// readings (order-independent: a replayed or late event gives the same
// result).
func peak(a *Alert, e schemas.AlertEvent) {
	unset := a.PeakLevel == 0 && a.PeakValue == 0
	if e.Kind != schemas.AlertResolved && (unset || e.Level > a.PeakLevel || e.Level == a.PeakLevel && e.Value > a.PeakValue) {
		a.PeakLevel, a.PeakValue = e.Level, e.Value
	}
	a.Readings = mergeReadings(a.Readings, e.Readings)
}

// mergeReadings adds add to have (sorted by time, then seq), without
// duplicates (same seq and time), keeping the newest MaxReadings.
func mergeReadings(have, add []schemas.ReadingRef) []schemas.ReadingRef {
	for _, r := range add {
		i := sort.Search(len(have), func(i int) bool {
			h := have[i]
			return h.TS.After(r.TS) || h.TS.Equal(r.TS) && h.Seq >= r.Seq
		})
		if i < len(have) && have[i].Seq == r.Seq && have[i].TS.Equal(r.TS) {
			continue
		}
		have = append(have, schemas.ReadingRef{})
		copy(have[i+1:], have[i:])
		have[i] = r
	}
	if n := len(have) - MaxReadings; n > 0 {
		have = append(have[:0], have[n:]...)
	}
	return have
}
