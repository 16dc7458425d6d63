package rulespec

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/resilience-project/resilience/schemas"
)

// Validate checks the rule set as written and reports every problem
// (errors.Join), each naming its key and wrapping ErrInvalidRules. It only
// checks: rs is not changed, and zero values that have defaults are valid.
// A RuleSet passes Validate exactly when its WithDefaults does.
func (rs *RuleSet) Validate() error {
	p := &Problems{}
	if rs.AllowedLateness < 0 || rs.AllowedLateness > MaxLateness {
		p.Add("allowed_lateness", "must be in (0, %s], got %s", fmtDur(MaxLateness), rs.AllowedLateness)
	}
	if rs.Bucket != 0 && (rs.Bucket < MinBucket || rs.Bucket > MaxBucket) {
		p.Add("bucket", "must be in [%s, %s], got %s", fmtDur(MinBucket), fmtDur(MaxBucket), rs.Bucket)
	}
	if len(rs.Rules) == 0 {
		p.Add("rules", "at least one rule is required")
	}
	if n := len(rs.Rules) - len(rs.BasinRules()); n > MaxRules {
		p.Add("rules", "at most %d station rules (basin composites not counted), got %d", MaxRules, n)
	}
	env := &Env{Set: rs, names: map[string]int{}}
	for i := range rs.Rules {
		if n := defaultName(&rs.Rules[i]); n != "" {
			if _, dup := env.names[n]; !dup {
				env.names[n] = i
			}
		}
	}
	for i := range rs.Rules {
		rp := &Problems{key: fmt.Sprintf("rules[%d]", i)}
		validateRule(&rs.Rules[i], i, env, rp)
		p.errs = append(p.errs, rp.errs...)
	}
	return errors.Join(p.errs...)
}

// validateRule checks what every kind shares, then the kind's parameters.
func validateRule(r *Rule, i int, env *Env, p *Problems) {
	if r.Severity != "" && !validSeverity(r.Severity) {
		p.Add(".severity", "%q is not one of Minor, Moderate, Severe, Extreme", r.Severity)
	}
	if r.ClearMargin != nil && !(*r.ClearMargin >= 0) {
		p.Add(".clear_margin", "must be >= 0")
	}
	if r.MinCount < 0 {
		p.Add(".min_count", "must be >= 0")
	}
	if r.MinDuration < 0 {
		p.Add(".min_duration", "must be >= 0")
	}
	k := Lookup(r.Kind)
	if k == nil {
		unknownKind(p, r.Kind)
	} else {
		k.Validate(r, env, p)
		if k.MustBeNamed && r.Name == "" {
			p.Add(".name", "a %s rule must be named", r.Kind)
		}
		if !k.Directional && r.Direction != "" {
			p.Add(".direction", "only %s rules have a direction", directionalKinds())
		}
		if !k.Directional && r.LevelsFromRegistry {
			p.Add(".levels_from_registry", "only %s rules take registry levels", directionalKinds())
		}
	}
	validateName(r, i, env, p)
	for _, id := range r.Stations {
		if !schemas.ValidStationID(id) {
			p.Add(".stations", "%q is not a valid station id", id)
		}
	}
	for id, o := range r.Overrides {
		validateOverride(r, k, id, &o, p)
	}
}

func validateName(r *Rule, i int, env *Env, p *Problems) {
	name := defaultName(r)
	if name == "" {
		return
	}
	if strings.ContainsAny(name, "\x00\n") || len(name) > MaxNameLen {
		p.Add(".name", "must be at most %d printable characters", MaxNameLen)
	}
	if j := env.names[name]; j != i {
		p.Add(".name", "duplicate rule name %q (also rules[%d])", name, j)
	}
}

func validateOverride(r *Rule, k *KindSpec, id string, o *Override, p *Problems) {
	key := ".overrides." + id
	if !schemas.ValidStationID(id) {
		p.Add(key, "%q is not a valid station id", id)
	}
	if o.ClearMargin != nil && !(*o.ClearMargin >= 0) {
		p.Add(key+".clear_margin", "must be >= 0")
	}
	if o.MinCount != nil && *o.MinCount < 0 {
		p.Add(key+".min_count", "must be >= 0")
	}
	if len(o.Levels) > 0 {
		if k == nil || !k.HasLevels {
			p.Add(key+".levels", "only %s rules have levels", levelKinds())
		}
		p.levels(key+".levels", o.Levels, r.Direction)
	}
}

