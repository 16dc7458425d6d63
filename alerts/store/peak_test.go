package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/resilience-project/resilience/schemas"
)

// The peak level and value and the readings do not depend on the order
// the events arrive in; the resolved event (level 0) does not lower the
// peak; readings are deduplicated and bounded.
func TestPeakAndReadings(t *testing.T) {
	t0 := time.Date(2026, 10, 28, 3, 0, 0, 0, time.UTC)
	id := schemas.AlertID("VG-AINGHIA", "level:water_level", t0)
	ev := func(kind schemas.AlertKind, level int, v float64, at time.Duration, seqs ...uint64) schemas.AlertEvent {
		e := schemas.AlertEvent{V: 1, ID: id, EventID: schemas.EventID(id, kind, level, t0.Add(at)), Kind: kind, Station: "VG-AINGHIA",
			Rule: "level:water_level", Level: level, Value: v, StartedAt: t0, At: t0.Add(at)}
		for _, s := range seqs {
			e.Readings = append(e.Readings, schemas.ReadingRef{Seq: s, TS: t0.Add(time.Duration(s) * time.Minute), Value: float64(s)})
		}
		return e
	}
	evs := []schemas.AlertEvent{
		ev(schemas.AlertFired, 1, 6.8, 0, 1, 2),
		ev(schemas.AlertEscalated, 3, 9.4, time.Hour, 2, 3),
		ev(schemas.AlertDeescalated, 2, 8.6, 2*time.Hour, 4),
		ev(schemas.AlertResolved, 0, 6.0, 3*time.Hour, 5),
	}
	for _, order := range [][]int{{0, 1, 2, 3}, {3, 2, 1, 0}, {2, 0, 3, 1}} {
		s := New()
		for _, i := range order {
			s.Apply(evs[i])
		}
		s.Apply(evs[order[0]]) // a replay changes nothing
		a, _ := s.Get(id)
		if a.PeakLevel != 3 || a.PeakValue != 9.4 {
			t.Errorf("order %v: peak %d %v, want 3 9.4", order, a.PeakLevel, a.PeakValue)
		}
		if got := fmt.Sprint(a.Readings); got != fmt.Sprint(mergeReadings(nil, []schemas.ReadingRef{
			{Seq: 1, TS: t0.Add(time.Minute), Value: 1}, {Seq: 2, TS: t0.Add(2 * time.Minute), Value: 2},
			{Seq: 3, TS: t0.Add(3 * time.Minute), Value: 3}, {Seq: 4, TS: t0.Add(4 * time.Minute), Value: 4},
			{Seq: 5, TS: t0.Add(5 * time.Minute), Value: 5}})) || len(a.Readings) != 5 {
			t.Errorf("order %v: readings %v, want seqs 1..5 once each, by time", order, a.Readings)
		}
	}
	var many []schemas.ReadingRef
	for i := range MaxReadings + 10 {
		many = append(many, schemas.ReadingRef{Seq: uint64(i), TS: t0.Add(time.Duration(i) * time.Second)})
	}
	got := mergeReadings(nil, many)
	if len(got) != MaxReadings || got[0].Seq != 10 || got[len(got)-1].Seq != MaxReadings+9 {
		t.Errorf("bounded readings: %d from seq %d, want the newest %d", len(got), got[0].Seq, MaxReadings)
	}
}
