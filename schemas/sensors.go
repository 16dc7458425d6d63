package schemas

import (
	"fmt"
	"math"
	"strconv"
)

// Sensor is a sensor kind.
type Sensor string

// The sensor kinds Resilience understands.
const (
	WaterLevel   Sensor = "water_level"   // m on the station's gauge datum
	Rainfall     Sensor = "rainfall"      // mm since the previous report (or a running counter, see Station.RainCounter)
	FloodDepth   Sensor = "flood_depth"   // cm
	Tilt         Sensor = "tilt"          // degrees
	WindSpeed    Sensor = "wind_speed"    // m/s
	WindGust     Sensor = "wind_gust"     // m/s
	SoilMoisture Sensor = "soil_moisture" // %
	Battery      Sensor = "battery"       // V
)

// SensorSpec is a sensor kind's canonical unit, accepted input units and
// physical bounds (inclusive, in the canonical unit).
type SensorSpec struct {
	Unit     string
	Min, Max float64
	// Factors converts an accepted unit to the canonical unit by
	// multiplication. The canonical unit maps to 1.
	Factors map[string]float64
}

// Specs lists every sensor kind. It is read-only.
var Specs = map[Sensor]SensorSpec{
	WaterLevel:   {Unit: "m", Min: -50, Max: 200, Factors: map[string]float64{"m": 1, "cm": 0.01, "mm": 0.001}},
	Rainfall:     {Unit: "mm", Min: 0, Max: 100000, Factors: map[string]float64{"mm": 1, "cm": 10, "in": 25.4}},
	FloodDepth:   {Unit: "cm", Min: 0, Max: 1000, Factors: map[string]float64{"cm": 1, "m": 100, "mm": 0.1, "in": 2.54}},
	Tilt:         {Unit: "deg", Min: -90, Max: 90, Factors: map[string]float64{"deg": 1, "°": 1, "rad": 180 / math.Pi}},
	WindSpeed:    {Unit: "m/s", Min: 0, Max: 120, Factors: map[string]float64{"m/s": 1, "km/h": 1 / 3.6, "kn": 0.514444}},
	WindGust:     {Unit: "m/s", Min: 0, Max: 120, Factors: map[string]float64{"m/s": 1, "km/h": 1 / 3.6, "kn": 0.514444}},
	SoilMoisture: {Unit: "%", Min: 0, Max: 100, Factors: map[string]float64{"%": 1, "/": 100}},
	Battery:      {Unit: "V", Min: 0, Max: 60, Factors: map[string]float64{"V": 1, "mV": 0.001}},
}

// Normalize converts value from unit to the canonical unit of s and checks
// it. An empty unit means the canonical unit. The error is a *RejectError.
func Normalize(s Sensor, value float64, unit string) (float64, error) {
	spec, ok := Specs[s]
	if !ok {
		return 0, Reject(ReasonUnknownSensor, "sensor "+strconv.Quote(truncate(string(s), 40)))
	}
	if math.IsNaN(value) || math.IsInf(value, 0) {
		return 0, Reject(ReasonNotFinite, fmt.Sprintf("sensor %s", s))
	}
	f := 1.0
	if unit != "" {
		var ok bool
		if f, ok = spec.Factors[unit]; !ok {
			return 0, Reject(ReasonBadUnit, fmt.Sprintf("sensor %s unit %s", s, strconv.Quote(truncate(unit, 40))))
		}
	}
	v := value * f
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, Reject(ReasonNotFinite, fmt.Sprintf("sensor %s", s))
	}
	if v < spec.Min || v > spec.Max {
		return 0, Reject(ReasonOutOfBounds, fmt.Sprintf("sensor %s value %g %s outside [%g, %g]", s, v, spec.Unit, spec.Min, spec.Max))
	}
	return v, nil
}
