package httpapi

import (
	"math"
	"net/http"
	"sort"
	"time"

	"github.com/resilience-project/resilience/schemas"
)

// StationReader is what the station endpoints read (the processor's view
// satisfies it).
type StationReader interface {
	// Stations returns every station's status, sorted by id.
	Stations() []schemas.StationStatus
	// Recent returns the recent values of one station's sensor since a
	// time, oldest first (nil: none).
	Recent(station string, sensor schemas.Sensor, since time.Time) []schemas.SensorValue
}

// StationRegistry gives a station's registry entry (nil: unknown);
// *schemas.Registry satisfies it.
type StationRegistry interface {
	Lookup(id string) *schemas.Station
}

// Station is a station as the API shows it: the registry's metadata, what
// the processor saw last, and what follows from both.
type Station struct {
	ID        string                                 `json:"id"`
	Name      string                                 `json:"name"`
	District  string                                 `json:"district"`
	Basin     string                                 `json:"basin"`
	River     string                                 `json:"river,omitempty"`
	Lat       float64                                `json:"lat"`
	Lon       float64                                `json:"lon"`
	IntervalS float64                                `json:"interval_s"`
	Sensors   []schemas.Sensor                       `json:"sensors"`
	LastSeen  *time.Time                             `json:"last_seen"`
	LastSeq   uint64                                 `json:"last_seq"`
	Offline   bool                                   `json:"offline"`
	Battery   *schemas.SensorValue                   `json:"battery,omitempty"`
	Values    map[schemas.Sensor]schemas.SensorValue `json:"values"`
	Levels    []LevelStatus                          `json:"levels,omitempty"`
	Trend     map[schemas.Sensor]Trend               `json:"trend,omitempty"`
}

// LevelStatus is where a sensor with official alarm levels (BĐ I/II/III)
// stands: the level reached by its last value and the distance to the next.
type LevelStatus struct {
	Sensor     schemas.Sensor `json:"sensor"`
	Unit       string         `json:"unit"`
	Thresholds schemas.Levels `json:"thresholds"`
	// Value is the last value (absent: none yet).
	Value *float64 `json:"value,omitempty"`
	// Reached is the highest level the value is at or above (0: none).
	Reached     int    `json:"reached"`
	ReachedName string `json:"reached_name,omitempty"`
	// NextLevel, NextThreshold and Distance (NextThreshold - Value, in
	// Unit) are absent at level III or without a value.
	NextLevel     int      `json:"next_level,omitempty"`
	NextThreshold *float64 `json:"next_threshold,omitempty"`
	Distance      *float64 `json:"distance,omitempty"`
}

// Trend is a sensor's rate of change: the least-squares slope of its
// recent values over the last TrendWindow before its last value.
type Trend struct {
	PerHour   float64 `json:"per_hour"`
	Unit      string  `json:"unit"` // e.g. m/h
	Direction string  `json:"direction"`
	WindowS   float64 `json:"window_s"`
}

// TrendWindow is the span of recent values a trend is computed over.
const TrendWindow = time.Hour

// The trend directions.
const (
	TrendRising  = "rising"
	TrendFalling = "falling"
	TrendSteady  = "steady"
)

// steadyBelow is, per sensor, the |slope| per hour under which a trend is
// steady (sensor noise); other sensors are steady only at exactly 0.
func steadyBelow(k schemas.Sensor) float64 {
	switch k {
	case schemas.WaterLevel:
		return 0.02 // m/h
	case schemas.FloodDepth:
		return 1 // cm/h
	case schemas.Tilt:
		return 0.001 // °/h
	case schemas.SoilMoisture:
		return 0.1 // %/h
	}
	return 0
}

func (s *Server) stationsHandler() http.Handler {
	if s.o.Stations == nil {
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		st := s.o.Stations.Stations()
		out := make([]Station, len(st))
		now := s.o.Now()
		for i, x := range st {
			out[i] = s.station(x, now)
		}
		writeJSON(w, http.StatusOK, map[string]any{"stations": out})
	})
}

func (s *Server) stationHandler() http.Handler {
	if s.o.Stations == nil {
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		for _, x := range s.o.Stations.Stations() {
			if x.ID == id {
				writeJSON(w, http.StatusOK, s.station(x, s.o.Now()))
				return
			}
		}
		writeError(w, r, http.StatusNotFound, "no such station")
	})
}

// station builds the API's view of one station at now.
func (s *Server) station(x schemas.StationStatus, now time.Time) Station {
	out := Station{ID: x.ID, Name: x.Name, District: x.District, Basin: x.Basin, LastSeen: x.LastSeen, LastSeq: x.LastSeq,
		Battery: x.Battery, Values: x.Values, Sensors: []schemas.Sensor{}}
	if out.Values == nil {
		out.Values = map[schemas.Sensor]schemas.SensorValue{}
	}
	var reg *schemas.Station
	if s.o.Registry != nil {
		reg = s.o.Registry.Lookup(x.ID)
	}
	if reg != nil {
		out.River, out.Lat, out.Lon, out.IntervalS = reg.River, reg.Lat, reg.Lon, reg.Interval.Seconds()
		out.Sensors = append(out.Sensors, reg.Sensors...)
		out.Levels = levels(reg, out.Values)
	}
	out.Offline = offline(x.LastSeen, reg, s.o.OfflineIntervals, now)
	out.Trend = s.trends(x)
	return out
}

