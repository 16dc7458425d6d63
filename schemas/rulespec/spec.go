package rulespec

import (
	"errors"
	"time"

	"github.com/resilience-project/resilience/schemas"
)

// ErrInvalidRules is wrapped by every error of Decode, Parse, Load and
// Validate; a validation error names the offending key, e.g.
// `rules[2].levels[1].clear_margin: must be >= 0`.
var ErrInvalidRules = errors.New("invalid rules")

// Rule kinds (Rule.Kind).
const (
	KindLevel        = "level"
	KindRate         = "rate"
	KindAccumulation = "accumulation"
	KindOffline      = "offline"
	KindQuality      = "quality"
	KindComposite    = "composite"
	KindLandslide    = "landslide"
	KindRisk         = "risk"
)

// Quality checks (Rule.Check).
const (
	CheckStuck = "stuck"
	CheckSpike = "spike"
)

// Composite scopes (Rule.Scope).
const (
	ScopeStation = "station"
	ScopeBasin   = "basin"
)

// Level directions (Rule.Direction).
const (
	DirectionAbove = "above"
	DirectionBelow = "below"
)

// Maxima, all checked by Validate (nothing is cut silently).
const (
	// MaxLevels is the most levels one rule (or override) may have.
	MaxLevels = 8
	// MaxRules is the most station rules (every kind but basin composites)
	// a rule set may have; with MaxLevels and the name lengths it bounds the
	// encoded state of a station in the processor.
	MaxRules = 32
	// MaxNameLen is the longest rule name, in bytes.
	MaxNameLen = 128
	// MaxLabelLen is the longest level name (and registry level name), in
	// bytes.
	MaxLabelLen = 128
	// MaxRegistryLevelNames: the registry has levels I, II and III;
	// registry_level_names names all three or none.
	MaxRegistryLevelNames = 3
	// MaxLateness is the longest allowed_lateness.
	MaxLateness = 24 * time.Hour
	// MinBucket and MaxBucket bound the rainfall bucket.
	MinBucket = time.Minute
	MaxBucket = time.Hour
	// MaxRateWindow is the longest rate window.
	MaxRateWindow = 24 * time.Hour
	// MaxAccumulationWindow is the longest rolling-rainfall window.
	MaxAccumulationWindow = 72 * time.Hour
	// MaxK is the largest offline factor k.
	MaxK = 1000
	// MaxStuckCount is the largest stuck count.
	MaxStuckCount = 1000
	// MaxBeaufort is the highest Beaufort number (hurricane-force scale
	// as extended in Vietnam, Beaufort 17: >= 56.1 m/s).
	MaxBeaufort = 17
	// LandslideGrades is the number of landslide levels (precaution,
	// warning, alarm); RiskLevels the number of official risk levels.
	LandslideGrades = 3
	RiskLevels      = 5
	// MinRainWindow and MaxRainWindow bound a landslide rule's rain
	// window (the rain of the last 24-72 h).
	MinRainWindow = 24 * time.Hour
	MaxRainWindow = 72 * time.Hour
	// MinTTFPoints and MaxTTFPoints bound the tilt-rate samples the
	// inverse-velocity fit uses.
	MinTTFPoints = 3
	MaxTTFPoints = 32
	// RiskBands is the number of 24 h rain bands of a risk table.
	RiskBands = 3
)

// Risk colours of Decision 18/2021/QĐ-TTg, levels 1 to 5 (LevelSpec.Colour).
const (
	ColourLightBlue   = "light blue"
	ColourLightYellow = "light yellow"
	ColourOrange      = "orange"
	ColourRed         = "red"
	ColourPurple      = "purple"
)

// Sources of a table's values (RiskTable.Source), as the registry marks
// its levels.
const (
	SourceEstimate = "estimate"
	SourceOfficial = "official"
)

// Defaults for rule sets that leave them unset.
const (
	DefaultAllowedLateness = time.Hour
	DefaultBucket          = 10 * time.Minute
	DefaultSeverity        = schemas.SeverityModerate
	DefaultK               = 3
)

