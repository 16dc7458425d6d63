package rulespec

import "fmt"

// rateKind: change per hour over a window (rising water, tilt).
var rateKind = KindSpec{
	Kind:      KindRate,
	HasLevels: true,
	Name:      func(r *Rule) string { return "rate:" + string(r.Sensor) },
	Validate:  validateRate,
	Defaults: func(r *Rule) {
		if r.MinSpan == 0 {
			r.MinSpan = r.Window / 2
		}
	},
}

func validateRate(r *Rule, _ *Env, p *Problems) {
	p.sensor(r)
	if r.Window <= 0 || r.Window > MaxRateWindow {
		p.Add(".window", "must be in (0, %s], got %s", fmtDur(MaxRateWindow), r.Window)
	}
	minSpan := r.MinSpan
	if minSpan == 0 {
		minSpan = r.Window / 2
	}
	if minSpan < 0 || minSpan > r.Window {
		p.Add(".min_span", "must be in (0, window]")
	}
	if len(r.Levels) == 0 {
		p.Add(".levels", "at least one level is required")
	}
	for j, l := range r.Levels {
		if l.Threshold <= 0 {
			p.Add(fmt.Sprintf(".levels[%d].threshold", j), "a rate threshold must be > 0 (units per hour)")
		}
	}
	p.levels(".levels", r.Levels, DirectionAbove)
}
