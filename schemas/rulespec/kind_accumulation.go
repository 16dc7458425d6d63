package rulespec

import "github.com/resilience-project/resilience/schemas"

// accumulationKind: rolling rainfall over a window.
var accumulationKind = KindSpec{
	Kind:      KindAccumulation,
	HasLevels: true,
	Name: func(r *Rule) string {
		if r.Window <= 0 {
			return ""
		}
		return "accum:" + string(r.Sensor) + ":" + WindowLabel(r.Window)
	},
	Validate: validateAccumulation,
}

func validateAccumulation(r *Rule, env *Env, p *Problems) {
	p.sensor(r)
	if r.Sensor != "" && r.Sensor != schemas.Rainfall {
		p.Add(".sensor", "accumulation supports rainfall only")
	}
	if r.Window <= 0 || r.Window > MaxAccumulationWindow {
		p.Add(".window", "must be in (0, %s], got %s", fmtDur(MaxAccumulationWindow), r.Window)
	} else if b := env.Bucket(); b > 0 && r.Window%b != 0 {
		p.Add(".window", "%s must be a multiple of bucket %s", r.Window, b)
	}
	if len(r.Levels) == 0 {
		p.Add(".levels", "at least one level is required")
	}
	p.levels(".levels", r.Levels, DirectionAbove)
}