// levelKinds lists the kinds with levels: "level, rate and accumulation".
func levelKinds() string { return kindList(func(k *KindSpec) bool { return k.HasLevels }) }

// directionalKinds lists the kinds with a direction: "level".
func directionalKinds() string { return kindList(func(k *KindSpec) bool { return k.Directional }) }

// kindList names the kinds that have property has: "a, b and c".
func kindList(has func(*KindSpec) bool) string {
	var names []string
	for _, k := range kinds {
		if has(k) {
			names = append(names, k.Kind)
		}
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// sensor checks that r names a known sensor.
func (p *Problems) sensor(r *Rule) {
	if r.Sensor == "" {
		p.Add(".sensor", "required for kind %s", r.Kind)
	} else if _, ok := schemas.Specs[r.Sensor]; !ok {
		p.Add(".sensor", "unknown sensor kind %q", r.Sensor)
	}
}

// levels checks a list of levels: at most MaxLevels, finite thresholds
// strictly rising (falling for direction below), margins >= 0, known
// severities, names of at most MaxLabelLen bytes.
func (p *Problems) levels(sub string, levels []LevelSpec, dir string) {
	if len(levels) > MaxLevels {
		p.Add(sub, "at most %d levels", MaxLevels)
	}
	for j := range levels {
		l := &levels[j]
		lk := fmt.Sprintf("%s[%d]", sub, j)
		if math.IsNaN(l.Threshold) || math.IsInf(l.Threshold, 0) {
			p.Add(lk+".threshold", "must be finite")
		}
		if l.ClearMargin != nil && !(*l.ClearMargin >= 0) {
			p.Add(lk+".clear_margin", "must be >= 0")
		}
		if l.Severity != "" && !validSeverity(l.Severity) {
			p.Add(lk+".severity", "%q is not one of Minor, Moderate, Severe, Extreme", l.Severity)
		}
		for _, n := range []struct{ key, v string }{{".name", l.Name}, {".name_vi", l.NameVI}, {".name_en", l.NameEN}} {
			if len(n.v) > MaxLabelLen {
				p.Add(lk+n.key, "at most %d bytes", MaxLabelLen)
			}
		}
		if l.Beaufort < 0 || l.Beaufort > MaxBeaufort {
			p.Add(lk+".beaufort", "must be in [0, %d], got %d", MaxBeaufort, l.Beaufort)
		}
		switch l.Colour {
		case "", ColourLightBlue, ColourLightYellow, ColourOrange, ColourRed, ColourPurple:
		default:
			p.Add(lk+".colour", "must be one of light blue, light yellow, orange, red, purple; got %q", l.Colour)
		}
		if j == 0 {
			continue
		}
		prev := levels[j-1].Threshold
		if dir == DirectionBelow && !(l.Threshold < prev) {
			p.Add(lk+".threshold", "%g must be below level %d's %g (direction below)", l.Threshold, j, prev)
		}
		if dir != DirectionBelow && !(l.Threshold > prev) {
			p.Add(lk+".threshold", "%g must be above level %d's %g", l.Threshold, j, prev)
		}
	}
}

func validSeverity(s schemas.Severity) bool {
	switch s {
	case schemas.SeverityMinor, schemas.SeverityModerate, schemas.SeveritySevere, schemas.SeverityExtreme:
		return true
	}
	return false
}

// WindowLabel renders a window for a rule name and for alert events: 24h,
// 90m, 45s.
func WindowLabel(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	default:
		return fmt.Sprintf("%ds", d/time.Second)
	}
}

// fmtDur renders a bound in error messages as the file writes it: 24h, 1m.
func fmtDur(d time.Duration) string { return WindowLabel(d) }

// grades checks the levels of a kind whose value is a grade (landslide,
// risk): thresholds 1, 2, ... n in order, at most max of them.
func (p *Problems) grades(levels []LevelSpec, max int) {
	if len(levels) == 0 || len(levels) > max {
		p.Add(".levels", "name 1 to %d grades, got %d", max, len(levels))
	}
	for j, l := range levels {
		if l.Threshold != float64(j+1) {
			p.Add(fmt.Sprintf(".levels[%d].threshold", j), "a grade's threshold is its number %d, got %g", j+1, l.Threshold)
		}
	}
	p.levels(".levels", levels, DirectionAbove)
}
