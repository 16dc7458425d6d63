package rules

import (
	"strings"
	"testing"
)

func TestCompositeScopeValidation(t *testing.T) {
	base := "rules:\n  - {kind: level, sensor: water_level, levels_from_registry: true}\n  - {kind: rate, sensor: water_level, window: 1h, levels: [{threshold: 0.3}]}\n"
	tests := []struct {
		name, rule string
		errKey     string // "" = valid
	}{
		{"basin with one operand", "  - {name: b, kind: composite, scope: basin, op: or, of: [{rule: level:water_level, min_level: 2, min_stations: 2}]}\n", ""},
		{"basin and", "  - {name: b, kind: composite, scope: basin, op: and, of: [{rule: level:water_level}, {rule: rate:water_level}], basins: [han]}\n", ""},
		{"unknown scope", "  - {name: b, kind: composite, scope: city, op: or, of: [{rule: level:water_level}, {rule: rate:water_level}]}\n", "rules[2].scope"},
		{"min_stations on a station composite", "  - {name: b, kind: composite, op: or, of: [{rule: level:water_level, min_stations: 2}, {rule: rate:water_level}]}\n", "rules[2].of[0].min_stations"},
		{"negative min_stations", "  - {name: b, kind: composite, scope: basin, op: or, of: [{rule: level:water_level, min_stations: -1}]}\n", "rules[2].of[0].min_stations"},
		{"basins on a station composite", "  - {name: b, kind: composite, op: or, basins: [han], of: [{rule: level:water_level}, {rule: rate:water_level}]}\n", "rules[2].basins"},
		{"stations on a basin composite", "  - {name: b, kind: composite, scope: basin, op: or, stations: [X], of: [{rule: level:water_level}]}\n", "rules[2].stations"},
		{"basin operand unknown", "  - {name: b, kind: composite, scope: basin, op: or, of: [{rule: nope}]}\n", "rules[2].of[0].rule"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := ParseRuleSet([]byte(base + tt.rule))
			if tt.errKey == "" {
				if err != nil {
					t.Fatalf("valid rules refused: %v", err)
				}
				if b := set.BasinRules(); len(b) != 1 || b[0].Of[0].MinStations < 1 {
					t.Fatalf("BasinRules() = %+v", b)
				}
				// The station engine does not evaluate basin rules.
				e := mustEngine(t, set)
				if evs := applyAll(e, e.NewState("VG-AINGHIA"), series("VG-AINGHIA", "water_level", 10, 6.0, 8.5, 9.2)); len(evs) == 0 {
					t.Fatal("level rule did not fire")
				} else {
					for _, ev := range evs {
						if ev.Rule == "b" {
							t.Fatalf("the station engine evaluated a basin rule: %+v", ev)
						}
					}
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.errKey) {
				t.Fatalf("error %v, want one naming %s", err, tt.errKey)
			}
		})
	}
}
