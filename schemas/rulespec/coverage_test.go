package rulespec

import (
	"strings"
	"testing"

	"github.com/resilience-project/resilience/schemas"
)

// TestCoverageOfDefaults: the default rules watch every sensor kind the
// example registry's stations declare, at every station declaring it.
func TestCoverageOfDefaults(t *testing.T) {
	reg, err := schemas.LoadRegistry("../../deployments/config/stations.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := CoverageOf(Default(), reg)
	for _, k := range c.Sensors() {
		if len(c.BySensor[k]) == 0 {
			t.Errorf("no rule watches %s", k)
		}
	}
	if len(c.Unwatched) != 0 {
		t.Errorf("unwatched: %v", c.Unwatched)
	}
	want := map[schemas.Sensor]string{
		schemas.WindSpeed:    "level:wind_speed",
		schemas.WindGust:     "level:wind_gust",
		schemas.SoilMoisture: "landslide:tilt",
		schemas.Tilt:         "rate:tilt,landslide:tilt,quality:stuck:tilt,quality:spike:tilt",
		schemas.FloodDepth:   "level:flood_depth,rate:flood_depth,quality:spike:flood_depth",
	}
	for k, w := range want {
		got := strings.Join(c.BySensor[k], ",")
		for _, n := range strings.Split(w, ",") {
			if !strings.Contains(got, n) {
				t.Errorf("%s watched by %s, want %s among them", k, got, n)
			}
		}
	}
}

// TestCoverageWarnsUnwatched: a declared sensor no rule watches (at that
// station) is listed, per station.
func TestCoverageWarnsUnwatched(t *testing.T) {
	reg, err := schemas.NewRegistry([]schemas.Station{
		{ID: "A", Interval: 600e9, Sensors: []schemas.Sensor{schemas.WaterLevel, schemas.Battery, schemas.SoilMoisture, schemas.Tilt}},
		{ID: "B", Interval: 600e9, Sensors: []schemas.Sensor{schemas.WaterLevel, schemas.WindSpeed}, AlarmLevelsM: schemas.Levels{I: 1, II: 2, III: 3}},
	})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := Parse([]byte("rules:\n  - {kind: level, sensor: water_level, levels_from_registry: true}\n  - {kind: landslide, levels: [{threshold: 1}], stations: [A]}\n  - {kind: offline}\n"))
	if err != nil {
		t.Fatal(err)
	}
	c := CoverageOf(rs, reg)
	var got []string
	for _, u := range c.Unwatched {
		got = append(got, u.Station+"/"+string(u.Sensor))
	}
	// A: no registry levels, no saturation value; B: no wind rule.
	if w := "A/water_level,A/battery,A/soil_moisture,B/wind_speed"; strings.Join(got, ",") != w {
		t.Errorf("unwatched %v, want %s", got, w)
	}
	if got := strings.Join(c.BySensor[schemas.WaterLevel], ","); got != "level:water_level" {
		t.Errorf("water_level watched by %q", got)
	}
	var ks []string
	for _, k := range c.Sensors() {
		ks = append(ks, string(k))
	}
	if w := "battery,soil_moisture,tilt,water_level,wind_speed"; strings.Join(ks, ",") != w {
		t.Errorf("sensors %v, want %s", ks, w)
	}
}
