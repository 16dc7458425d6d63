package rulespec

// qualityKind: sensor faults, a stuck value or a spike.
var qualityKind = KindSpec{
	Kind:     KindQuality,
	Name:     func(r *Rule) string { return "quality:" + r.Check + ":" + string(r.Sensor) },
	Validate: validateQuality,
}

func validateQuality(r *Rule, _ *Env, p *Problems) {
	p.sensor(r)
	switch r.Check {
	case CheckStuck:
		if r.Count < 2 || r.Count > MaxStuckCount {
			p.Add(".count", "must be in [2, %d], got %d", MaxStuckCount, r.Count)
		}
	case CheckSpike:
		if !(r.MaxJump > 0) {
			p.Add(".max_jump", "must be > 0")
		}
	default:
		p.Add(".check", "must be stuck or spike, got %q", r.Check)
	}
}