// LevelSpec is one threshold of a rule. Level numbers are 1-based in list
// order; a level fires when the watched value reaches Threshold (>=, or <=
// for direction below) and clears when the value is ClearMargin back on the
// safe side of it (hysteresis).
//
// NameVI and NameEN name the grade for its readers in Vietnamese and
// English (alert fields level_name_vi, level_name_en); Beaufort (wind
// grades) is the Beaufort number the grade starts at, and makes the
// alert carry the Beaufort number of the value; Colour (risk levels) is
// the colour of the official level.
type LevelSpec struct {
	Name        string           `yaml:"name,omitempty"`
	NameVI      string           `yaml:"name_vi,omitempty"`
	NameEN      string           `yaml:"name_en,omitempty"`
	Beaufort    int              `yaml:"beaufort,omitempty"`
	Colour      string           `yaml:"colour,omitempty"`
	Threshold   float64          `yaml:"threshold"`
	ClearMargin *float64         `yaml:"clear_margin,omitempty"`
	Severity    schemas.Severity `yaml:"severity,omitempty"`
}

// RiskTable is the decision table of a risk rule: the 24 h rain band
// (band k: rain >= BandsMM[k-1]) and the duration of the rain (Short:
// rain for 1-2 days; Long: for more than 2 days, i.e. each of the two
// days before the last 24 h had at least RainyDayMM) give, per hazard
// zone 1..3, the risk level 1..5 (0: none): Short[band-1][zone-1].
type RiskTable struct {
	BandsMM    []float64 `yaml:"bands_mm"`
	RainyDayMM float64   `yaml:"rainy_day_mm"`
	Short      [][]int   `yaml:"short"`
	Long       [][]int   `yaml:"long"`
	// Source is where the table comes from: estimate or official.
	Source string `yaml:"source"`
}

// Override replaces parts of a rule for one station. Unset fields keep the
// rule's value.
type Override struct {
	Disabled    bool           `yaml:"disabled,omitempty"`
	Levels      []LevelSpec    `yaml:"levels,omitempty"`
	ClearMargin *float64       `yaml:"clear_margin,omitempty"`
	MinCount    *int           `yaml:"min_count,omitempty"`
	MinDuration *time.Duration `yaml:"min_duration,omitempty"`
}

// Term is one operand of a composite rule: the named rule on the same
// station is true while its alert is at MinLevel or above. In a basin
// composite the term is true while at least MinStations stations of the
// basin have it at MinLevel or above.
type Term struct {
	Rule        string `yaml:"rule"`
	MinLevel    int    `yaml:"min_level,omitempty"`
	MinStations int    `yaml:"min_stations,omitempty"`
}

