package processor

import (
	"sort"
	"sync"
	"time"

	"github.com/resilience-project/resilience/schemas"
)

// SensorValue is the last value of one sensor (the type lives in schemas,
// which the HTTP API shares).
type SensorValue = schemas.SensorValue

// StationStatus is what the HTTP API shows of a station (see
// schemas.StationStatus).
type StationStatus = schemas.StationStatus

// View is the in-memory picture of the stations this process has seen,
// for the HTTP API. It keeps the last value and a bounded recent history per
// sensor, so readings stay queryable without InfluxDB.
type View struct {
	reg    *schemas.Registry
	recent int

	mu       sync.RWMutex
	stations map[string]*StationStatus
}

// NewView returns a view keeping up to recent values per sensor.
func NewView(reg *schemas.Registry, recent int) *View {
	v := &View{reg: reg, recent: recent, stations: map[string]*StationStatus{}}
	for _, id := range reg.IDs() {
		s := reg.Lookup(id)
		v.stations[id] = &StationStatus{ID: id, Name: s.Name, District: s.District, Basin: s.Basin,
			Values: map[schemas.Sensor]SensorValue{}, Recent: map[schemas.Sensor][]SensorValue{}}
	}
	return v
}

// observe records a processed record.
func (v *View) observe(rec *schemas.Record, quality []int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	s := v.stations[rec.Station]
	if s == nil {
		return
	}
	if s.LastSeen == nil || rec.TS.After(*s.LastSeen) {
		ts := rec.TS
		s.LastSeen = &ts
		s.LastSeq = rec.Seq
		if rec.Battery != nil {
			s.Battery = &SensorValue{Value: *rec.Battery, Unit: "V", TS: rec.TS, Quality: schemas.QualityNotEval}
		}
	}
	for i, m := range rec.Readings {
		q := 2
		if i < len(quality) {
			q = quality[i]
		}
		sv := SensorValue{Value: m.Value, Unit: m.Unit, TS: rec.TS, Quality: schemas.Quality(q)}
		if cur, ok := s.Values[m.Sensor]; !ok || !rec.TS.Before(cur.TS) {
			s.Values[m.Sensor] = sv
		}
		r := append(s.Recent[m.Sensor], sv)
		if len(r) > v.recent {
			r = r[len(r)-v.recent:]
		}
		s.Recent[m.Sensor] = r
	}
}

// Stations returns a copy of every station's status, sorted by id.
func (v *View) Stations() []StationStatus {
	v.mu.RLock()
	defer v.mu.RUnlock()
	out := make([]StationStatus, 0, len(v.stations))
	for _, s := range v.stations {
		out = append(out, copyStatus(s))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// copyStatus is a copy of s without its recent values.
func copyStatus(s *StationStatus) StationStatus {
	c := *s
	c.Values = make(map[schemas.Sensor]SensorValue, len(s.Values))
	for k, x := range s.Values {
		c.Values[k] = x
	}
	c.Recent = nil
	if s.Battery != nil {
		b := *s.Battery
		c.Battery = &b
	}
	return c
}

// EachSeen calls fn with every station's id, last seq and last reading
// time (nil: none yet), in no order, without copying its values: what the
// console's event feed compares at every look (a copy of every station
// was 7% of the processor's CPU in a backlog drain). fn must not call the
// View.
func (v *View) EachSeen(fn func(id string, seq uint64, seen *time.Time)) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	for id, s := range v.stations {
		fn(id, s.LastSeq, s.LastSeen)
	}
}

// Station returns one station's status (as Stations lists it).
func (v *View) Station(id string) (StationStatus, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	s := v.stations[id]
	if s == nil {
		return StationStatus{}, false
	}
	return copyStatus(s), true
}

// Recent returns the recent values of one station's sensor since a time,
// oldest first.
func (v *View) Recent(station string, sensor schemas.Sensor, since time.Time) []SensorValue {
	v.mu.RLock()
	defer v.mu.RUnlock()
	s := v.stations[station]
	if s == nil {
		return nil
	}
	var out []SensorValue
	for _, x := range s.Recent[sensor] {
		if !x.TS.Before(since) {
			out = append(out, x)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TS.Before(out[j].TS) })
	return out
}
