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
	tests := []struct {
		cycle, high int
		n           uint64
	}{
		{20, 3, 100},
		{5, 1, 40},
		{4, 3, 40},
	}
	for _, tc := range tests {
		p := pattern{Cycle: tc.cycle, High: tc.high}
		reg, err := schemas.ParseRegistry([]byte(registryYAML([]string{"LT-00001"})))
		if err != nil {
			t.Fatal(err)
		}
		eng, err := rules.NewEngine(rules.DefaultRuleSet(), reg)
		if err != nil {
			t.Fatal(err)
		}
		st := eng.NewState("LT-00001")
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		fired, resolved := map[uint64]uint64{}, 0
		var other []string
		for seq := uint64(1); seq <= tc.n; seq++ {
			rec := &schemas.Record{V: 1, Station: "LT-00001", Seq: seq, TS: t0.Add(time.Duration(seq) * 200 * time.Millisecond),
				Readings: []schemas.Measurement{{Sensor: schemas.WaterLevel, Value: p.level(seq), Unit: "m"}}}
			res := eng.Apply(st, rec)
			for _, ev := range res.Events {
				switch {
				case ev.Rule == measuredRule && ev.Kind == schemas.AlertFired:
					if ev.Level != 2 {
						t.Errorf("cycle %d high %d seq %d: fired level %d, want 2", tc.cycle, tc.high, seq, ev.Level)
					}
					fired[p.cycle(seq)] = ev.Readings[len(ev.Readings)-1].Seq
				case ev.Rule == measuredRule && ev.Kind == schemas.AlertResolved:
					resolved++
				case strings.HasPrefix(ev.Rule, "quality"):
					other = append(other, ev.Rule+" "+string(ev.Kind))
				}
			}
		}
		// n is a whole number of cycles: the last one ends high, unresolved.
		cycles := int(tc.n) / tc.cycle
		if len(fired) != cycles || resolved != cycles-1 {
			t.Errorf("cycle %d high %d: %d cycles fired, %d resolved; want %d and %d", tc.cycle, tc.high, len(fired), resolved, cycles, cycles-1)
		}
		for c, seq := range fired {
			if !p.high(seq) || p.cycle(seq) != c || (seq-1)%uint64(tc.cycle) != uint64(tc.cycle-tc.high) {
				t.Errorf("cycle %d fired on seq %d, want the cycle's first high reading", c, seq)
			}
		}
		if len(other) > 0 {
			t.Errorf("cycle %d high %d: quality events %v", tc.cycle, tc.high, other)
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

func TestParseMetrics(t *testing.T) {
	text := `# HELP resilience_processor_records_total Records processed.
# TYPE resilience_processor_records_total counter
resilience_processor_records_total{outcome="ok"} 1200
resilience_processor_records_total{outcome="unknown_station"} 7
resilience_processor_records_total{outcome="late"} 3 1700000000000
resilience_embedded_mqtt_dropped_total 0
weird{l="a b}"} 2.5e+01
`
	m, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		except []string
		want   float64
	}{
		{"resilience_processor_records_total", nil, 1210},
		{"resilience_processor_records_total", []string{`outcome="unknown_station"`}, 1203},
		{"resilience_embedded_mqtt_dropped_total", nil, 0},
		{"weird", nil, 25},
		{"absent", nil, 0},
	}
	for _, tc := range tests {
		if got := m.sum(tc.name, tc.except...); got != tc.want {
			t.Errorf("sum(%s, %v) = %v, want %v", tc.name, tc.except, got, tc.want)
		}
	}
	if got := m.get("resilience_processor_records_total", `outcome="late"`); got != 3 {
		t.Errorf("late = %v, want 3", got)
	}
}
