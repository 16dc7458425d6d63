package rules

import (
	"fmt"

	"github.com/resilience-project/resilience/schemas"
)

// compositeRule is a station composite: AND/OR over the station's other
// rules, each term true while its alert is at MinLevel or above.
type compositeRule struct {
	and   bool
	terms []Term
}

func compileComposite(b *bound, r *RuleSpec, _ *schemas.Station, rc *ruleClass) {
	b.levels = rc.intern.get(levelKey{r, "composite"}, func() []level {
		return []level{{thr: 1, name: r.Name, nameVI: "cảnh báo kết hợp", nameEN: "combined warning", sev: r.Severity}}
	})
	rc.addDerived(b, &compositeRule{and: r.Op == "and", terms: r.Of})
}

func (k *compositeRule) holds(st *State) bool {
	on := k.and
	for _, t := range k.terms {
		lvl := 0
		if rs := st.ruleNamed(t.Rule); rs != nil {
			lvl = rs.Level
		}
		if k.and {
			on = on && lvl >= t.MinLevel
		} else {
			on = on || lvl >= t.MinLevel
		}
	}
	return on
}

func (k *compositeRule) message(b *bound, kind schemas.AlertKind, _ int, _ string, _, _ float64) string {
	return fmt.Sprintf("%s %s", b.name, kind)
}
