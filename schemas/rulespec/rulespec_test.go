package rulespec

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/resilience-project/resilience/schemas"
)

const exampleFile = "../../deployments/config/rules.yaml"

func dump(t testing.TB, rs *RuleSet) string {
	t.Helper()
	b, err := yaml.Marshal(rs)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func decode(t testing.TB, y string) *RuleSet {
	t.Helper()
	rs, err := Decode([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestValidateReportsEveryProblemByKey(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"margin", "rules:\n  - {kind: level, sensor: water_level, levels: [{threshold: 1}, {threshold: 2, clear_margin: -0.1}]}\n",
			[]string{"rules[0].levels[1].clear_margin: must be >= 0"}},
		{"unknown kind lists the kinds", "rules:\n  - {kind: flood}\n",
			[]string{`rules[0].kind: must be one of level, rate, accumulation, offline, quality, composite, landslide, risk; got "flood"`}},
		{"several rules, several keys", "rules:\n  - {kind: offline, k: 0.5}\n  - {kind: level, sensor: nope}\n",
			[]string{"rules[0].k", `rules[1].sensor: unknown sensor kind "nope"`, "rules[1].levels: at least one level"}},
		{"offline k NaN", "rules:\n  - {kind: offline, k: .nan}\n", []string{"rules[0].k: must be in [1, 1000]"}},
		{"offline k too large", "rules:\n  - {kind: offline, k: 1001}\n", []string{"rules[0].k: must be in [1, 1000], got 1001"}},
		{"window multiple of the default bucket", "rules:\n  - {kind: accumulation, sensor: rainfall, window: 25m, levels: [{threshold: 1}]}\n",
			[]string{"rules[0].window: 25m0s must be a multiple of bucket 10m0s"}},
		{"rate bounds", "rules:\n  - {kind: rate, sensor: water_level, window: 25h, min_span: -1m, levels: [{threshold: 0}]}\n",
			[]string{"rules[0].window: must be in (0, 24h]", "rules[0].min_span", "rules[0].levels[0].threshold: a rate threshold must be > 0"}},
		{"set bounds", "allowed_lateness: 25h\nbucket: 2h\nrules: []\n",
			[]string{"allowed_lateness: must be in (0, 24h]", "bucket: must be in [1m, 1h]", "rules: at least one rule is required"}},
		{"duplicate default names", "rules:\n  - {kind: offline}\n  - {kind: offline}\n", []string{`rules[1].name: duplicate rule name "offline" (also rules[0])`}},
		{"composite operands", "rules:\n  - {kind: offline}\n  - {name: c, kind: composite, op: xor, of: [{rule: offline, min_level: 9}, {rule: nope}]}\n  - {name: d, kind: composite, op: or, of: [{rule: c}, {rule: offline}]}\n",
			[]string{"rules[1].op", "rules[1].of[0].min_level: must be in [1, 8]", `rules[1].of[1].rule: unknown rule "nope"`,
				`rules[2].of[0].rule: "c" is a composite`}},
		{"unnamed composite", "rules:\n  - {kind: offline}\n  - {kind: composite, op: or, of: [{rule: offline}, {rule: offline}]}\n",
			[]string{"rules[1].name: a composite rule must be named"}},
		{"override levels on a kind without levels", "rules:\n  - {kind: offline, overrides: {X1: {levels: [{threshold: 1}], min_count: -1}}}\n",
			[]string{"rules[0].overrides.X1.levels: only level, rate and accumulation rules have levels", "rules[0].overrides.X1.min_count"}},
		{"name too long", "rules:\n  - {kind: offline, name: " + strings.Repeat("n", MaxNameLen+1) + "}\n",
			[]string{"rules[0].name: must be at most 128 printable characters"}},
		{"direction on a rate rule", "rules:\n  - {kind: rate, sensor: water_level, direction: below, window: 1h, levels: [{threshold: 0.3}]}\n",
			[]string{"rules[0].direction: only level rules have a direction"}},
		{"registry levels on an accumulation rule", "rules:\n  - {kind: accumulation, sensor: rainfall, window: 1h, levels_from_registry: true, levels: [{threshold: 50}]}\n",
			[]string{"rules[0].levels_from_registry: only level rules take registry levels"}},
		{"two registry level names", "rules:\n  - {kind: level, sensor: water_level, levels_from_registry: true, registry_level_names: [a, b]}\n",
			[]string{"rules[0].registry_level_names: name all 3 registry levels (I, II, III) or none, got 2"}},
		{"four registry level names", "rules:\n  - {kind: level, sensor: water_level, levels_from_registry: true, registry_level_names: [a, b, c, d]}\n",
			[]string{"rules[0].registry_level_names: name all 3 registry levels"}},
		{"level name too long", "rules:\n  - {kind: level, sensor: tilt, levels: [{threshold: 1, name: " + strings.Repeat("n", MaxLabelLen+1) + "}]}\n",
			[]string{"rules[0].levels[0].name: at most 128 bytes"}},
		{"wind grade fields", "rules:\n  - {kind: level, sensor: wind_speed, levels: [{threshold: 10.8, beaufort: 18, colour: green, name_vi: " + strings.Repeat("n", MaxLabelLen+1) + "}]}\n",
			[]string{"rules[0].levels[0].beaufort: must be in [0, 17], got 18", `rules[0].levels[0].colour: must be one of light blue, light yellow, orange, red, purple; got "green"`,
				"rules[0].levels[0].name_vi: at most 128 bytes"}},
		{"landslide parameters", "rules:\n  - {kind: landslide, sensor: rainfall, tilt_rates: [0.1, 0.01], saturation_fraction: 1.5, rain_window: 12h, ttf_points: 2, levels: [{threshold: 1}, {threshold: 3}]}\n",
			[]string{`rules[0].sensor: a landslide rule is driven by tilt, got "rainfall"`, "rules[0].tilt_rates: must be finite, > 0 and rising",
				"rules[0].saturation_fraction: must be in (0, 1], got 1.5", "rules[0].rain_window: must be in [24h, 72h], got 12h0m0s",
				"rules[0].ttf_points: must be in [3, 32], got 2", "rules[0].levels[1].threshold: a grade's threshold is its number 2, got 3"}},
		{"landslide without grades", "rules:\n  - {kind: landslide}\n", []string{"rules[0].levels: name 1 to 3 grades, got 0"}},
		{"risk table", "rules:\n  - {kind: risk, levels: [{threshold: 1}, {threshold: 2}], risk: {bands_mm: [100, 50], rainy_day_mm: -1, short: [[1, 1, 3]], long: [[1], [1, 1, 1], [1, 1, 1]], source: guess}}\n",
			[]string{"rules[0].risk.bands_mm: give the 3 band lower bounds", "rules[0].risk.bands_mm[1]: must be finite, > 0 and rising, got 50",
				"rules[0].risk.rainy_day_mm: must be >= 0", "rules[0].risk.short: one row per band (3), got 1",
				"rules[0].risk.short[0][2]: must be a level in [0, 2], got 3", "rules[0].risk.long[0]: one level per hazard zone (3), got 1",
				`rules[0].risk.source: must be estimate or official, got "guess"`}},
		{"risk levels", "rules:\n  - {kind: risk, levels: [{threshold: 1}, {threshold: 2}, {threshold: 3}, {threshold: 4}, {threshold: 5}, {threshold: 6}]}\n",
			[]string{"rules[0].levels: name 1 to 5 grades, got 6"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := decode(t, tc.yaml)
			err := rs.Validate()
			if err == nil {
				t.Fatalf("valid; want errors %q", tc.want)
			}
			if !errors.Is(err, ErrInvalidRules) {
				t.Errorf("does not wrap ErrInvalidRules: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if n := len(strings.Split(err.Error(), "\n")); n < len(tc.want) {
				t.Errorf("%d problems reported, want at least %d: %v", n, len(tc.want), err)
			}
			if _, perr := Parse([]byte(tc.yaml)); perr == nil || perr.Error() != err.Error() {
				t.Errorf("Parse error %v, Validate error %v", perr, err)
			}
		})
	}
}

// TestMaxima: the bounds are checked, not applied silently.
func TestMaxima(t *testing.T) {
	rule := func(i int) string {
		return "  - {kind: level, name: r" + string(rune('A'+i/26)) + string(rune('a'+i%26)) + ", sensor: tilt, levels: [{threshold: 1}]}\n"
	}
	var b strings.Builder
	b.WriteString("rules:\n")
	for i := 0; i < MaxRules; i++ {
		b.WriteString(rule(i))
	}
	b.WriteString("  - {name: bas, kind: composite, scope: basin, op: or, of: [{rule: rAa}]}\n")
	if _, err := Parse([]byte(b.String())); err != nil {
		t.Fatalf("%d station rules and a basin rule refused: %v", MaxRules, err)
	}
	b.WriteString(rule(MaxRules))
	if _, err := Parse([]byte(b.String())); err == nil || !strings.Contains(err.Error(), "rules: at most 32 station rules") {
		t.Fatalf("%d station rules: %v", MaxRules+1, err)
	}
	levels := "rules:\n  - {kind: level, sensor: tilt, levels: ["
	for i := 0; i <= MaxLevels; i++ {
		levels += "{threshold: " + string(rune('1'+i)) + "},"
	}
	if _, err := Parse([]byte(levels + "]}\n")); err == nil || !strings.Contains(err.Error(), "rules[0].levels: at most 8 levels") {
		t.Fatalf("%d levels: %v", MaxLevels+1, err)
	}
}

// TestValidateOnlyChecks: Validate and WithDefaults leave their receiver
// as it was, and WithDefaults shares no memory with it.
func TestValidateOnlyChecks(t *testing.T) {
	data, err := os.ReadFile(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, yaml string }{
		{"example file", string(data)},
		{"overrides and composites", `
rules:
  - kind: level
    sensor: water_level
    levels: [{threshold: 1, clear_margin: 0.1}]
    clear_margin: 0.2
    overrides:
      X1: {levels: [{threshold: 3, clear_margin: 0.5}], clear_margin: 1, min_count: 2, min_duration: 10m}
  - {kind: rate, sensor: tilt, window: 1h, levels: [{threshold: 1}]}
  - {name: c, kind: composite, op: and, of: [{rule: level:water_level}, {rule: rate:tilt}]}
  - {name: b, kind: composite, scope: basin, op: or, basins: [han], of: [{rule: rate:tilt}]}
`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := decode(t, tc.yaml)
			before := dump(t, rs)
			if err := rs.Validate(); err != nil {
				t.Fatal(err)
			}
			if dump(t, rs) != before {
				t.Fatal("Validate changed the rule set")
			}
			d := rs.WithDefaults()
			if dump(t, rs) != before {
				t.Fatal("WithDefaults changed its receiver")
			}
			if dump(t, d) == before {
				t.Fatal("WithDefaults filled in nothing")
			}
			// Change everything the copy holds: the original must not see it.
			for i := range d.Rules {
				r := &d.Rules[i]
				r.Name += "x"
				for j := range r.Levels {
					r.Levels[j].Threshold++
					if r.Levels[j].ClearMargin != nil {
						*r.Levels[j].ClearMargin++
					}
				}
				if r.ClearMargin != nil {
					*r.ClearMargin++
				}
				for j := range r.Of {
					r.Of[j].MinLevel++
				}
				for j := range r.RegistryLevelNames {
					r.RegistryLevelNames[j] += "x"
				}
				for j := range r.Basins {
					r.Basins[j] += "x"
				}
				for _, o := range r.Overrides {
					*o.MinCount++
					*o.ClearMargin++
					*o.MinDuration++
					o.Levels[0].Threshold++
					*o.Levels[0].ClearMargin++
				}
			}
			if dump(t, rs) != before {
				t.Fatal("WithDefaults shares memory with its receiver")
			}
		})
	}
}

func TestWithDefaults(t *testing.T) {
	rs := decode(t, `
rules:
  - {kind: level, sensor: water_level, levels_from_registry: true}
  - {kind: rate, sensor: tilt, window: 1h, levels: [{threshold: 1}]}
  - {kind: accumulation, sensor: rainfall, window: 90m, levels: [{threshold: 1}]}
  - {kind: offline}
  - {kind: quality, check: stuck, sensor: tilt, count: 5}
  - {name: b, kind: composite, scope: basin, op: or, of: [{rule: rate:tilt}]}
  - {name: c, kind: composite, op: or, of: [{rule: rate:tilt}, {rule: offline, min_level: 2}]}
`)
	d := rs.WithDefaults()
	if d.AllowedLateness != DefaultAllowedLateness || d.Bucket != DefaultBucket {
		t.Errorf("lateness %s bucket %s", d.AllowedLateness, d.Bucket)
	}
	want := []string{"level:water_level", "rate:tilt", "accum:rainfall:90m", "offline", "quality:stuck:tilt", "b", "c"}
	if got := strings.Join(d.Names(), ","); got != strings.Join(want, ",") {
		t.Errorf("names %s, want %s", got, strings.Join(want, ","))
	}
	for _, r := range d.Rules {
		if r.Severity != schemas.SeverityModerate {
			t.Errorf("%s: severity %q", r.Name, r.Severity)
		}
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"direction", d.Rules[0].Direction, DirectionAbove},
		{"min_span", d.Rules[1].MinSpan, 30 * time.Minute},
		{"k", d.Rules[3].K, float64(DefaultK)},
		{"basin min_level", d.Rules[5].Of[0].MinLevel, 1},
		{"basin min_stations", d.Rules[5].Of[0].MinStations, 1},
		{"station scope", d.Rules[6].Scope, ScopeStation},
		{"station min_stations", d.Rules[6].Of[0].MinStations, 0},
		{"explicit min_level", d.Rules[6].Of[1].MinLevel, 2},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	if dump(t, d.WithDefaults()) != dump(t, d) {
		t.Error("WithDefaults is not idempotent")
	}
	if err := d.Validate(); err != nil {
		t.Errorf("defaults are invalid: %v", err)
	}
}

func TestDefaultIsExampleFile(t *testing.T) {
	file, err := Load(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	if dump(t, file) != dump(t, Default()) {
		t.Fatalf("rules.yaml and Default differ:\n%s\n---\n%s", dump(t, file), dump(t, Default()))
	}
	if Default() == Default() || &Default().Rules[0] == &Default().Rules[0] {
		t.Fatal("Default does not return a fresh copy")
	}
}

// TestNewKindDefaults: landslide and risk rules get their documented
// defaults and default names.
func TestNewKindDefaults(t *testing.T) {
	rs, err := Parse([]byte("rules:\n  - {kind: landslide, levels: [{threshold: 1}]}\n  - {kind: risk, levels: [{threshold: 1}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	l, r := rs.Rules[0], rs.Rules[1]
	if l.Name != "landslide:tilt" || l.Sensor != schemas.Tilt || l.Window != time.Hour || l.MinSpan != 30*time.Minute ||
		len(l.TiltRates) != 2 || l.TiltRates[0] != 0.01 || l.TiltRates[1] != 0.1 || l.SaturationFraction != 0.9 ||
		l.RainMM != 100 || l.RainWindow != 72*time.Hour || l.TTFPoints != 6 {
		t.Errorf("landslide defaults: %+v", l)
	}
	if r.Name != "risk:rainfall" || r.Sensor != schemas.Rainfall || r.Risk == nil || r.Risk.Source != SourceEstimate ||
		r.Risk.RainyDayMM != 16 || r.Risk.Long[2][2] != 5 || r.Risk.Short[0][0] != 1 {
		t.Errorf("risk defaults: %+v %+v", r, r.Risk)
	}
	c := rs.WithDefaults()
	c.Rules[1].Risk.Long[2][2] = 0
	c.Rules[0].TiltRates[0] = 9
	if rs.Rules[1].Risk.Long[2][2] != 5 || rs.Rules[0].TiltRates[0] != 0.01 {
		t.Error("WithDefaults shares the risk table or tilt rates with its receiver")
	}
}

func TestKindsRegistered(t *testing.T) {
	for _, k := range []string{KindLevel, KindRate, KindAccumulation, KindOffline, KindQuality, KindComposite, KindLandslide, KindRisk} {
		spec := Lookup(k)
		if spec == nil || spec.Kind != k || spec.Validate == nil {
			t.Errorf("kind %s: %+v", k, spec)
		}
	}
	if Lookup("flood") != nil {
		t.Error("unknown kind found")
	}
	if got := strings.Join(Kinds(), ","); got != "level,rate,accumulation,offline,quality,composite,landslide,risk" {
		t.Errorf("Kinds() = %s", got)
	}
}

func TestDecodeRejectsUnknownKeys(t *testing.T) {
	_, err := Decode([]byte("rules:\n  - {kind: offline, kk: 3}\n"))
	if !errors.Is(err, ErrInvalidRules) || !strings.Contains(err.Error(), "field kk not found") {
		t.Fatalf("err = %v", err)
	}
}
