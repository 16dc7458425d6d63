package rulespec

import (
	"time"

	"github.com/resilience-project/resilience/schemas"
)

func f64(v float64) *float64 { return &v }

// Default returns the built-in rules, taken from the domain reference
// (deployments/config/rules.yaml is the same set written out), validated
// and with defaults filled in:
//
//   - level:water_level and level:flood_depth from each station's registry
//     alarm levels I/II/III, clearing 0.15 m / 2 cm below a level;
//   - rate:water_level rising >= 0.3 m/h over 1h; rate:tilt >= 0.01 deg/h
//     (precaution) and >= 0.1 deg/h (warning);
//   - rainfall accumulation classes: 24h moderate 16-50 mm, heavy 51-100,
//     very heavy > 100; 12h 8-25 / 26-50 / > 50; 3h intense > 80 mm;
//     72h > 200 mm (prolonged, antecedent rain);
//   - offline after 3 missed intervals;
//   - stuck (36 identical readings) and spike checks for water_level,
//     flood_depth and tilt;
//   - composite flood:rain-and-rise: 3h rain heavy AND water rising.
//
// Every call returns a fresh copy.
func Default() *RuleSet {
	rs := &RuleSet{
		AllowedLateness: DefaultAllowedLateness,
		Bucket:          DefaultBucket,
		Rules: []Rule{
			{Kind: KindLevel, Sensor: schemas.WaterLevel, LevelsFromRegistry: true, ClearMargin: f64(0.15),
				RegistryLevelNames: []string{"BĐ I", "BĐ II", "BĐ III"}},
			{Kind: KindLevel, Sensor: schemas.FloodDepth, LevelsFromRegistry: true, ClearMargin: f64(2),
				RegistryLevelNames: []string{"flood I", "flood II", "flood III"}},
			{Kind: KindRate, Sensor: schemas.WaterLevel, Window: time.Hour, Levels: []LevelSpec{
				{Name: "rising fast", Threshold: 0.3, ClearMargin: f64(0.1), Severity: schemas.SeverityModerate}}},
			{Kind: KindRate, Sensor: schemas.Tilt, Window: time.Hour, Absolute: true, Levels: []LevelSpec{
				{Name: "precaution", Threshold: 0.01, ClearMargin: f64(0.005), Severity: schemas.SeverityModerate},
				{Name: "warning", Threshold: 0.1, ClearMargin: f64(0.05), Severity: schemas.SeveritySevere}}},
			{Kind: KindAccumulation, Sensor: schemas.Rainfall, Window: 3 * time.Hour, Levels: []LevelSpec{
				{Name: "intense", Threshold: 80.1, ClearMargin: f64(5), Severity: schemas.SeveritySevere}}},
			{Kind: KindAccumulation, Sensor: schemas.Rainfall, Window: 12 * time.Hour, Levels: []LevelSpec{
				{Name: "moderate", Threshold: 8, ClearMargin: f64(1), Severity: schemas.SeverityMinor},
				{Name: "heavy", Threshold: 25.1, ClearMargin: f64(2), Severity: schemas.SeverityModerate},
				{Name: "very heavy", Threshold: 50.1, ClearMargin: f64(3), Severity: schemas.SeveritySevere}}},
			{Kind: KindAccumulation, Sensor: schemas.Rainfall, Window: 24 * time.Hour, Levels: []LevelSpec{
				{Name: "moderate", Threshold: 16, ClearMargin: f64(2), Severity: schemas.SeverityMinor},
				{Name: "heavy", Threshold: 50.1, ClearMargin: f64(3), Severity: schemas.SeverityModerate},
				{Name: "very heavy", Threshold: 100.1, ClearMargin: f64(5), Severity: schemas.SeveritySevere}}},
			{Kind: KindAccumulation, Sensor: schemas.Rainfall, Window: 72 * time.Hour, Levels: []LevelSpec{
				{Name: "prolonged", Threshold: 200, ClearMargin: f64(10), Severity: schemas.SeverityModerate}}},
			{Kind: KindOffline, K: 3, Severity: schemas.SeverityMinor},
			{Kind: KindQuality, Check: CheckStuck, Sensor: schemas.WaterLevel, Count: 36, Severity: schemas.SeverityMinor},
			{Kind: KindQuality, Check: CheckSpike, Sensor: schemas.WaterLevel, MaxJump: 1.0, Severity: schemas.SeverityMinor},
			{Kind: KindQuality, Check: CheckSpike, Sensor: schemas.FloodDepth, MaxJump: 60, Severity: schemas.SeverityMinor},
			{Kind: KindQuality, Check: CheckStuck, Sensor: schemas.Tilt, Count: 144, Severity: schemas.SeverityMinor},
			{Kind: KindQuality, Check: CheckSpike, Sensor: schemas.Tilt, MaxJump: 5, Severity: schemas.SeverityMinor},
			{Name: "composite:rain-and-rise", Kind: KindComposite, Op: "and", Severity: schemas.SeveritySevere,
				Of: []Term{{Rule: "accum:rainfall:12h", MinLevel: 2}, {Rule: "rate:water_level", MinLevel: 1}}},
			{Name: "basin:rain-and-rise", Kind: KindComposite, Scope: ScopeBasin, Op: "and", Severity: schemas.SeveritySevere,
				Of: []Term{{Rule: "accum:rainfall:12h", MinLevel: 2}, {Rule: "rate:water_level", MinLevel: 1}}},
			{Name: "basin:two-stations-bd2", Kind: KindComposite, Scope: ScopeBasin, Op: "or", Severity: schemas.SeveritySevere,
				Of: []Term{{Rule: "level:water_level", MinLevel: 2, MinStations: 2}}},
		},
	}
	if err := rs.Validate(); err != nil {
		panic("rulespec: Default is invalid: " + err.Error())
	}
	return rs.WithDefaults()
}
