package main

import (
	"strings"
	"testing"
	"time"

	"github.com/resilience-project/resilience/processor/rules"
	"github.com/resilience-project/resilience/schemas"
)

// TestPatternAgainstDefaultRules checks the simulated series against the
// built-in rules: every cycle's high readings fire level:water_level at
// level II and the next normal reading resolves it; the jump is no spike
// and the variation never makes a stuck run.
func TestPatternAgainstDefaultRules(t *testing.T) {
	ids := stationIDs(4)
	reg, err := schemas.ParseRegistry([]byte(registryYAML(ids)))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		cycle, high int
		n           uint64
	}{
		{20, 3, 100},
		{5, 1, 41},
		{4, 3, 40},
		{2, 1, 9},
	}
	for _, tc := range tests {
		p := newPattern(tc.cycle, tc.high, ids)
		eng, err := rules.NewEngine(rules.DefaultRuleSet(), reg)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			st := eng.NewState(id)
			t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			fired := map[uint64]uint64{} // cycle -> seq that fired it
			wantFired := map[uint64]bool{}
			resolved := 0
			var other []string
			for seq := uint64(1); seq <= tc.n; seq++ {
				if p.high(id, seq) {
					wantFired[p.cycle(id, seq)] = true
				}
				rec := &schemas.Record{V: 1, Station: id, Seq: seq, TS: t0.Add(time.Duration(seq) * 200 * time.Millisecond),
					Readings: []schemas.Measurement{{Sensor: schemas.WaterLevel, Value: p.level(id, seq), Unit: "m"}}}
				for _, ev := range eng.Apply(st, rec).Events {
					switch {
					case ev.Rule == measuredRule && ev.Kind == schemas.AlertFired:
						if ev.Level != 2 {
							t.Errorf("%s cycle %d high %d seq %d: fired level %d, want 2", id, tc.cycle, tc.high, seq, ev.Level)
						}
						fired[p.cycle(id, seq)] = ev.Readings[len(ev.Readings)-1].Seq
					case ev.Rule == measuredRule && ev.Kind == schemas.AlertResolved:
						resolved++
					case strings.HasPrefix(ev.Rule, "quality"):
						other = append(other, ev.Rule+" "+string(ev.Kind))
					}
				}
			}
			// Every cycle with a high reading fires once, on its first high
			// reading, and resolves unless the series ends high.
			wantResolved := len(wantFired)
			if p.high(id, tc.n) {
				wantResolved--
			}
			if len(fired) != len(wantFired) || resolved != wantResolved {
				t.Errorf("%s cycle %d high %d: %d cycles fired, %d resolved; want %d and %d",
					id, tc.cycle, tc.high, len(fired), resolved, len(wantFired), wantResolved)
			}
			for c, seq := range fired {
				if !wantFired[c] || !p.high(id, seq) || p.cycle(id, seq) != c || (seq > 1 && p.high(id, seq-1) && p.cycle(id, seq-1) == c) {
					t.Errorf("%s cycle %d fired on seq %d, want the cycle's first high reading", id, c, seq)
				}
			}
			if len(other) > 0 {
				t.Errorf("%s cycle %d high %d: quality events %v", id, tc.cycle, tc.high, other)
			}
		}
	}
}

func TestPercentile(t *testing.T) {
	d := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	tests := []struct {
		q    float64
		want time.Duration
	}{{0.5, 5}, {0.9, 9}, {0.99, 10}, {1, 10}, {0.01, 1}}
	for _, tc := range tests {
		if got := percentile(d, tc.q); got != tc.want {
			t.Errorf("percentile(1..10, %v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("percentile(nil) = %v, want 0", got)
	}
}
