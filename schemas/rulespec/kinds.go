package rulespec

import (
	"fmt"
	"strings"
	"time"
)

// KindSpec is one rule kind of the rules file: what it checks, the
// defaults it fills and the name an unnamed rule of it gets. Each kind is
// one kind_*.go file and one entry of the kinds table below.
type KindSpec struct {
	// Kind is the name written in the file (Rule.Kind).
	Kind string
	// HasLevels: the kind watches a value against Levels, so overrides may
	// replace them.
	HasLevels bool
	// MustBeNamed: the kind has no default name.
	MustBeNamed bool
	// Directional: direction and levels_from_registry apply (the engine
	// would otherwise negate or replace any kind's levels with them).
	Directional bool
	// Name is the default name of an unnamed rule r ("" when none can be
	// derived, e.g. an invalid window). Nil: no default name.
	Name func(r *Rule) string
	// Validate checks the kind's own parameters of r as written (a zero
	// value that has a default is valid) and adds each problem to p. It
	// must not change r.
	Validate func(r *Rule, env *Env, p *Problems)
	// Defaults fills the kind's defaults into r, a copy WithDefaults owns.
	// Nil: the kind has none.
	Defaults func(r *Rule)
}

// kinds is the registration table of the rule kinds, in the order the
// error for an unknown kind lists them. It is never modified.
var kinds = []*KindSpec{
	&levelKind,
	&rateKind,
	&accumulationKind,
	&offlineKind,
	&qualityKind,
	&compositeKind,
	&landslideKind,
	&riskKind,
}

// Kinds returns the names of the rule kinds.
func Kinds() []string {
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = k.Kind
	}
	return out
}

// Lookup returns the KindSpec of kind, or nil for an unknown kind.
func Lookup(kind string) *KindSpec {
	for _, k := range kinds {
		if k.Kind == kind {
			return k
		}
	}
	return nil
}

// defaultName is the name rule r has once defaults are filled in: its own,
// or its kind's default ("" if none).
func defaultName(r *Rule) string {
	if r.Name != "" {
		return r.Name
	}
	if k := Lookup(r.Kind); k != nil && k.Name != nil {
		return k.Name(r)
	}
	return ""
}

func unknownKind(p *Problems, kind string) {
	p.Add(".kind", "must be one of %s; got %q", strings.Join(Kinds(), ", "), kind)
}

// Problems collects validation problems under a key path, e.g. rules[3].
type Problems struct {
	key  string
	errs []error
}

// Add records a problem with the key below the path (".window",
// ".levels[1].threshold", or "" for the path itself).
func (p *Problems) Add(sub, format string, args ...any) {
	p.errs = append(p.errs, invalid(p.key+sub, format, args...))
}

func invalid(key, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidRules, key, fmt.Sprintf(format, args...))
}

// Env is what a kind's checks may consult besides its rule: the rule set
// and the names its rules have once defaults are filled in.
type Env struct {
	// Set is the rule set being validated, as written.
	Set   *RuleSet
	names map[string]int
}

// Rule returns the rule that has name (after defaults; the first one with
// it) and its index.
func (e *Env) Rule(name string) (*Rule, int, bool) {
	i, ok := e.names[name]
	if !ok {
		return nil, 0, false
	}
	return &e.Set.Rules[i], i, true
}

// Bucket is the rainfall bucket in force (the default if unset).
func (e *Env) Bucket() time.Duration {
	if e.Set.Bucket == 0 {
		return DefaultBucket
	}
	return e.Set.Bucket
}
