package rulespec

// WithDefaults returns a copy of rs with every default filled in:
// allowed_lateness and bucket, each rule's severity, name and its kind's
// defaults (KindSpec.Defaults). The copy shares no memory with rs, and rs
// is not changed. WithDefaults is idempotent. It does not validate: call
// Validate first (Parse does both).
func (rs *RuleSet) WithDefaults() *RuleSet {
	out := &RuleSet{AllowedLateness: rs.AllowedLateness, Bucket: rs.Bucket}
	if out.AllowedLateness == 0 {
		out.AllowedLateness = DefaultAllowedLateness
	}
	if out.Bucket == 0 {
		out.Bucket = DefaultBucket
	}
	if rs.Rules != nil {
		out.Rules = make([]Rule, len(rs.Rules))
	}
	for i := range rs.Rules {
		out.Rules[i] = rs.Rules[i].withDefaults()
	}
	return out
}

// withDefaults is a deep copy of r with its defaults filled in.
func (r *Rule) withDefaults() Rule {
	c := r.clone()
	if c.Severity == "" {
		c.Severity = DefaultSeverity
	}
	if k := Lookup(c.Kind); k != nil && k.Defaults != nil {
		k.Defaults(&c)
	}
	c.Name = defaultName(&c)
	return c
}

// clone is a deep copy of r.
func (r *Rule) clone() Rule {
	c := *r
	c.Levels = cloneLevels(r.Levels)
	c.RegistryLevelNames = cloneSlice(r.RegistryLevelNames)
	c.RegistryLevelNamesVI = cloneSlice(r.RegistryLevelNamesVI)
	c.RegistryLevelNamesEN = cloneSlice(r.RegistryLevelNamesEN)
	c.ClearMargin = clonePtr(r.ClearMargin)
	c.Of = cloneSlice(r.Of)
	c.Basins = cloneSlice(r.Basins)
	c.Stations = cloneSlice(r.Stations)
	c.TiltRates = cloneSlice(r.TiltRates)
	if r.Risk != nil {
		t := *r.Risk
		t.BandsMM = cloneSlice(r.Risk.BandsMM)
		t.Short, t.Long = cloneTable(r.Risk.Short), cloneTable(r.Risk.Long)
		c.Risk = &t
	}
	if r.Overrides != nil {
		c.Overrides = make(map[string]Override, len(r.Overrides))
		for id, o := range r.Overrides {
			c.Overrides[id] = Override{Disabled: o.Disabled, Levels: cloneLevels(o.Levels), ClearMargin: clonePtr(o.ClearMargin),
				MinCount: clonePtr(o.MinCount), MinDuration: clonePtr(o.MinDuration)}
		}
	}
	return c
}

func cloneLevels(ls []LevelSpec) []LevelSpec {
	out := cloneSlice(ls)
	for i := range out {
		out[i].ClearMargin = clonePtr(ls[i].ClearMargin)
	}
	return out
}

func cloneSlice[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append(make([]T, 0, len(s)), s...)
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func cloneTable(t [][]int) [][]int {
	if t == nil {
		return nil
	}
	out := make([][]int, len(t))
	for i := range t {
		out[i] = cloneSlice(t[i])
	}
	return out
}
