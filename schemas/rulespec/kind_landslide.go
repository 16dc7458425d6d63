package rulespec

import (
	"fmt"
	"math"
	"time"

	"github.com/resilience-project/resilience/schemas"
)

// Landslide defaults (Rule fields of kind landslide).
const (
	DefaultLandslideWindow    = time.Hour
	DefaultSaturationFraction = 0.9
	DefaultLandslideRainMM    = 100.0
	DefaultLandslideRain      = 72 * time.Hour
	DefaultTTFPoints          = 6
)

// DefaultTiltRates are the tilt-rate grades of Uchimura et al. (2015):
// precaution at 0.01 deg/h, warning at 0.1 deg/h.
func DefaultTiltRates() []float64 { return []float64{0.01, 0.1} }

// landslideKind: one rule per slope monitor combining its tilt rate, its
// soil moisture against the station's saturation and the rain of the last
// rain_window. It is driven by the tilt readings. The decision table (an
// estimate, to be tuned per slope):
//
//	tilt grade g: 0 below tilt_rates[0], 1 from tilt_rates[0], 2 from tilt_rates[1]
//	wet: soil moisture >= saturation_fraction x saturation_pct AND
//	     rain over rain_window >= rain_mm
//	level = min(3, g + (1 if wet)): 1 precaution, 2 warning, 3 alarm
//
// so wet soil after heavy rain is a precaution even before the slope
// moves, and a moving slope in wet soil is one grade worse than in dry.
// Stations without saturation_pct count as never wet. Levels name the
// grades (thresholds 1, 2, 3).
var landslideKind = KindSpec{
	Kind:     KindLandslide,
	Name:     func(r *Rule) string { return "landslide:" + string(orTilt(r.Sensor)) },
	Validate: validateLandslide,
	Defaults: func(r *Rule) {
		r.Sensor = orTilt(r.Sensor)
		if r.Window == 0 {
			r.Window = DefaultLandslideWindow
		}
		if r.MinSpan == 0 {
			r.MinSpan = r.Window / 2
		}
		if len(r.TiltRates) == 0 {
			r.TiltRates = DefaultTiltRates()
		}
		if r.SaturationFraction == 0 {
			r.SaturationFraction = DefaultSaturationFraction
		}
		if r.RainMM == 0 {
			r.RainMM = DefaultLandslideRainMM
		}
		if r.RainWindow == 0 {
			r.RainWindow = DefaultLandslideRain
		}
		if r.TTFPoints == 0 {
			r.TTFPoints = DefaultTTFPoints
		}
	},
}

func orTilt(s schemas.Sensor) schemas.Sensor {
	if s == "" {
		return schemas.Tilt
	}
	return s
}

func validateLandslide(r *Rule, env *Env, p *Problems) {
	if r.Sensor != "" && r.Sensor != schemas.Tilt {
		p.Add(".sensor", "a landslide rule is driven by tilt, got %q", r.Sensor)
	}
	if r.Window < 0 || r.Window > MaxRateWindow {
		p.Add(".window", "must be in (0, %s], got %s", fmtDur(MaxRateWindow), r.Window)
	}
	w := r.Window
	if w == 0 {
		w = DefaultLandslideWindow
	}
	if r.MinSpan < 0 || r.MinSpan > w {
		p.Add(".min_span", "must be in (0, window]")
	}
	if n := len(r.TiltRates); n != 0 && n != 2 {
		p.Add(".tilt_rates", "give the precaution and warning rates (2), got %d", n)
	} else if n == 2 && !(r.TiltRates[0] > 0 && r.TiltRates[1] > r.TiltRates[0] && !math.IsInf(r.TiltRates[1], 0)) {
		p.Add(".tilt_rates", "must be finite, > 0 and rising, got %v", r.TiltRates)
	}
	if r.SaturationFraction != 0 && !(r.SaturationFraction > 0 && r.SaturationFraction <= 1) {
		p.Add(".saturation_fraction", "must be in (0, 1], got %g", r.SaturationFraction)
	}
	if r.RainMM != 0 && !(r.RainMM > 0 && !math.IsInf(r.RainMM, 0)) {
		p.Add(".rain_mm", "must be > 0, got %g", r.RainMM)
	}
	if r.RainWindow != 0 {
		if r.RainWindow < MinRainWindow || r.RainWindow > MaxRainWindow {
			p.Add(".rain_window", "must be in [%s, %s], got %s", fmtDur(MinRainWindow), fmtDur(MaxRainWindow), r.RainWindow)
		} else if b := env.Bucket(); b > 0 && r.RainWindow%b != 0 {
			p.Add(".rain_window", "%s must be a multiple of bucket %s", r.RainWindow, b)
		}
	}
	if r.TTFPoints != 0 && (r.TTFPoints < MinTTFPoints || r.TTFPoints > MaxTTFPoints) {
		p.Add(".ttf_points", "must be in [%d, %d], got %d", MinTTFPoints, MaxTTFPoints, r.TTFPoints)
	}
	if len(r.Overrides) > 0 {
		for id, o := range r.Overrides {
			if len(o.Levels) > 0 {
				p.Add(fmt.Sprintf(".overrides.%s.levels", id), "landslide grades cannot be overridden")
			}
		}
	}
	p.grades(r.Levels, LandslideGrades)
}
