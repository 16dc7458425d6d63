package rulespec

import "fmt"

// compositeKind: AND/OR of other rules, on one station or across a basin.
var compositeKind = KindSpec{
	Kind:        KindComposite,
	MustBeNamed: true,
	Validate:    validateComposite,
	Defaults:    compositeDefaults,
}

func compositeDefaults(r *Rule) {
	if r.Scope == "" {
		r.Scope = ScopeStation
	}
	for j := range r.Of {
		if r.Of[j].MinLevel == 0 {
			r.Of[j].MinLevel = 1
		}
		if r.Scope == ScopeBasin && r.Of[j].MinStations == 0 {
			r.Of[j].MinStations = 1
		}
	}
}

func validateComposite(r *Rule, env *Env, p *Problems) {
	switch r.Op {
	case "and", "or":
	default:
		p.Add(".op", "must be and or or, got %q", r.Op)
	}
	scope := r.Scope
	if scope == "" {
		scope = ScopeStation
	}
	switch scope {
	case ScopeStation:
		if len(r.Of) < 2 {
			p.Add(".of", "a composite needs at least two operands")
		}
		if len(r.Basins) > 0 {
			p.Add(".basins", "only for scope basin")
		}
	case ScopeBasin:
		if len(r.Of) < 1 {
			p.Add(".of", "a basin composite needs at least one operand")
		}
		if len(r.Stations) > 0 || len(r.Overrides) > 0 {
			p.Add(".stations", "a basin composite takes basins, not stations or overrides")
		}
	default:
		p.Add(".scope", "must be station or basin, got %q", r.Scope)
	}
	for j, t := range r.Of {
		key := fmt.Sprintf(".of[%d]", j)
		if t.MinLevel < 0 || t.MinLevel > MaxLevels {
			p.Add(key+".min_level", "must be in [1, %d]", MaxLevels)
		}
		if scope == ScopeStation && t.MinStations != 0 {
			p.Add(key+".min_stations", "only for scope basin")
		}
		if t.MinStations < 0 {
			p.Add(key+".min_stations", "must be at least 1")
		}
	}
	// Operands name other rules of the file, not composites (no
	// recursion).
	for j, t := range r.Of {
		key := fmt.Sprintf(".of[%d].rule", j)
		switch o, _, ok := env.Rule(t.Rule); {
		case !ok:
			p.Add(key, "unknown rule %q", t.Rule)
		case o.Kind == KindComposite:
			p.Add(key, "%q is a composite; composites of composites are not supported", t.Rule)
		}
	}
}
