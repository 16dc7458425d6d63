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
//
// The recent history of a sensor holds at most the view's bound of values
// and none more than RecentSpan older than the newest (the console charts
// a day), 17 bytes a value (a SensorValue takes 56), in a ring that grows
// by a quarter: after 72 h of 10-minute readings from 10,000 stations with
// four sensors the view takes 124 MB, where a slice of SensorValues per
// sensor took 1.32 GB (BenchmarkViewMemory10k).
type View struct {
	reg    *schemas.Registry
	recent int

	mu       sync.RWMutex
	stations map[string]*viewStation
}

// RecentSpan is how far back from a sensor's newest value its recent
// history reaches.
const RecentSpan = 24 * time.Hour

// viewStation is a station's status and the recent values of its sensors.
type viewStation struct {
	StationStatus
	recent map[schemas.Sensor]*recentRing
}

// recentRing is a sensor's recent values in arrival order: the oldest at
// head, n of them, in parallel slices that grow to the view's bound.
type recentRing struct {
	ts   []int64 // unix ns
	v    []float64
	q    []int8
	head int
	n    int
}

// push adds a value as the newest, over the oldest if the ring holds max,
// then drops from the oldest those more than RecentSpan before ts.
func (r *recentRing) push(ts int64, v float64, q int8, max int) {
	if r.n == len(r.ts) && len(r.ts) < max {
		r.grow(min(max, len(r.ts)+len(r.ts)/4+8))
	}
	i := (r.head + r.n) % len(r.ts)
	if r.n == len(r.ts) {
		r.head = (r.head + 1) % len(r.ts)
	} else {
		r.n++
	}
	r.ts[i], r.v[i], r.q[i] = ts, v, q
	for cut := ts - int64(RecentSpan); r.n > 1 && r.ts[r.head] < cut; r.n-- {
		r.head = (r.head + 1) % len(r.ts)
	}
}

// grow moves the values into slices of size n (n at least r.n), oldest
// first.
func (r *recentRing) grow(n int) {
	ts, v, q := make([]int64, n), make([]float64, n), make([]int8, n)
	for k := range r.n {
		j := (r.head + k) % len(r.ts)
		ts[k], v[k], q[k] = r.ts[j], r.v[j], r.q[j]
	}
	r.ts, r.v, r.q, r.head = ts, v, q, 0
}

// NewView returns a view keeping up to recent values per sensor.
func NewView(reg *schemas.Registry, recent int) *View {
	v := &View{reg: reg, recent: max(recent, 1), stations: map[string]*viewStation{}}
	for _, id := range reg.IDs() {
		s := reg.Lookup(id)
		v.stations[id] = &viewStation{StationStatus: StationStatus{ID: id, Name: s.Name, District: s.District, Basin: s.Basin,
			Values: map[schemas.Sensor]SensorValue{}}, recent: map[schemas.Sensor]*recentRing{}}
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
		r := s.recent[m.Sensor]
		if r == nil {
			r = &recentRing{}
			s.recent[m.Sensor] = r
		}
		r.push(rec.TS.UnixNano(), m.Value, int8(q), v.recent)
	}
}

// Stations returns a copy of every station's status, sorted by id.
func (v *View) Stations() []StationStatus {
	v.mu.RLock()
	defer v.mu.RUnlock()
	out := make([]StationStatus, 0, len(v.stations))
	for _, s := range v.stations {
		out = append(out, copyStatus(&s.StationStatus))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// copyStatus is a copy of s.
func copyStatus(s *StationStatus) StationStatus {
	c := *s
	c.Values = make(map[schemas.Sensor]SensorValue, len(s.Values))
	for k, x := range s.Values {
		c.Values[k] = x
	}
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
	return copyStatus(&s.StationStatus), true
}

// Recent returns the recent values of one station's sensor since a time,
// oldest first, in the unit of its last value.
func (v *View) Recent(station string, sensor schemas.Sensor, since time.Time) []SensorValue {
	v.mu.RLock()
	defer v.mu.RUnlock()
	s := v.stations[station]
	if s == nil {
		return nil
	}
	r := s.recent[sensor]
	if r == nil {
		return nil
	}
	unit := s.Values[sensor].Unit
	var out []SensorValue
	for k := range r.n {
		j := (r.head + k) % len(r.ts)
		ts := time.Unix(0, r.ts[j]).UTC()
		if !ts.Before(since) {
			out = append(out, SensorValue{Value: r.v[j], Unit: unit, TS: ts, Quality: schemas.Quality(r.q[j])})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TS.Before(out[j].TS) })
	return out
}