// Rule is one rule as written in the rules file. The file is flat: the
// keys a kind reads are listed in the package documentation and checked by
// that kind's KindSpec; the others are ignored by it.
type Rule struct {
	// Name is the stable rule name alert ids derive from. Defaults:
	// level:SENSOR, rate:SENSOR, accum:SENSOR:WINDOW, offline,
	// quality:CHECK:SENSOR. Composite rules must be named.
	Name   string         `yaml:"name,omitempty"`
	Kind   string         `yaml:"kind"`
	Sensor schemas.Sensor `yaml:"sensor,omitempty"`
	// Direction is "above" (default) or "below" for level rules.
	Direction string `yaml:"direction,omitempty"`
	// Levels are the thresholds, lowest level first.
	Levels []LevelSpec `yaml:"levels,omitempty"`
	// LevelsFromRegistry takes the thresholds of level rules from the
	// station registry (alarm_levels_m for water_level,
	// flood_depth_levels_cm for flood_depth). Levels, if also given, are the
	// fallback for stations without registry levels; a station with
	// neither does not get the rule.
	LevelsFromRegistry bool `yaml:"levels_from_registry,omitempty"`
	// RegistryLevelNames name the registry's levels I, II, III (all three,
	// or none for the names I, II, III).
	RegistryLevelNames []string `yaml:"registry_level_names,omitempty"`
	// RegistryLevelNamesVI and RegistryLevelNamesEN are the same names in
	// Vietnamese and English for the alert's level_name_vi/level_name_en
	// (all three, or none).
	RegistryLevelNamesVI []string `yaml:"registry_level_names_vi,omitempty"`
	RegistryLevelNamesEN []string `yaml:"registry_level_names_en,omitempty"`
	// ClearMargin is the default clear margin of every level.
	ClearMargin *float64 `yaml:"clear_margin,omitempty"`
	// MinCount is how many consecutive breaching readings are needed before
	// an alert fires (default 1). MinDuration is how long the breach must
	// last. Both gate only the first firing; escalation is immediate.
	MinCount    int           `yaml:"min_count,omitempty"`
	MinDuration time.Duration `yaml:"min_duration,omitempty"`
	// Window is the rate window (rate) or the rolling-sum window
	// (accumulation).
	Window time.Duration `yaml:"window,omitempty"`
	// MinSpan is the shortest time between the two readings a rate is
	// computed from (default Window/2).
	MinSpan time.Duration `yaml:"min_span,omitempty"`
	// Absolute makes a rate rule watch the magnitude of change (tilt).
	Absolute bool `yaml:"absolute,omitempty"`
	// Check is the quality check: stuck or spike.
	Check string `yaml:"check,omitempty"`
	// Count is the number of identical consecutive readings that make a
	// sensor stuck.
	Count int `yaml:"count,omitempty"`
	// MaxJump is the largest plausible change between consecutive readings.
	MaxJump float64 `yaml:"max_jump,omitempty"`
	// K: the offline rule fires when no reading arrived for K times the
	// station's interval.
	K float64 `yaml:"k,omitempty"`
	// Op is "and" or "or" for composite rules; Of are its operands.
	Op string `yaml:"op,omitempty"`
	Of []Term `yaml:"of,omitempty"`
	// Scope of a composite: "station" (default; the operands on one
	// station, evaluated by the processor) or "basin" (the operands across
	// the stations of a basin, evaluated by the alerts service, which sees
	// every station's alerts).
	Scope string `yaml:"scope,omitempty"`
	// Basins restricts a basin composite to these basins (default: all).
	Basins []string `yaml:"basins,omitempty"`
	// Severity is the severity of single-level rules (offline, quality,
	// composite) and the default for levels without one.
	Severity schemas.Severity `yaml:"severity,omitempty"`
	// Stations restricts the rule to these station ids (default: all).
	Stations []string `yaml:"stations,omitempty"`
	// Overrides adjust the rule per station id.
	Overrides map[string]Override `yaml:"overrides,omitempty"`

	// Landslide rules: the tilt rate grades (deg/h, precaution and
	// warning; default 0.01 and 0.1, Uchimura et al. 2015) over Window
	// (default 1h), soil moisture near saturation (>= SaturationFraction,
	// default 0.9, of the station's saturation_pct), the rain over
	// RainWindow (default 72h) reaching RainMM (default 100), and
	// TTFPoints tilt-rate samples for the inverse-velocity estimate
	// (default 6).
	TiltRates          []float64     `yaml:"tilt_rates,omitempty"`
	SaturationFraction float64       `yaml:"saturation_fraction,omitempty"`
	RainMM             float64       `yaml:"rain_mm,omitempty"`
	RainWindow         time.Duration `yaml:"rain_window,omitempty"`
	TTFPoints          int           `yaml:"ttf_points,omitempty"`
	// Risk is the decision table of a risk rule (default DefaultRiskTable).
	Risk *RiskTable `yaml:"risk,omitempty"`
}

// RuleSet is a rules file. One returned by Parse, Load, Default or
// WithDefaults is validated and complete; it is never changed afterwards,
// so share it freely.
type RuleSet struct {
	// AllowedLateness bounds how old (behind the newest reading of the
	// station, event time) a reading may be and still be folded in.
	AllowedLateness time.Duration `yaml:"allowed_lateness"`
	// Bucket is the rainfall bucket size for accumulation windows.
	Bucket time.Duration `yaml:"bucket"`
	Rules  []Rule        `yaml:"rules"`
}

// Names returns the rule names in file order.
func (rs *RuleSet) Names() []string {
	out := make([]string, len(rs.Rules))
	for i := range rs.Rules {
		out[i] = rs.Rules[i].Name
	}
	return out
}

// IsBasin reports whether r is a basin-scope composite, which the
// processor does not evaluate (a station's processor sees only its own
// partitions) and the alerts service does (package alerts/basin).
func (r *Rule) IsBasin() bool { return r.Kind == KindComposite && r.Scope == ScopeBasin }

// BasinRules returns the basin-scope composite rules.
func (rs *RuleSet) BasinRules() []Rule {
	var out []Rule
	for _, r := range rs.Rules {
		if r.IsBasin() {
			out = append(out, r)
		}
	}
	return out
}
