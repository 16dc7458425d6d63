package rules

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/resilience-project/resilience/schemas"
)

// Sentinel errors. Errors returned by this package wrap one of these, so
// callers can test with errors.Is.
var (
	// ErrInvalidRules is wrapped by every validation error of a rules file;
	// the message names the offending key, e.g.
	// `rules[2].levels[1].clear_margin: must be >= 0`.
	ErrInvalidRules = errors.New("invalid rules")
	// ErrNilRuleSet is returned by NewEngine and SetRules for a nil *RuleSet.
	ErrNilRuleSet = errors.New("nil rule set")
	// ErrBadState is returned by State.UnmarshalBinary for bytes that are not
	// a state written by MarshalBinary (or of an unknown version).
	ErrBadState = errors.New("bad rule state encoding")
	// ErrBadInput is wrapped by the backtest readers for malformed input
	// lines; the message names the line.
	ErrBadInput = errors.New("bad backtest input")
)

// Rule kinds.
const (
	KindLevel        = "level"
	KindRate         = "rate"
	KindAccumulation = "accumulation"
	KindOffline      = "offline"
	KindQuality      = "quality"
	KindComposite    = "composite"
)

// Quality checks (RuleSpec.Check).
const (
	CheckStuck = "stuck"
	CheckSpike = "spike"
)

// MaxLevels is the most levels one rule may have.
const MaxLevels = 8

// MaxRules is the most station rules (every kind but basin composites) a
// rule set may have; with MaxLevels, MaxHistory and the name lengths it
// bounds the encoded state of a station (MaxEncodedState).
const MaxRules = 32

// LevelSpec is one threshold of a rule. Level numbers are 1-based in list
// order; a level fires when the watched value reaches Threshold (>=, or <=
// for direction below) and clears when the value is ClearMargin back on the
// safe side of it (hysteresis).
type LevelSpec struct {
	Name        string           `yaml:"name,omitempty"`
	Threshold   float64          `yaml:"threshold"`
	ClearMargin *float64         `yaml:"clear_margin,omitempty"`
	Severity    schemas.Severity `yaml:"severity,omitempty"`
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

// Composite scopes.
const (
	ScopeStation = "station"
	ScopeBasin   = "basin"
)

// RuleSpec is one rule as written in the rules file. Which fields apply
// depends on Kind; see the package documentation and
// deployments/config/rules.yaml.
type RuleSpec struct {
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
	// RegistryLevelNames name the registry's levels I, II, III.
	RegistryLevelNames []string `yaml:"registry_level_names,omitempty"`
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
}

// RuleSet is a parsed, validated rules file. It is immutable once built;
// share it freely.
type RuleSet struct {
	// AllowedLateness bounds how old (behind the newest reading of the
	// station, event time) a reading may be and still be folded in.
	AllowedLateness time.Duration `yaml:"allowed_lateness"`
	// Bucket is the rainfall bucket size for accumulation windows.
	Bucket time.Duration `yaml:"bucket"`
	Rules  []RuleSpec    `yaml:"rules"`
}

// Defaults for rule sets that leave them unset.
const (
	DefaultAllowedLateness = time.Hour
	DefaultBucket          = 10 * time.Minute
	maxWindow              = 7 * 24 * time.Hour
)

// ParseRuleSet parses and validates a YAML rules document. Unknown keys are
// errors. Every problem found is reported (errors.Join), each naming its
// key; all wrap ErrInvalidRules.
func ParseRuleSet(data []byte) (*RuleSet, error) {
	var rs RuleSet
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&rs); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidRules, err)
	}
	if err := rs.normalize(); err != nil {
		return nil, err
	}
	return &rs, nil
}

// LoadRuleSet reads and validates a rules file.
func LoadRuleSet(path string) (*RuleSet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("rules file: %w", err)
	}
	rs, err := ParseRuleSet(data)
	if err != nil {
		return nil, fmt.Errorf("rules file %s: %w", path, err)
	}
	return rs, nil
}

// Names returns the rule names in file order.
func (rs *RuleSet) Names() []string {
	out := make([]string, len(rs.Rules))
	for i := range rs.Rules {
		out[i] = rs.Rules[i].Name
	}
	return out
}