// offline: never seen, or not seen for k intervals. Without a registry
// entry (no interval) only a station never seen is offline.
func offline(last *time.Time, reg *schemas.Station, k int, now time.Time) bool {
	if last == nil {
		return true
	}
	if reg == nil || reg.Interval <= 0 {
		return false
	}
	return now.Sub(*last) > time.Duration(k)*reg.Interval
}

// levels is the level status of each sensor with alarm levels.
func levels(reg *schemas.Station, values map[schemas.Sensor]schemas.SensorValue) []LevelStatus {
	var out []LevelStatus
	for _, l := range []struct {
		sensor schemas.Sensor
		unit   string
		th     schemas.Levels
	}{{schemas.WaterLevel, "m", reg.AlarmLevelsM}, {schemas.FloodDepth, "cm", reg.FloodDepthLevelsCM}} {
		if !l.th.Set() {
			continue
		}
		ls := LevelStatus{Sensor: l.sensor, Unit: l.unit, Thresholds: l.th}
		if v, ok := values[l.sensor]; ok {
			ls.Value = ptr(v.Value)
			levelOf(&ls, v.Value)
		}
		out = append(out, ls)
	}
	return out
}

// levelName is the official name of a level (báo động I–III).
func levelName(i int) string {
	if i < 1 || i > 3 {
		return ""
	}
	return [...]string{"BĐ I", "BĐ II", "BĐ III"}[i-1]
}

// levelOf sets the reached level and the distance to the next one.
func levelOf(ls *LevelStatus, v float64) {
	th := [...]float64{ls.Thresholds.I, ls.Thresholds.II, ls.Thresholds.III}
	for i, t := range th {
		if t != 0 && v >= t {
			ls.Reached = i + 1
		}
	}
	ls.ReachedName = levelName(ls.Reached)
	for i := ls.Reached; i < len(th); i++ {
		if th[i] != 0 {
			ls.NextLevel, ls.NextThreshold = i+1, ptr(th[i])
			ls.Distance = ptr(round(th[i]-v, 6))
			return
		}
	}
}

// trends computes a trend for each sensor with at least two values in the
// window before its last value.
func (s *Server) trends(x schemas.StationStatus) map[schemas.Sensor]Trend {
	out := map[schemas.Sensor]Trend{}
	sensors := make([]schemas.Sensor, 0, len(x.Values))
	for k := range x.Values {
		sensors = append(sensors, k)
	}
	sort.Slice(sensors, func(i, j int) bool { return sensors[i] < sensors[j] })
	for _, k := range sensors {
		last := x.Values[k]
		if t, ok := trendOf(s.o.Stations.Recent(x.ID, k, last.TS.Add(-TrendWindow)), k, last.Unit); ok {
			out[k] = t
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// trendOf is the least-squares slope of vs (value per hour).
func trendOf(vs []schemas.SensorValue, k schemas.Sensor, unit string) (Trend, bool) {
	if len(vs) < 2 {
		return Trend{}, false
	}
	t0 := vs[0].TS
	var n, sx, sy, sxx, sxy float64
	for _, v := range vs {
		h := v.TS.Sub(t0).Hours()
		n++
		sx += h
		sy += v.Value
		sxx += h * h
		sxy += h * v.Value
	}
	den := n*sxx - sx*sx
	span := vs[len(vs)-1].TS.Sub(t0)
	if den <= 0 || span <= 0 {
		return Trend{}, false
	}
	slope := round((n*sxy-sx*sy)/den, 6)
	dir := TrendSteady
	switch {
	case slope > steadyBelow(k) && slope != 0:
		dir = TrendRising
	case slope < -steadyBelow(k) && slope != 0:
		dir = TrendFalling
	}
	return Trend{PerHour: slope, Unit: unit + "/h", Direction: dir, WindowS: span.Seconds()}, true
}

func (s *Server) readingsHandler() http.Handler {
	if s.o.Stations == nil {
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		station, sensor := q.Get("station"), schemas.Sensor(q.Get("sensor"))
		if !schemas.ValidStationID(station) {
			writeError(w, r, http.StatusBadRequest, "station: a valid station id is required")
			return
		}
		if _, ok := schemas.Specs[sensor]; !ok {
			writeError(w, r, http.StatusBadRequest, "sensor: a known sensor kind is required")
			return
		}
		since, ok := parseTime(w, r, "since")
		if !ok {
			return
		}
		rs := s.o.Stations.Recent(station, sensor, since)
		if rs == nil {
			rs = []schemas.SensorValue{} // [] rather than null, like the other lists
		}
		writeJSON(w, http.StatusOK, map[string]any{"station": station, "sensor": sensor, "readings": rs})
	})
}

// parseTime reads an optional RFC 3339 query parameter; on a bad value it
// answers 400 and returns false.
func parseTime(w http.ResponseWriter, r *http.Request, name string) (time.Time, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, true
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, name+": RFC 3339 expected")
		return time.Time{}, false
	}
	return t, true
}

func ptr(v float64) *float64 { return &v }

// round rounds v to d decimals (a distance of 0.30000000000000004 m helps
// nobody).
func round(v float64, d int) float64 {
	p := math.Pow(10, float64(d))
	return math.Round(v*p) / p
}
