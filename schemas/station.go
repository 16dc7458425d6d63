package schemas

import (
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"time"

	"gopkg.in/yaml.v3"
)

// Levels holds a station's three official alarm levels (BĐ I/II/III) for one
// sensor kind, in the canonical unit. A zero Levels means none are set.
type Levels struct {
	I   float64 `yaml:"I" json:"I"`
	II  float64 `yaml:"II" json:"II"`
	III float64 `yaml:"III" json:"III"`
}

// Set reports whether the levels are configured.
func (l Levels) Set() bool { return l.I != 0 || l.II != 0 || l.III != 0 }

func (l Levels) finite() bool {
	for _, v := range [...]float64{l.I, l.II, l.III} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Station is one entry of the station registry.
type Station struct {
	ID       string        `yaml:"id" json:"id"`
	Name     string        `yaml:"name" json:"name"`
	River    string        `yaml:"river,omitempty" json:"river,omitempty"`
	Basin    string        `yaml:"basin" json:"basin"`
	District string        `yaml:"district" json:"district"`
	Lat      float64       `yaml:"lat" json:"lat"`
	Lon      float64       `yaml:"lon" json:"lon"`
	Interval time.Duration `yaml:"interval" json:"interval"`
	Sensors  []Sensor      `yaml:"sensors" json:"sensors"`
	// AlarmLevelsM are the water_level alarm levels in metres.
	AlarmLevelsM Levels `yaml:"alarm_levels_m,omitempty" json:"alarm_levels_m,omitempty"`
	// FloodDepthLevelsCM are the flood_depth alarm levels in centimetres.
	FloodDepthLevelsCM Levels `yaml:"flood_depth_levels_cm,omitempty" json:"flood_depth_levels_cm,omitempty"`
	// RainCounter is true when the rain gauge reports a running counter
	// (which resets on reboot) rather than an increment per report.
	RainCounter bool              `yaml:"rain_counter,omitempty" json:"rain_counter,omitempty"`
	Verified    map[string]string `yaml:"verified,omitempty" json:"verified,omitempty"`
	// SaturationPct is the soil moisture (%) at which the slope's soil is
	// saturated (landslide rules); 0: not set. Needs a soil_moisture
	// sensor.
	SaturationPct float64 `yaml:"saturation_pct,omitempty" json:"saturation_pct,omitempty"`
	// HazardZone is the station's flash-flood and landslide hazard zone,
	// 1 (low) to MaxHazardZone (high), for the official risk levels
	// (risk rules); 0: not set (no risk rule applies).
	HazardZone int `yaml:"hazard_zone,omitempty" json:"hazard_zone,omitempty"`
}

// MaxHazardZone is the highest hazard zone (1 low, 2 medium, 3 high).
const MaxHazardZone = 3

// HasSensor reports whether the station declares sensor s.
func (s *Station) HasSensor(k Sensor) bool {
	for _, x := range s.Sensors {
		if x == k {
			return true
		}
	}
	return false
}

// Registry is the read-only set of known stations.
type Registry struct {
	byID map[string]*Station
	ids  []string
}

// Lookup returns the station with id, or nil.
func (r *Registry) Lookup(id string) *Station {
	if r == nil {
		return nil
	}
	return r.byID[id]
}

// IDs returns the station ids in sorted order.
func (r *Registry) IDs() []string { return append([]string(nil), r.ids...) }

// Len is the number of stations.
func (r *Registry) Len() int { return len(r.ids) }

// NewRegistry validates stations and builds a registry (it copies them).
// Every problem is reported (errors.Join), each naming the station and key,
// e.g. `stations[3] (TB-CAULAU).alarm_levels_m: levels must be finite and
// rise I < II < III, got 3 / 2 / 4`.
func NewRegistry(stations []Station) (*Registry, error) {
	r := &Registry{byID: make(map[string]*Station, len(stations))}
	var errs []error
	for i := range stations {
		s := stations[i]
		key := fmt.Sprintf("stations[%d]", i)
		if !ValidStationID(s.ID) {
			errs = append(errs, fmt.Errorf("%s.id: %q must match [A-Za-z0-9_-]{1,64}", key, s.ID))
			continue
		}
		key = fmt.Sprintf("stations[%d] (%s)", i, s.ID)
		if _, dup := r.byID[s.ID]; dup {
			errs = append(errs, fmt.Errorf("%s.id: duplicate station id", key))
			continue
		}
		if s.Interval <= 0 {
			errs = append(errs, fmt.Errorf("%s.interval: must be a positive duration such as 10m", key))
		}
		if !(s.Lat >= -90 && s.Lat <= 90) {
			errs = append(errs, fmt.Errorf("%s.lat: %g out of range [-90, 90]", key, s.Lat))
		}
		if !(s.Lon >= -180 && s.Lon <= 180) {
			errs = append(errs, fmt.Errorf("%s.lon: %g out of range [-180, 180]", key, s.Lon))
		}
		if len(s.Sensors) == 0 {
			errs = append(errs, fmt.Errorf("%s.sensors: at least one sensor is required", key))
		}
		for j, k := range s.Sensors {
			if _, ok := Specs[k]; !ok {
				errs = append(errs, fmt.Errorf("%s.sensors[%d]: unknown sensor kind %q", key, j, k))
			}
		}
		for _, lv := range []struct {
			name   string
			l      Levels
			sensor Sensor
		}{{"alarm_levels_m", s.AlarmLevelsM, WaterLevel}, {"flood_depth_levels_cm", s.FloodDepthLevelsCM, FloodDepth}} {
			if !lv.l.Set() {
				continue
			}
			if !lv.l.finite() || !(lv.l.I < lv.l.II && lv.l.II < lv.l.III) {
				errs = append(errs, fmt.Errorf("%s.%s: levels must be finite and rise I < II < III, got %g / %g / %g", key, lv.name, lv.l.I, lv.l.II, lv.l.III))
			}
			if !s.HasSensor(lv.sensor) {
				errs = append(errs, fmt.Errorf("%s.%s: station has no %s sensor", key, lv.name, lv.sensor))
			}
		}
		if s.SaturationPct != 0 && !(s.SaturationPct > 0 && s.SaturationPct <= 100) {
			errs = append(errs, fmt.Errorf("%s.saturation_pct: must be in (0, 100], got %g", key, s.SaturationPct))
		}
		if s.SaturationPct != 0 && !s.HasSensor(SoilMoisture) {
			errs = append(errs, fmt.Errorf("%s.saturation_pct: station has no %s sensor", key, SoilMoisture))
		}
		if s.HazardZone < 0 || s.HazardZone > MaxHazardZone {
			errs = append(errs, fmt.Errorf("%s.hazard_zone: must be 1 (low) to %d (high), got %d", key, MaxHazardZone, s.HazardZone))
		}
		for _, k := range sortedKeys(s.Verified) {
			if k != "I" && k != "II" && k != "III" {
				errs = append(errs, fmt.Errorf("%s.verified[%q]: key must be I, II or III", key, k))
			} else if s.Verified[k] == "" {
				errs = append(errs, fmt.Errorf("%s.verified[%q]: empty source (e.g. bulletin, estimate, official)", key, k))
			}
		}
		if len(s.Verified) > 0 && !s.AlarmLevelsM.Set() && !s.FloodDepthLevelsCM.Set() {
			errs = append(errs, fmt.Errorf("%s.verified: station has no alarm levels", key))
		}
		st := s
		st.Sensors = append([]Sensor(nil), s.Sensors...)
		if s.Verified != nil {
			st.Verified = make(map[string]string, len(s.Verified))
			for k, v := range s.Verified {
				st.Verified[k] = v
			}
		}
		r.byID[s.ID] = &st
		r.ids = append(r.ids, s.ID)
	}
	sort.Strings(r.ids)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return r, nil
}

// registryFile is the YAML layout of a station registry file.
type registryFile struct {
	Stations []Station `yaml:"stations"`
}

// ParseRegistry parses and validates a station registry document.
func ParseRegistry(data []byte) (*Registry, error) {
	var f registryFile
	dec := yaml.NewDecoder(bytesReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("stations: %w", err)
	}
	if len(f.Stations) == 0 {
		return nil, errors.New("stations: at least one station is required")
	}
	return NewRegistry(f.Stations)
}

// LoadRegistry reads and validates a station registry file.
func LoadRegistry(path string) (*Registry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("station registry: %w", err)
	}
	r, err := ParseRegistry(data)
	if err != nil {
		return nil, fmt.Errorf("station registry %s: %w", path, err)
	}
	return r, nil
}
