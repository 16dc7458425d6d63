package rulespec

import (
	"fmt"

	"github.com/resilience-project/resilience/schemas"
)

// levelKind: a reading against thresholds (BĐ I/II/III), above or below,
// optionally from the station registry.
var levelKind = KindSpec{
	Kind:        KindLevel,
	HasLevels:   true,
	Directional: true,
	Name:        func(r *Rule) string { return "level:" + string(r.Sensor) },
	Validate:    validateLevel,
	Defaults: func(r *Rule) {
		if r.Direction == "" {
			r.Direction = DirectionAbove
		}
	},
}

func validateLevel(r *Rule, _ *Env, p *Problems) {
	p.sensor(r)
	switch r.Direction {
	case "", DirectionAbove, DirectionBelow:
	default:
		p.Add(".direction", "must be above or below, got %q", r.Direction)
	}
	if r.LevelsFromRegistry && r.Sensor != schemas.WaterLevel && r.Sensor != schemas.FloodDepth {
		p.Add(".levels_from_registry", "the registry has levels only for water_level and flood_depth")
	}
	if r.LevelsFromRegistry && r.Direction == DirectionBelow {
		p.Add(".levels_from_registry", "registry levels are rising (direction above)")
	}
	if !r.LevelsFromRegistry && len(r.Levels) == 0 {
		p.Add(".levels", "at least one level is required (or levels_from_registry: true)")
	}
	if n := len(r.RegistryLevelNames); n != 0 && n != MaxRegistryLevelNames {
		// Fewer names used to be ignored silently (the levels kept I, II, III).
		p.Add(".registry_level_names", "name all %d registry levels (I, II, III) or none, got %d", MaxRegistryLevelNames, n)
	}
	for j, n := range r.RegistryLevelNames {
		if len(n) > MaxLabelLen {
			p.Add(fmt.Sprintf(".registry_level_names[%d]", j), "at most %d bytes", MaxLabelLen)
		}
	}
	p.levels(".levels", r.Levels, r.Direction)
}
