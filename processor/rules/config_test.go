package rules

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseRuleSetErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"negative clear margin names the key", `
rules:
  - {kind: offline}
  - {kind: quality, check: spike, sensor: tilt, max_jump: 1}
  - kind: level
    sensor: water_level
    levels:
      - {threshold: 1}
      - {threshold: 2, clear_margin: -0.1}
`, "rules[2].levels[1].clear_margin: must be >= 0"},
		{"unknown key", "rules:\n  - {kind: offline, kk: 3}\n", "field kk not found"},
		{"unknown kind", "rules:\n  - {kind: flood}\n", "rules[0].kind: must be one of"},
		{"unknown sensor", "rules:\n  - {kind: level, sensor: humidity, levels: [{threshold: 1}]}\n", `rules[0].sensor: unknown sensor kind "humidity"`},
		{"levels not rising", "rules:\n  - {kind: level, sensor: water_level, levels: [{threshold: 2}, {threshold: 1}]}\n", "rules[0].levels[1].threshold: 1 must be above level 1's 2"},
		{"levels below not falling", "rules:\n  - {kind: level, sensor: soil_moisture, direction: below, levels: [{threshold: 1}, {threshold: 2}]}\n", "rules[0].levels[1].threshold: 2 must be below"},
		{"no levels", "rules:\n  - {kind: level, sensor: water_level}\n", "rules[0].levels: at least one level"},
		{"registry levels for tilt", "rules:\n  - {kind: level, sensor: tilt, levels_from_registry: true}\n", "rules[0].levels_from_registry"},
		{"bad severity", "rules:\n  - {kind: offline, severity: Huge}\n", `rules[0].severity: "Huge"`},
		{"window not multiple of bucket", "bucket: 10m\nrules:\n  - {kind: accumulation, sensor: rainfall, window: 25m, levels: [{threshold: 1}]}\n", "rules[0].window: 25m0s must be a multiple of bucket"},
		{"accumulation window too long", "rules:\n  - {kind: accumulation, sensor: rainfall, window: 96h, levels: [{threshold: 1}]}\n", "rules[0].window: must be in (0, 72h]"},
		{"accumulation of water", "rules:\n  - {kind: accumulation, sensor: water_level, window: 1h, levels: [{threshold: 1}]}\n", "rules[0].sensor: accumulation supports rainfall only"},
		{"rate without window", "rules:\n  - {kind: rate, sensor: water_level, levels: [{threshold: 0.3}]}\n", "rules[0].window"},
		{"rate threshold zero", "rules:\n  - {kind: rate, sensor: water_level, window: 1h, levels: [{threshold: 0}]}\n", "rules[0].levels[0].threshold: a rate threshold must be > 0"},
		{"duplicate names", "rules:\n  - {kind: offline}\n  - {kind: offline}\n", `rules[1].name: duplicate rule name "offline" (also rules[0])`},
		{"stuck count", "rules:\n  - {kind: quality, check: stuck, sensor: tilt, count: 1}\n", "rules[0].count: must be in [2, 1000]"},
		{"composite unknown operand", "rules:\n  - {kind: offline}\n  - {name: c, kind: composite, op: and, of: [{rule: offline}, {rule: nope}]}\n", `rules[1].of[1].rule: unknown rule "nope"`},
		{"composite unnamed", "rules:\n  - {kind: offline}\n  - {kind: composite, op: or, of: [{rule: offline}, {rule: offline}]}\n", "rules[1].name: a composite rule must be named"},
		{"override bad station", "rules:\n  - kind: level\n    sensor: water_level\n    levels: [{threshold: 1}]\n    overrides:\n      'bad id': {clear_margin: 1}\n", `rules[0].overrides.bad id: "bad id" is not a valid station id`},
		{"override margin", "rules:\n  - kind: level\n    sensor: water_level\n    levels: [{threshold: 1}]\n    overrides:\n      X1: {clear_margin: -1}\n", "rules[0].overrides.X1.clear_margin: must be >= 0"},
		{"lateness", "allowed_lateness: -1m\nrules:\n  - {kind: offline}\n", "allowed_lateness: must be in (0, 24h]"},
		{"empty", "rules: []\n", "rules: at least one rule is required"},
		{"offline k NaN", "rules:\n  - {kind: offline, k: .nan}\n", "rules[0].k: must be in [1, 1000]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRuleSet([]byte(tc.yaml))
			if err == nil {
				t.Fatalf("want error containing %q", tc.want)
			}
			if !errors.Is(err, ErrInvalidRules) {
				t.Errorf("error does not wrap ErrInvalidRules: %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	_, err := ParseRuleSet([]byte("rules:\n  - {kind: offline, k: 0.5}\n  - {kind: level, sensor: nope}\n"))
	for _, want := range []string{"rules[0].k", "rules[1].sensor", "rules[1].levels"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
}

func TestExampleFileMatchesDefaults(t *testing.T) {
	set, err := LoadRuleSet("../../deployments/config/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	def := DefaultRuleSet()
	if strings.Join(set.Names(), ",") != strings.Join(def.Names(), ",") {
		t.Fatalf("rules.yaml names %v\ndefaults %v", set.Names(), def.Names())
	}
	want := []string{"level:water_level", "level:flood_depth", "rate:water_level", "rate:tilt", "accum:rainfall:3h",
		"accum:rainfall:12h", "accum:rainfall:24h", "accum:rainfall:72h", "offline", "quality:stuck:water_level",
		"quality:spike:water_level", "quality:spike:flood_depth", "quality:stuck:tilt", "quality:spike:tilt", "composite:rain-and-rise",
		"basin:rain-and-rise", "basin:two-stations-bd2", "level:wind_speed", "level:wind_gust", "rate:flood_depth", "landslide:tilt", "risk:rainfall"}
	if strings.Join(def.Names(), ",") != strings.Join(want, ",") {
		t.Fatalf("stable rule names changed: %v", def.Names())
	}
	// Same behaviour: both engines give the same events on the same data.
	e1, e2 := mustEngine(t, set), mustEngine(t, def)
	recs := series("VG-AINGHIA", "water_level", 10, 6.0, 6.6, 7.4, 8.1, 8.9, 9.1, 8.6, 7.9, 7.0, 6.3)
	a, b := applyAll(e1, e1.NewState("VG-AINGHIA"), recs), applyAll(e2, e2.NewState("VG-AINGHIA"), recs)
	if len(a) == 0 || strings.Join(brief(a, ""), ",") != strings.Join(brief(b, ""), ",") {
		t.Fatalf("file %v, defaults %v", brief(a, ""), brief(b, ""))
	}
}

func TestOverridesAndStations(t *testing.T) {
	set := mustParse(t, `
rules:
  - kind: level
    sensor: water_level
    levels_from_registry: true
    clear_margin: 0.15
    overrides:
      VG-AINGHIA: {levels: [{name: custom, threshold: 3}]}
  - kind: level
    sensor: rainfall
    stations: [RG-HOAPHU]
    levels: [{threshold: 10}]
  - kind: level
    sensor: flood_depth
    levels_from_registry: true
    overrides:
      UF-NGUYENHUUTHO: {disabled: true}
`)
	e := mustEngine(t, set)
	evs := applyAll(e, e.NewState("VG-AINGHIA"), series("VG-AINGHIA", "water_level", 10, 2, 3.1))
	if len(evs) != 1 || evs[0].LevelName != "custom" || evs[0].Threshold != 3 {
		t.Fatalf("override: %+v", evs)
	}
	if evs := applyAll(e, e.NewState("RG-COUNTER"), series("RG-COUNTER", "rainfall", 10, 20)); len(evs) != 0 {
		t.Fatalf("rule restricted to RG-HOAPHU fired elsewhere: %v", evs)
	}
	if evs := applyAll(e, e.NewState("RG-HOAPHU"), series("RG-HOAPHU", "rainfall", 10, 20)); len(evs) != 1 {
		t.Fatalf("restricted rule: %v", evs)
	}
	if evs := applyAll(e, e.NewState("UF-NGUYENHUUTHO"), series("UF-NGUYENHUUTHO", "flood_depth", 5, 80)); len(evs) != 0 {
		t.Fatalf("disabled rule fired: %v", evs)
	}
	// A station outside the registry has no registry levels: no alert.
	if evs := applyAll(e, e.NewState("XX-UNKNOWN"), series("XX-UNKNOWN", "water_level", 10, 50)); len(evs) != 0 {
		t.Fatalf("unknown station: %v", evs)
	}
}

func TestWatcherReloads(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	write := func(s string, mod time.Time) {
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(tmp, mod, mod); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write("rules:\n  - {kind: offline}\n", t0)
	e := mustEngine(t, nil)
	got := make(chan error, 4)
	w := &Watcher{Path: path, Engine: e, Interval: time.Millisecond, OnReload: func(err error) { got <- err }}
	w.Prime()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	write("rules:\n  - {kind: offline, k: 5}\n", t0.Add(time.Minute))
	if err := <-got; err != nil {
		t.Fatalf("reload: %v", err)
	}
	if n := e.Rules().Names(); len(n) != 1 || e.Rules().Rules[0].K != 5 {
		t.Fatalf("rules after reload: %v", n)
	}
	write("rules:\n  - {kind: offline, k: -5}\n", t0.Add(2*time.Minute))
	if err := <-got; err == nil || !strings.Contains(err.Error(), "rules[0].k") {
		t.Fatalf("bad file: %v", err)
	}
	if e.Rules().Rules[0].K != 5 {
		t.Fatal("bad file replaced the rules")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestValidateDoesNotChangeTheSet: Validate only checks, and NewEngine
// compiles a set built in code with its defaults without changing it (the
// RuleSet is immutable once built; Validate used to fill defaults in place,
// and NewEngine refused a set that had not been through it).
func TestValidateDoesNotChangeTheSet(t *testing.T) {
	set := &RuleSet{Rules: []RuleSpec{{Kind: KindOffline}, {Kind: KindRate, Sensor: "water_level", Window: time.Hour,
		Levels: []LevelSpec{{Threshold: 0.3}}}}}
	if err := set.Validate(); err != nil {
		t.Fatal(err)
	}
	if set.AllowedLateness != 0 || set.Bucket != 0 || set.Rules[0].Name != "" || set.Rules[0].K != 0 || set.Rules[1].MinSpan != 0 || set.Rules[1].Severity != "" {
		t.Fatalf("Validate changed the set: %+v", set)
	}
	e, err := NewEngine(set, testRegistry(t))
	if err != nil {
		t.Fatal(err)
	}
	if set.Rules[0].Name != "" || set.AllowedLateness != 0 {
		t.Fatalf("NewEngine changed the set: %+v", set)
	}
	in := e.Rules()
	if in.AllowedLateness != DefaultAllowedLateness || in.Bucket != DefaultBucket || strings.Join(in.Names(), ",") != "offline,rate:water_level" ||
		in.Rules[0].K != 3 || in.Rules[1].MinSpan != 30*time.Minute {
		t.Fatalf("rules in force lack defaults: %+v", in)
	}
	if evs := applyAll(e, e.NewState("VG-AINGHIA"), series("VG-AINGHIA", "water_level", 10, 1, 1.1, 1.2, 1.3, 1.4)); len(evs) != 1 || evs[0].Rule != "rate:water_level" {
		t.Fatalf("events %+v", evs)
	}
	if _, err := NewEngine(&RuleSet{Rules: []RuleSpec{{Kind: KindOffline, K: -1}}}, nil); !errors.Is(err, ErrInvalidRules) {
		t.Fatalf("invalid set compiled: %v", err)
	}
}
