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
	for _, names := range []struct {
		key  string
		list []string
	}{{".registry_level_names", r.RegistryLevelNames}, {".registry_level_names_vi", r.RegistryLevelNamesVI},
		{".registry_level_names_en", r.RegistryLevelNamesEN}} {
		if n := len(names.list); n != 0 && n != MaxRegistryLevelNames {
			// Fewer names used to be ignored silently (the levels kept I, II, III).
			p.Add(names.key, "name all %d registry levels (I, II, III) or none, got %d", MaxRegistryLevelNames, n)
		}
		for j, n := range names.list {
			if len(n) > MaxLabelLen {
				p.Add(fmt.Sprintf("%s[%d]", names.key, j), "at most %d bytes", MaxLabelLen)
			}
		}
	}
	p.levels(".levels", r.Levels, r.Direction)
}
