package rulespec

import (
	"sort"

	"github.com/resilience-project/resilience/schemas"
)

// Coverage is which rules watch the sensors the registry's stations
// declare (`resilience rules check`).
type Coverage struct {
	// BySensor lists, per sensor kind declared by some station, the rules
	// that watch it at one or more of those stations, in file order.
	BySensor map[schemas.Sensor][]string
	// Unwatched are the (station, sensor) pairs no rule watches, by
	// station id then sensor.
	Unwatched []StationSensor
}

// StationSensor is one sensor of one station.
type StationSensor struct {
	Station string
	Sensor  schemas.Sensor
}

// Sensors returns the sensor kinds of BySensor, sorted.
func (c *Coverage) Sensors() []schemas.Sensor {
	out := make([]schemas.Sensor, 0, len(c.BySensor))
	for k := range c.BySensor {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Watches reports the sensors rule r (defaults filled in) reads at
// station st: its sensor, rainfall for accumulation and risk rules, tilt,
// soil moisture and rainfall for landslide rules. The offline rule and
// composites read no sensor. Station-specific conditions count: the rule's
// stations list and disabled overrides, registry levels (a level rule
// taking them has no levels where the station has none and the rule
// gives no fallback), a hazard zone for risk rules, a saturation value
// for the soil moisture of landslide rules.
func (r *Rule) Watches(st *schemas.Station) []schemas.Sensor {
	if r.IsBasin() || (len(r.Stations) > 0 && !contains(r.Stations, st.ID)) || r.Overrides[st.ID].Disabled {
		return nil
	}
	switch r.Kind {
	case KindLevel:
		if r.LevelsFromRegistry && len(r.Levels) == 0 && len(r.Overrides[st.ID].Levels) == 0 {
			l := st.FloodDepthLevelsCM
			if r.Sensor == schemas.WaterLevel {
				l = st.AlarmLevelsM
			}
			if !l.Set() {
				return nil
			}
		}
		return []schemas.Sensor{r.Sensor}
	case KindRate, KindQuality:
		return []schemas.Sensor{r.Sensor}
	case KindAccumulation:
		return []schemas.Sensor{schemas.Rainfall}
	case KindRisk:
		if st.HazardZone < 1 {
			return nil
		}
		return []schemas.Sensor{schemas.Rainfall}
	case KindLandslide:
		out := []schemas.Sensor{schemas.Tilt, schemas.Rainfall}
		if st.SaturationPct > 0 {
			out = append(out, schemas.SoilMoisture)
		}
		return out
	}
	return nil
}

// CoverageOf is the coverage of rule set rs (as Parse returns it, defaults
// filled in) over the stations of reg.
func CoverageOf(rs *RuleSet, reg *schemas.Registry) *Coverage {
	c := &Coverage{BySensor: map[schemas.Sensor][]string{}}
	for _, id := range reg.IDs() {
		st := reg.Lookup(id)
		watched := map[schemas.Sensor]bool{}
		for i := range rs.Rules {
			r := &rs.Rules[i]
			for _, k := range r.Watches(st) {
				if !st.HasSensor(k) {
					continue
				}
				watched[k] = true
				if !contains(c.BySensor[k], r.Name) {
					c.BySensor[k] = append(c.BySensor[k], r.Name)
				}
			}
		}
		for _, k := range st.Sensors {
			if _, ok := c.BySensor[k]; !ok {
				c.BySensor[k] = nil
			}
			if !watched[k] {
				c.Unwatched = append(c.Unwatched, StationSensor{Station: id, Sensor: k})
			}
		}
	}
	// BySensor in file order, whatever the station order.
	order := map[string]int{}
	for i, n := range rs.Names() {
		order[n] = i
	}
	for _, names := range c.BySensor {
		sort.Slice(names, func(i, j int) bool { return order[names[i]] < order[names[j]] })
	}
	return c
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
