package rulespec

import (
	"fmt"
	"math"

	"github.com/resilience-project/resilience/schemas"
)

// DefaultRainyDayMM is the rain that makes a day count as a rainy day for
// the duration of the rain: 16 mm in 24 h, the lower bound of the
// hydromet class "moderate rain".
const DefaultRainyDayMM = 16.0

// DefaultRiskTable is the risk table used where a risk rule gives none.
//
// ESTIMATE: Decision 18/2021/QĐ-TTg, Article 46, grades the risk of flash
// floods and landslides from the 24 h rain band (100-200 / 200-400 /
// > 400 mm), the antecedent rain (1-2 days / more than 2 days) and the
// hazard zone, but its table is not in the project's reference; these
// values are placeholders (Source estimate) that a city replaces with the
// decision's table. Rows are the bands, columns the hazard zones 1..3:
//
//	rain for 1-2 days         rain for more than 2 days
//	100-200 mm: 1 1 2         1 2 3
//	200-400 mm: 2 2 3         2 3 4
//	> 400 mm:   3 3 4         3 4 5
func DefaultRiskTable() *RiskTable {
	return &RiskTable{
		BandsMM:    []float64{100, 200.1, 400.1},
		RainyDayMM: DefaultRainyDayMM,
		Short:      [][]int{{1, 1, 2}, {2, 2, 3}, {3, 3, 4}},
		Long:       [][]int{{1, 2, 3}, {2, 3, 4}, {3, 4, 5}},
		Source:     SourceEstimate,
	}
}

// riskKind: the official flash-flood and landslide risk level of a
// station from its rain (see RiskTable), driven by the rainfall readings.
// Only stations with a hazard_zone get it. Levels name the five risk
// levels (thresholds 1..5) with their colours.
var riskKind = KindSpec{
	Kind:     KindRisk,
	Name:     func(r *Rule) string { return "risk:" + string(orRain(r.Sensor)) },
	Validate: validateRisk,
	Defaults: func(r *Rule) {
		r.Sensor = orRain(r.Sensor)
		if r.Risk == nil {
			r.Risk = DefaultRiskTable()
		}
		if r.Risk.RainyDayMM == 0 {
			r.Risk.RainyDayMM = DefaultRainyDayMM
		}
	},
}

func orRain(s schemas.Sensor) schemas.Sensor {
	if s == "" {
		return schemas.Rainfall
	}
	return s
}

func validateRisk(r *Rule, _ *Env, p *Problems) {
	if r.Sensor != "" && r.Sensor != schemas.Rainfall {
		p.Add(".sensor", "a risk rule is driven by rainfall, got %q", r.Sensor)
	}
	if len(r.Overrides) > 0 {
		for id, o := range r.Overrides {
			if len(o.Levels) > 0 {
				p.Add(fmt.Sprintf(".overrides.%s.levels", id), "risk levels cannot be overridden")
			}
		}
	}
	p.grades(r.Levels, RiskLevels)
	if t := r.Risk; t != nil {
		p.riskTable(t, len(r.Levels))
	}
}

// riskTable checks t: RiskBands rising finite bands, a rainy-day rain
// >= 0, Short and Long RiskBands rows of MaxHazardZone levels in
// [0, levels], a known source.
func (p *Problems) riskTable(t *RiskTable, levels int) {
	if len(t.BandsMM) != RiskBands {
		p.Add(".risk.bands_mm", "give the %d band lower bounds (mm in 24 h), got %d", RiskBands, len(t.BandsMM))
	}
	for j, b := range t.BandsMM {
		if !(b > 0) || math.IsInf(b, 0) || (j > 0 && !(b > t.BandsMM[j-1])) {
			p.Add(fmt.Sprintf(".risk.bands_mm[%d]", j), "must be finite, > 0 and rising, got %g", b)
		}
	}
	if !(t.RainyDayMM >= 0) || math.IsInf(t.RainyDayMM, 0) {
		p.Add(".risk.rainy_day_mm", "must be >= 0, got %g", t.RainyDayMM)
	}
	for _, tab := range []struct {
		key  string
		rows [][]int
	}{{".risk.short", t.Short}, {".risk.long", t.Long}} {
		if len(tab.rows) != RiskBands {
			p.Add(tab.key, "one row per band (%d), got %d", RiskBands, len(tab.rows))
		}
		for i, row := range tab.rows {
			if len(row) != schemas.MaxHazardZone {
				p.Add(fmt.Sprintf("%s[%d]", tab.key, i), "one level per hazard zone (%d), got %d", schemas.MaxHazardZone, len(row))
			}
			for j, l := range row {
				if l < 0 || l > levels {
					p.Add(fmt.Sprintf("%s[%d][%d]", tab.key, i, j), "must be a level in [0, %d], got %d", levels, l)
				}
			}
		}
	}
	switch t.Source {
	case SourceEstimate, SourceOfficial:
	default:
		p.Add(".risk.source", "must be estimate or official, got %q", t.Source)
	}
}