// Validate re-checks a RuleSet built in code (ParseRuleSet already did).
// It fills defaults in place.
func (rs *RuleSet) Validate() error { return rs.normalize() }

func invalid(key, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidRules, key, fmt.Sprintf(format, args...))
}

func validSeverity(s schemas.Severity) bool {
	switch s {
	case schemas.SeverityMinor, schemas.SeverityModerate, schemas.SeveritySevere, schemas.SeverityExtreme:
		return true
	}
	return false
}

// windowLabel renders a window for a rule name: 24h, 90m, 45s.
func windowLabel(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	default:
		return fmt.Sprintf("%ds", d/time.Second)
	}
}

func (rs *RuleSet) normalize() error {
	var errs []error
	if rs.AllowedLateness == 0 {
		rs.AllowedLateness = DefaultAllowedLateness
	}
	if rs.AllowedLateness < 0 || rs.AllowedLateness > 24*time.Hour {
		errs = append(errs, invalid("allowed_lateness", "must be in (0, 24h], got %s", rs.AllowedLateness))
	}
	if rs.Bucket == 0 {
		rs.Bucket = DefaultBucket
	}
	if rs.Bucket < time.Minute || rs.Bucket > time.Hour {
		errs = append(errs, invalid("bucket", "must be in [1m, 1h], got %s", rs.Bucket))
	}
	if len(rs.Rules) == 0 {
		errs = append(errs, invalid("rules", "at least one rule is required"))
	}
	if n := len(rs.Rules) - len(rs.BasinRules()); n > MaxRules {
		errs = append(errs, invalid("rules", "at most %d station rules (basin composites not counted), got %d", MaxRules, n))
	}
	names := map[string]int{}
	for i := range rs.Rules {
		errs = append(errs, rs.normalizeRule(i, names)...)
	}
	// Composite operands must name earlier-or-later rules of the file,
	// not composites (no recursion).
	for i := range rs.Rules {
		r := &rs.Rules[i]
		if r.Kind != KindComposite {
			continue
		}
		for j, t := range r.Of {
			k, ok := names[t.Rule]
			key := fmt.Sprintf("rules[%d].of[%d].rule", i, j)
			switch {
			case !ok:
				errs = append(errs, invalid(key, "unknown rule %q", t.Rule))
			case rs.Rules[k].Kind == KindComposite:
				errs = append(errs, invalid(key, "%q is a composite; composites of composites are not supported", t.Rule))
			}
		}
	}
	return errors.Join(errs...)
}

