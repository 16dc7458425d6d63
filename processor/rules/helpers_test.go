package rules

import (
	"testing"
	"time"

	"github.com/resilience-project/resilience/schemas"
)

var t0 = time.Date(2023, 10, 14, 0, 0, 0, 0, time.UTC)

func testRegistry(t testing.TB) *schemas.Registry {
	t.Helper()
	reg, err := schemas.LoadRegistry("testdata/stations.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func mustEngine(t testing.TB, set *RuleSet) *Engine {
	t.Helper()
	if set == nil {
		set = DefaultRuleSet()
	}
	e, err := NewEngine(set, testRegistry(t))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func mustParse(t testing.TB, y string) *RuleSet {
	t.Helper()
	rs, err := ParseRuleSet([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// mk builds a one-measurement record at t0 + min minutes with seq = index.
func mk(station string, seq uint64, min float64, sensor schemas.Sensor, v float64) *schemas.Record {
	return &schemas.Record{V: 1, Station: station, Seq: seq, TS: t0.Add(time.Duration(min * float64(time.Minute))),
		Readings: []schemas.Measurement{{Sensor: sensor, Value: v}}}
}

// series builds records every step minutes from values.
func series(station string, sensor schemas.Sensor, step float64, values ...float64) []*schemas.Record {
	out := make([]*schemas.Record, len(values))
	for i, v := range values {
		out[i] = mk(station, uint64(i+1), float64(i)*step, sensor, v)
	}
	return out
}

func applyAll(e *Engine, st *State, recs []*schemas.Record) []schemas.AlertEvent {
	var evs []schemas.AlertEvent
	for _, r := range recs {
		evs = append(evs, e.Apply(st, r).Events...)
	}
	return evs
}

// brief renders events as "kind:level" for table assertions.
func brief(evs []schemas.AlertEvent, rule string) []string {
	var out []string
	for _, ev := range evs {
		if rule == "" || ev.Rule == rule {
			out = append(out, string(ev.Kind)+":"+itoa(ev.Level))
		}
	}
	return out
}

func itoa(i int) string { return string(rune('0' + i)) }

func eq(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func f64(v float64) *float64 { return &v }
