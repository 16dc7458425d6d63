package rulespec

import (
	"fmt"
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
//   - composite flood:rain-and-rise: 3h rain heavy AND water rising;
//   - level:wind_speed and level:wind_gust graded by the Beaufort bands of
//     Decision 18/2021/QĐ-TTg, Appendix III (WindLevels): sustained wind
//     for 10 minutes before the first alert and clearing 1.5 m/s below a
//     grade, gusts on two consecutive readings and clearing 2.5 m/s below;
//   - rate:flood_depth >= 20 cm/h (rising) and >= 60 cm/h (rising fast)
//     over 15 minutes (FloodNet: the water peaked within 20 minutes), an
//     estimate;
//   - landslide:tilt (tilt rate, soil moisture near saturation, 72 h rain;
//     see the landslide kind) with precaution, warning and alarm;
//   - risk:rainfall, the official risk levels 1-5 from the rain
//     (DefaultRiskTable, an estimate) for stations with a hazard zone.
//
// Every call returns a fresh copy.
func Default() *RuleSet {
	rs := &RuleSet{
		AllowedLateness: DefaultAllowedLateness,
		Bucket:          DefaultBucket,
		Rules: []Rule{
			{Kind: KindLevel, Sensor: schemas.WaterLevel, LevelsFromRegistry: true, ClearMargin: f64(0.15),
				RegistryLevelNames:   []string{"BĐ I", "BĐ II", "BĐ III"},
				RegistryLevelNamesVI: []string{"báo động I", "báo động II", "báo động III"},
				RegistryLevelNamesEN: []string{"alarm level I", "alarm level II", "alarm level III"}},
			{Kind: KindLevel, Sensor: schemas.FloodDepth, LevelsFromRegistry: true, ClearMargin: f64(2),
				RegistryLevelNames:   []string{"flood I", "flood II", "flood III"},
				RegistryLevelNamesVI: []string{"ngập cấp I", "ngập cấp II", "ngập cấp III"},
				RegistryLevelNamesEN: []string{"flood level I", "flood level II", "flood level III"}},
			{Kind: KindRate, Sensor: schemas.WaterLevel, Window: time.Hour, Levels: []LevelSpec{
				{Name: "rising fast", NameVI: "nước lên nhanh", NameEN: "water rising fast", Threshold: 0.3, ClearMargin: f64(0.1), Severity: schemas.SeverityModerate}}},
			{Kind: KindRate, Sensor: schemas.Tilt, Window: time.Hour, Absolute: true, Levels: []LevelSpec{
				{Name: "precaution", NameVI: "đề phòng (nghiêng)", NameEN: "tilt precaution", Threshold: 0.01, ClearMargin: f64(0.005), Severity: schemas.SeverityModerate},
				{Name: "warning", NameVI: "cảnh báo (nghiêng)", NameEN: "tilt warning", Threshold: 0.1, ClearMargin: f64(0.05), Severity: schemas.SeveritySevere}}},
			{Kind: KindAccumulation, Sensor: schemas.Rainfall, Window: 3 * time.Hour, Levels: []LevelSpec{
				{Name: "intense", NameVI: "mưa cường suất lớn", NameEN: "intense rain", Threshold: 80.1, ClearMargin: f64(5), Severity: schemas.SeveritySevere}}},
			{Kind: KindAccumulation, Sensor: schemas.Rainfall, Window: 12 * time.Hour, Levels: []LevelSpec{
				{Name: "moderate", NameVI: "mưa vừa", NameEN: "moderate rain", Threshold: 8, ClearMargin: f64(1), Severity: schemas.SeverityMinor},
				{Name: "heavy", NameVI: "mưa to", NameEN: "heavy rain", Threshold: 25.1, ClearMargin: f64(2), Severity: schemas.SeverityModerate},
				{Name: "very heavy", NameVI: "mưa rất to", NameEN: "very heavy rain", Threshold: 50.1, ClearMargin: f64(3), Severity: schemas.SeveritySevere}}},
			{Kind: KindAccumulation, Sensor: schemas.Rainfall, Window: 24 * time.Hour, Levels: []LevelSpec{
				{Name: "moderate", NameVI: "mưa vừa", NameEN: "moderate rain", Threshold: 16, ClearMargin: f64(2), Severity: schemas.SeverityMinor},
				{Name: "heavy", NameVI: "mưa to", NameEN: "heavy rain", Threshold: 50.1, ClearMargin: f64(3), Severity: schemas.SeverityModerate},
				{Name: "very heavy", NameVI: "mưa rất to", NameEN: "very heavy rain", Threshold: 100.1, ClearMargin: f64(5), Severity: schemas.SeveritySevere}}},
			{Kind: KindAccumulation, Sensor: schemas.Rainfall, Window: 72 * time.Hour, Levels: []LevelSpec{
				{Name: "prolonged", NameVI: "mưa kéo dài", NameEN: "prolonged rain", Threshold: 200, ClearMargin: f64(10), Severity: schemas.SeverityModerate}}},
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
			{Kind: KindLevel, Sensor: schemas.WindSpeed, Levels: WindLevels(), ClearMargin: f64(1.5), MinDuration: 10 * time.Minute},
			{Kind: KindLevel, Sensor: schemas.WindGust, Levels: WindLevels(), ClearMargin: f64(2.5), MinCount: 2},
			{Kind: KindRate, Sensor: schemas.FloodDepth, Window: 15 * time.Minute, Levels: []LevelSpec{
				{Name: "rising", NameVI: "nước đang lên", NameEN: "water rising", Threshold: 20, ClearMargin: f64(5), Severity: schemas.SeverityModerate},
				{Name: "rising fast", NameVI: "nước lên nhanh", NameEN: "water rising fast", Threshold: 60, ClearMargin: f64(10), Severity: schemas.SeveritySevere}}},
			{Kind: KindLandslide, Levels: []LevelSpec{
				{Name: "precaution", NameVI: "đề phòng sạt lở", NameEN: "landslide precaution", Threshold: 1, Severity: schemas.SeverityModerate},
				{Name: "warning", NameVI: "cảnh báo sạt lở", NameEN: "landslide warning", Threshold: 2, Severity: schemas.SeveritySevere},
				{Name: "alarm", NameVI: "báo động sạt lở", NameEN: "landslide alarm", Threshold: 3, Severity: schemas.SeverityExtreme}}},
			{Kind: KindRisk, Levels: RiskLevelSpecs()},
		},
	}
	if err := rs.Validate(); err != nil {
		panic("rulespec: Default is invalid: " + err.Error())
	}
	return rs.WithDefaults()
}

// WindLevels are the wind grades of Decision 18/2021/QĐ-TTg, Appendix III,
// by the Beaufort scale in m/s: tropical depression (Beaufort 6-7, from
// 10.8), storm (8-9, from 17.2), strong storm (10-11, from 24.5), very
// strong storm (12-15, from 32.7), super typhoon (16 and above, from 51.0).
func WindLevels() []LevelSpec {
	return []LevelSpec{
		{Name: "tropical depression", NameVI: "áp thấp nhiệt đới", NameEN: "tropical depression", Beaufort: 6, Threshold: 10.8, Severity: schemas.SeverityModerate},
		{Name: "storm", NameVI: "bão", NameEN: "storm", Beaufort: 8, Threshold: 17.2, Severity: schemas.SeveritySevere},
		{Name: "strong storm", NameVI: "bão mạnh", NameEN: "strong storm", Beaufort: 10, Threshold: 24.5, Severity: schemas.SeveritySevere},
		{Name: "very strong storm", NameVI: "bão rất mạnh", NameEN: "very strong storm", Beaufort: 12, Threshold: 32.7, Severity: schemas.SeverityExtreme},
		{Name: "super typhoon", NameVI: "siêu bão", NameEN: "super typhoon", Beaufort: 16, Threshold: 51.0, Severity: schemas.SeverityExtreme},
	}
}

// RiskLevelSpecs are the five risk levels of Decision 18/2021/QĐ-TTg with
// the decision's colours.
func RiskLevelSpecs() []LevelSpec {
	colours := []string{ColourLightBlue, ColourLightYellow, ColourOrange, ColourRed, ColourPurple}
	sevs := []schemas.Severity{schemas.SeverityMinor, schemas.SeverityModerate, schemas.SeveritySevere, schemas.SeverityExtreme, schemas.SeverityExtreme}
	out := make([]LevelSpec, RiskLevels)
	for i := range out {
		n := i + 1
		out[i] = LevelSpec{Name: fmt.Sprintf("risk level %d", n), NameVI: fmt.Sprintf("rủi ro thiên tai cấp %d", n),
			NameEN: fmt.Sprintf("disaster risk level %d", n), Colour: colours[i], Threshold: float64(n), Severity: sevs[i]}
	}
	return out
}