func (rs *RuleSet) normalizeRule(i int, names map[string]int) []error {
	r := &rs.Rules[i]
	key := fmt.Sprintf("rules[%d]", i)
	var errs []error
	bad := func(sub, format string, args ...any) {
		errs = append(errs, invalid(key+sub, format, args...))
	}
	needSensor := func() {
		if r.Sensor == "" {
			bad(".sensor", "required for kind %s", r.Kind)
		} else if _, ok := schemas.Specs[r.Sensor]; !ok {
			bad(".sensor", "unknown sensor kind %q", r.Sensor)
		}
	}
	if r.Severity != "" && !validSeverity(r.Severity) {
		bad(".severity", "%q is not one of Minor, Moderate, Severe, Extreme", r.Severity)
	}
	if r.Severity == "" {
		r.Severity = schemas.SeverityModerate
	}
	if r.ClearMargin != nil && (*r.ClearMargin < 0 || math.IsNaN(*r.ClearMargin)) {
		bad(".clear_margin", "must be >= 0")
	}
	if r.MinCount < 0 {
		bad(".min_count", "must be >= 0")
	}
	if r.MinDuration < 0 {
		bad(".min_duration", "must be >= 0")
	}
	checkLevels := func(sub string, levels []LevelSpec, dir string) {
		if len(levels) > MaxLevels {
			bad(sub, "at most %d levels", MaxLevels)
		}
		for j := range levels {
			l := &levels[j]
			lk := fmt.Sprintf("%s[%d]", sub, j)
			if math.IsNaN(l.Threshold) || math.IsInf(l.Threshold, 0) {
				bad(lk+".threshold", "must be finite")
			}
			if l.ClearMargin != nil && !(*l.ClearMargin >= 0) {
				bad(lk+".clear_margin", "must be >= 0")
			}
			if l.Severity != "" && !validSeverity(l.Severity) {
				bad(lk+".severity", "%q is not one of Minor, Moderate, Severe, Extreme", l.Severity)
			}
			if len(l.Name) > maxLabelLen {
				bad(lk+".name", "at most %d bytes", maxLabelLen)
			}
			if j > 0 {
				prev := levels[j-1].Threshold
				if dir == "below" && !(l.Threshold < prev) {
					bad(lk+".threshold", "%g must be below level %d's %g (direction below)", l.Threshold, j, prev)
				}
				if dir != "below" && !(l.Threshold > prev) {
					bad(lk+".threshold", "%g must be above level %d's %g", l.Threshold, j, prev)
				}
			}
		}
	}
	switch r.Kind {
	case KindLevel:
		needSensor()
		switch r.Direction {
		case "":
			r.Direction = "above"
		case "above", "below":
		default:
			bad(".direction", "must be above or below, got %q", r.Direction)
		}
		if r.LevelsFromRegistry && r.Sensor != schemas.WaterLevel && r.Sensor != schemas.FloodDepth {
			bad(".levels_from_registry", "the registry has levels only for water_level and flood_depth")
		}
		if r.LevelsFromRegistry && r.Direction == "below" {
			bad(".levels_from_registry", "registry levels are rising (direction above)")
		}
		if !r.LevelsFromRegistry && len(r.Levels) == 0 {
			bad(".levels", "at least one level is required (or levels_from_registry: true)")
		}
		if len(r.RegistryLevelNames) > 3 {
			bad(".registry_level_names", "at most 3 names (I, II, III)")
		}
		for j, n := range r.RegistryLevelNames {
			if len(n) > maxLabelLen {
				bad(fmt.Sprintf(".registry_level_names[%d]", j), "at most %d bytes", maxLabelLen)
			}
		}
		checkLevels(".levels", r.Levels, r.Direction)
		if r.Name == "" {
			r.Name = "level:" + string(r.Sensor)
		}
	case KindRate:
		needSensor()
		if r.Window <= 0 || r.Window > 24*time.Hour {
			bad(".window", "must be in (0, 24h], got %s", r.Window)
		}
		if r.MinSpan == 0 {
			r.MinSpan = r.Window / 2
		}
		if r.MinSpan < 0 || r.MinSpan > r.Window {
			bad(".min_span", "must be in (0, window]")
		}
		if len(r.Levels) == 0 {
			bad(".levels", "at least one level is required")
		}
		for j, l := range r.Levels {
			if l.Threshold <= 0 {
				bad(fmt.Sprintf(".levels[%d].threshold", j), "a rate threshold must be > 0 (units per hour)")
			}
		}
		checkLevels(".levels", r.Levels, "above")
		if r.Name == "" {
			r.Name = "rate:" + string(r.Sensor)
		}
	case KindAccumulation:
		needSensor()
		if r.Sensor != "" && r.Sensor != schemas.Rainfall {
			bad(".sensor", "accumulation supports rainfall only")
		}
		if r.Window <= 0 || r.Window > 72*time.Hour {
			bad(".window", "must be in (0, 72h], got %s", r.Window)
		} else if rs.Bucket > 0 && r.Window%rs.Bucket != 0 {
			bad(".window", "%s must be a multiple of bucket %s", r.Window, rs.Bucket)
		}
		if len(r.Levels) == 0 {
			bad(".levels", "at least one level is required")
		}
		checkLevels(".levels", r.Levels, "above")
		if r.Name == "" && r.Window > 0 {
			r.Name = "accum:" + string(r.Sensor) + ":" + windowLabel(r.Window)
		}
	case KindOffline:
		if r.K == 0 {
			r.K = 3
		}
		if r.K < 1 || r.K > 1000 {
			bad(".k", "must be in [1, 1000], got %g", r.K)
		}
		if r.Name == "" {
			r.Name = "offline"
		}
	case KindQuality:
		needSensor()
		switch r.Check {
		case CheckStuck:
			if r.Count < 2 || r.Count > 1000 {
				bad(".count", "must be in [2, 1000], got %d", r.Count)
			}
		case CheckSpike:
			if !(r.MaxJump > 0) {
				bad(".max_jump", "must be > 0")
			}
		default:
			bad(".check", "must be stuck or spike, got %q", r.Check)
		}
		if r.Name == "" {
			r.Name = "quality:" + r.Check + ":" + string(r.Sensor)
		}
	case KindComposite:
		switch r.Op {
		case "and", "or":
		default:
			bad(".op", "must be and or or, got %q", r.Op)
		}
		if r.Scope == "" {
			r.Scope = ScopeStation
		}
		switch r.Scope {
		case ScopeStation:
			if len(r.Of) < 2 {
				bad(".of", "a composite needs at least two operands")
			}
			if len(r.Basins) > 0 {
				bad(".basins", "only for scope basin")
			}
		case ScopeBasin:
			if len(r.Of) < 1 {
				bad(".of", "a basin composite needs at least one operand")
			}
			if len(r.Stations) > 0 || len(r.Overrides) > 0 {
				bad(".stations", "a basin composite takes basins, not stations or overrides")
			}
		default:
			bad(".scope", "must be station or basin, got %q", r.Scope)
		}
		for j := range r.Of {
			if r.Of[j].MinLevel == 0 {
				r.Of[j].MinLevel = 1
			}
			if r.Of[j].MinLevel < 1 || r.Of[j].MinLevel > MaxLevels {
				bad(fmt.Sprintf(".of[%d].min_level", j), "must be in [1, %d]", MaxLevels)
			}
			switch {
			case r.Scope == ScopeBasin && r.Of[j].MinStations == 0:
				r.Of[j].MinStations = 1
			case r.Scope == ScopeStation && r.Of[j].MinStations != 0:
				bad(fmt.Sprintf(".of[%d].min_stations", j), "only for scope basin")
			}
			if r.Of[j].MinStations < 0 {
				bad(fmt.Sprintf(".of[%d].min_stations", j), "must be at least 1")
			}
		}
		if r.Name == "" {
			bad(".name", "a composite rule must be named")
		}
	default:
		bad(".kind", "must be one of level, rate, accumulation, offline, quality, composite; got %q", r.Kind)
	}
	if r.Name != "" {
		if strings.ContainsAny(r.Name, "\x00\n") || len(r.Name) > 128 {
			bad(".name", "must be at most 128 printable characters")
		}
		if j, dup := names[r.Name]; dup {
			bad(".name", "duplicate rule name %q (also rules[%d])", r.Name, j)
		} else {
			names[r.Name] = i
		}
	}
	for _, id := range r.Stations {
		if !schemas.ValidStationID(id) {
			bad(".stations", "%q is not a valid station id", id)
		}
	}
	for id, o := range r.Overrides {
		ok := fmt.Sprintf(".overrides.%s", id)
		if !schemas.ValidStationID(id) {
			bad(ok, "%q is not a valid station id", id)
		}
		if o.ClearMargin != nil && !(*o.ClearMargin >= 0) {
			bad(ok+".clear_margin", "must be >= 0")
		}
		if o.MinCount != nil && *o.MinCount < 0 {
			bad(ok+".min_count", "must be >= 0")
		}
		if len(o.Levels) > 0 {
			if r.Kind != KindLevel && r.Kind != KindRate && r.Kind != KindAccumulation {
				bad(ok+".levels", "only level, rate and accumulation rules have levels")
			}
			checkLevels(ok+".levels", o.Levels, r.Direction)
		}
	}
	return errs
}

// BasinRules returns the basin-scope composite rules, which the processor
// does not evaluate (a station's processor sees only its own partitions);
// the alerts service does (package alerts/basin).
func (rs *RuleSet) BasinRules() []RuleSpec {
	var out []RuleSpec
	for _, r := range rs.Rules {
		if r.Kind == KindComposite && r.Scope == ScopeBasin {
			out = append(out, r)
		}
	}
	return out
}
