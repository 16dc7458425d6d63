package rulespec

// offlineKind: no reading for k times the station's interval.
var offlineKind = KindSpec{
	Kind:     KindOffline,
	Name:     func(*Rule) string { return "offline" },
	Validate: validateOffline,
	Defaults: func(r *Rule) {
		if r.K == 0 {
			r.K = DefaultK
		}
	},
}

func validateOffline(r *Rule, _ *Env, p *Problems) {
	k := r.K
	if k == 0 {
		k = DefaultK
	}
	if !(k >= 1 && k <= MaxK) {
		p.Add(".k", "must be in [1, %d], got %g", MaxK, r.K)
	}
}
