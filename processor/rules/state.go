package rules

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/resilience-project/resilience/schemas"
)

// MaxHistory is the most readings the engine keeps per sensor of a
// station. History reaches back the longest rate window plus the allowed
// lateness; a sensor that reports more often than that allows is thinned
// evenly (the reading whose removal leaves the smallest gap goes, down to
// thinTo once the history passes MaxHistory), so the
// state of the busiest station stays bounded whatever its reporting rate
// and the work of one out-of-order reading is O(MaxHistory). Order
// independence (see the package documentation) holds for sensors that
// report at most MaxHistory readings per rate window plus lateness.
const MaxHistory = 256

// thinTo is the length thinning leaves (applyCtx.thin): a chunk of
// MaxHistory/8 samples below MaxHistory.
const thinTo = MaxHistory - MaxHistory/8

// Memory bounds per station.
const (
	maxRecent  = 1024 // record keys kept for duplicate detection
	maxEmitted = 32   // event ids remembered per active alert
)

// sample is one reading of one sensor, in event time (unix ns).
type sample struct {
	TS  int64
	Seq uint64
	V   float64
	Run uint32 // identical consecutive values ending here (stuck check)
	Q   int8   // Quality
}

// sensorState is the recent history of one sensor, sorted by TS, with no
// two samples at the same TS. It reaches back the longest rate window plus
// the allowed lateness, plus one older anchor sample.
type sensorState struct {
	k    schemas.Sensor
	Hist []sample
	// traced: rules of the sensor may keep traces (it had a late
	// reading); not encoded.
	traced bool
}

// cond is the condition state of one rule after folding samples in event
// order: the hysteresis level (Raw), the gated level (Eff), the current
// breach run and the reading last evaluated.
type cond struct {
	Pos      int64 // TS of the last sample folded in (evaluated or skipped)
	TS       int64 // TS of the last sample evaluated
	RunStart int64
	V        float64
	Ref      rref
	Raw, Eff int8 // levels, at most MaxLevels
	Run      int32
}

// rref is a schemas.ReadingRef in 24 bytes (its time.Time takes 24 alone):
// event time in unix ns. The zero rref is no reading (a zero ReadingRef):
// readings are at 2000-01-01 or later (schemas), so none is at 0.
type rref struct {
	Seq uint64
	TS  int64
	V   float64
}

// ref is r as a schemas.ReadingRef.
func (r rref) ref() schemas.ReadingRef {
	if r == (rref{}) {
		return schemas.ReadingRef{}
	}
	return schemas.ReadingRef{Seq: r.Seq, TS: ts2t(r.TS), Value: r.V}
}

// rrefOf is ReadingRef r as an rref.
func rrefOf(r schemas.ReadingRef) rref {
	if r.TS.IsZero() {
		return rref{Seq: r.Seq, V: r.Value}
	}
	return rref{Seq: r.Seq, TS: r.TS.UnixNano(), V: r.Value}
}

// ruleState is one rule's state on one station: Base has every sample up
// to the watermark (newest - allowed lateness) folded in, Cur every sample;
// Level is the alert's level as emitted, and alertState the rest of the
// alert, allocated at the rule's first alert (never nil while Level > 0):
// most rules of most stations never fire, and their state is the folds
// alone.
//
// Its trace (trace.go) is kept apart, in State.traces: few rules of few
// stations get late readings, and a pointer here would cost every rule
// state 16 bytes (152 B, a 160-byte allocation, against 144 B).
type ruleState struct {
	Base, Cur cond
	Level     int
	*alertState
}

// alertState is a rule's alert as emitted: ID, Start and last while it is
// active, PrevID after.
type alertState struct {
	ID    string
	Start int64
	// last is the latest event of the active alert in the state
	// encoding without what the state holds already (slimEvent: no ID,
	// EventID, station or rule); only Active and the codec read it, and
	// they put those back.
	last string
	// Emitted are the EventIDs of the active alert (the latest maxEmitted);
	// PrevID is the id of the rule's last resolved alert.
	Emitted []emitKey
	PrevID  string
}

// emitKey is an EventID of a rule's active alert, schemas.EventID(ID,
// kind, level, at), without the alert's ID: 16 bytes where the id string
// took 80.
type emitKey struct {
	at    int64
	level int32
	kind  uint8 // kindCode
}

// newEmitKey is the key of the event (kind, level, at) of an alert.
// kind is one of the schemas' alert kinds (it panics on another: the
// engine emits none).
func newEmitKey(kind schemas.AlertKind, level int, at int64) emitKey {
	c, ok := kindCode(kind)
	if !ok {
		panic(fmt.Sprintf("rules: alert kind %q has no code", kind))
	}
	return emitKey{at: at, level: int32(level), kind: c}
}

// emitKinds are the alert kinds, numbered by kindCode.
func emitKinds() [4]schemas.AlertKind {
	return [...]schemas.AlertKind{schemas.AlertFired, schemas.AlertEscalated, schemas.AlertDeescalated, schemas.AlertResolved}
}

// kindCode is k's number in emitKinds; false for a kind the schemas do
// not define.
func kindCode(k schemas.AlertKind) (uint8, bool) {
	for i, x := range emitKinds() {
		if x == k {
			return uint8(i), true
		}
	}
	return 0, false
}

// alertKind is the kind that kindCode numbered c.
func alertKind(c uint8) schemas.AlertKind { return emitKinds()[c] }

// suffix is k's EventID after the alert id and its colon: "kind:level:at".
func (k emitKey) suffix() string {
	return string(alertKind(k.kind)) + ":" + strconv.Itoa(int(k.level)) + ":" + strconv.FormatInt(k.at, 10)
}

// parseEmitKey reads a suffix written by emitKey.suffix; any other
// spelling (another kind, a level or time not in canonical decimal) is
// not one.
func parseEmitKey(s string) (emitKey, bool) {
	kind, rest, ok1 := strings.Cut(s, ":")
	lvl, at, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 {
		return emitKey{}, false
	}
	var k emitKey
	if k.kind, ok1 = kindCode(schemas.AlertKind(kind)); !ok1 {
		return emitKey{}, false
	}
	l, err1 := strconv.ParseInt(lvl, 10, 32)
	t, err2 := strconv.ParseInt(at, 10, 64)
	if err1 != nil || err2 != nil {
		return emitKey{}, false
	}
	k.level, k.at = int32(l), t
	if k.suffix() != s {
		return emitKey{}, false // not canonical: would not encode back to s
	}
	return k, true
}

// alert is rs's alert state, allocated if it has none yet.
func (rs *ruleState) alert() *alertState {
	if rs.alertState == nil {
		rs.alertState = &alertState{}
	}
	return rs.alertState
}

// ring holds rainfall in fixed event-time buckets (hundredths of a mm, so
// sums are exact and order-independent). Head is the newest bucket number.
// Buckets are as narrow as what they hold allows: one byte each while no
// bucket holds more than 2.55 mm (most stations, most of the time: that
// is 15 mm/h in 10-minute buckets), two up to 655.35 mm (twice the world's
// hourly record), four beyond. The ring widens the first time a bucket
// needs it, so sums stay exact; exactly one of b8, b16 and b32 is set.
type ring struct {
	Bucket int64
	Head   int64
	b8     []uint8
	b16    []uint16
	b32    []uint32
}

// newRing returns an empty ring of n buckets of bucket ns.
func newRing(bucket int64, n int) *ring {
	return &ring{Bucket: bucket, b8: make([]uint8, n)}
}

// slots is the number of buckets.
func (r *ring) slots() int {
	switch {
	case r.b8 != nil:
		return len(r.b8)
	case r.b16 != nil:
		return len(r.b16)
	}
	return len(r.b32)
}

// width is the bytes a bucket takes.
func (r *ring) width() int {
	switch {
	case r.b8 != nil:
		return 1
	case r.b16 != nil:
		return 2
	}
	return 4
}

// at is the rain of slot i.
func (r *ring) at(i int64) uint32 {
	switch {
	case r.b8 != nil:
		return uint32(r.b8[i])
	case r.b16 != nil:
		return uint32(r.b16[i])
	}
	return r.b32[i]
}

// put sets slot i to v, widening the ring if v needs it.
func (r *ring) put(i int64, v uint32) {
	if r.b8 != nil {
		if v <= math.MaxUint8 {
			r.b8[i] = uint8(v)
			return
		}
		r.b16, r.b8 = widen[uint16](r.b8), nil
	}
	if r.b16 != nil {
		if v <= math.MaxUint16 {
			r.b16[i] = uint16(v)
			return
		}
		r.b32, r.b16 = widen[uint32](r.b16), nil
	}
	r.b32[i] = v
}

// widen copies buckets into wider ones.
func widen[W uint16 | uint32, N uint8 | uint16](narrow []N) []W {
	w := make([]W, len(narrow))
	for j, x := range narrow {
		w[j] = W(x)
	}
	return w
}

// State is the rule state of one station.
//
// Contract: a State is used by one goroutine at a time. Its memory is
// bounded by the rules (history of the longest rate window plus the allowed
// lateness, one rainfall ring of the longest accumulation window) and by
// maxHistory/maxRecent, never by the station's uptime. It round-trips
// losslessly through MarshalBinary/UnmarshalBinary: an engine that restores
// a State behaves exactly as one that never stopped.
type State struct {
	station string
	newest  int64
	boot    uint32
	maxSeq  uint64
	seqTS   int64 // ts of the record with maxSeq
	haveSeq bool
	recent  []recKey
	// sensors are the histories of the sensors that rules watch, sorted
	// by sensor (a station has a handful: a slice is smaller and as fast
	// as a map).
	sensors []*sensorState
	// rules[i] is the state of the rule named names[i] (nil: none yet).
	// names is the slot layout of the class the state is aligned to (cls,
	// whose slotNames it shares), or the names decoded (cls nil); both
	// are sorted.
	rules []*ruleState
	names []string
	cls   *ruleClass
	// traces[i] is the trace of rule i (trace.go: the fold from its Base
	// over the later history, kept after its first late reading; nil:
	// none). The slice is allocated at the station's first late reading;
	// a cache, not encoded, dropped when the slots change.
	traces []*trace
	rain   *ring
	// steps counts the engine's work on this state (rule folds, samples
	// looked at); evals the rule values computed (the evaluators' work);
	// not encoded. Tests use them to bound complexity.
	steps, evals uint64
}

type recKey struct {
	TS   int64
	Boot uint32
	Seq  uint64
}

// Station is the station the state belongs to.
func (s *State) Station() string { return s.station }

// Active returns the latest event of every active alert, ordered by rule
// name. The slice and events are copies.
func (s *State) Active() []schemas.AlertEvent {
	var out []schemas.AlertEvent
	for i, rs := range s.rules { // sorted by name
		if rs == nil || rs.Level == 0 || rs.last == "" {
			continue
		}
		ev, err := decodeEvent([]byte(rs.last))
		if err != nil {
			panic(fmt.Sprintf("rules: station %s rule %s: the active alert's event does not decode: %v", s.station, s.names[i], err))
		}
		fillEvent(ev, rs.ID, s.station, s.names[i])
		out = append(out, *ev)
	}
	if out == nil {
		out = []schemas.AlertEvent{}
	}
	return out
}

func (s *State) sensor(k schemas.Sensor) *sensorState {
	i, ok := s.sensorIndex(k)
	if ok {
		return s.sensors[i]
	}
	ss := &sensorState{k: k}
	s.sensors = slices.Insert(s.sensors, i, ss)
	return ss
}

// sensorOf is the history of sensor k, nil if it has none.
func (s *State) sensorOf(k schemas.Sensor) *sensorState {
	if i, ok := s.sensorIndex(k); ok {
		return s.sensors[i]
	}
	return nil
}

// sensorIndex is where sensor k is in s.sensors, or would be inserted.
func (s *State) sensorIndex(k schemas.Sensor) (int, bool) {
	for i, ss := range s.sensors {
		if ss.k >= k {
			return i, ss.k == k
		}
	}
	return len(s.sensors), false
}

// align lays the rule states out in the slots of class rc, if they are
// not already: a state keeps the states of the rules rc has (by name) and
// forgets those of rules no longer configured. Every Apply and Tick
// aligns first; the engine then finds a rule's state at its bound's slot.
func (s *State) align(rc *ruleClass) {
	if s.cls == rc {
		return
	}
	rules := make([]*ruleState, len(rc.slotNames))
	for i, rs := range s.rules {
		if rs == nil {
			continue
		}
		if j, ok := slices.BinarySearch(rc.slotNames, s.names[i]); ok {
			rules[j] = rs
		}
	}
	s.rules, s.names, s.cls, s.traces = rules, rc.slotNames, rc, nil
}

// traceOf is the trace of the rule in slot (nil: none).
func (s *State) traceOf(slot int) *trace {
	if slot < len(s.traces) {
		return s.traces[slot]
	}
	return nil
}

// setTrace makes t the trace of the rule in slot (nil drops it).
func (s *State) setTrace(slot int, t *trace) {
	if slot >= len(s.traces) {
		if t == nil {
			return
		}
		s.traces = slices.Grow(s.traces, len(s.rules))[:len(s.rules)]
	}
	s.traces[slot] = t
}

// rule is the state of rule b, created if it has none yet (its folds
// start at the watermark wm). The state is aligned to b's class.
func (s *State) rule(b *bound, wm int64) *ruleState {
	rs := s.rules[b.slot]
	if rs == nil {
		rs = &ruleState{Base: cond{Pos: wm}, Cur: cond{Pos: wm}}
		s.rules[b.slot] = rs
	}
	return rs
}

// ruleNamed is the state of the rule named name, nil if it has none.
func (s *State) ruleNamed(name string) *ruleState {
	if i, ok := slices.BinarySearch(s.names, name); ok {
		return s.rules[i]
	}
	return nil
}

// find returns the index of the sample at ts and whether it exists.
func (ss *sensorState) find(ts int64) (int, bool) {
	i := sort.Search(len(ss.Hist), func(i int) bool { return ss.Hist[i].TS >= ts })
	return i, i < len(ss.Hist) && ss.Hist[i].TS == ts
}

// insert adds smp in order and returns its index.
func (ss *sensorState) insert(smp sample) int {
	i, _ := ss.find(smp.TS)
	if len(ss.Hist) == cap(ss.Hist) {
		// Grow by an eighth (append doubles): a history's length settles
		// (the window's readings), and the capacity settles just above it.
		h := make([]sample, len(ss.Hist), len(ss.Hist)+max(1, len(ss.Hist)/8))
		copy(h, ss.Hist)
		ss.Hist = h
	}
	ss.Hist = append(ss.Hist, sample{})
	copy(ss.Hist[i+1:], ss.Hist[i:])
	ss.Hist[i] = smp
	return i
}

// trim drops samples older than cutoff except the newest of them (the
// anchor that rates, spike and counter deltas compare against); thinning
// to MaxHistory follows (applyCtx.thin, thinIndex).
func (ss *sensorState) trim(cutoff int64) {
	i := sort.Search(len(ss.Hist), func(i int) bool { return ss.Hist[i].TS > cutoff })
	if drop := i - 1; drop > 0 {
		ss.Hist = append(ss.Hist[:0], ss.Hist[drop:]...)
	}
}

// thinIndex is the interior sample whose removal leaves the smallest gap
// between its neighbours (the oldest such on ties); the oldest (anchor) and
// newest samples stay.
func (ss *sensorState) thinIndex() int {
	h := ss.Hist
	best, gap := 1, int64(math.MaxInt64)
	for j := 1; j+1 < len(h); j++ {
		if g := h[j+1].TS - h[j-1].TS; g < gap {
			best, gap = j, g
		}
	}
	return best
}

func (r *ring) add(ts int64, v uint32) {
	if ts < 0 {
		return
	}
	b := ts / r.Bucket
	n := int64(r.slots())
	if b > r.Head {
		for k := r.Head + 1; k <= b && k <= r.Head+n; k++ {
			r.put(k%n, 0)
		}
		r.Head = b
	}
	if b <= r.Head-n {
		return
	}
	x := uint64(r.at(b%n)) + uint64(v)
	if x > 1<<32-1 {
		x = 1<<32 - 1
	}
	r.put(b%n, uint32(x))
}

// slot is the rain of the bucket of ts and whether the ring holds it.
func (r *ring) slot(ts int64) (uint32, bool) {
	if ts < 0 {
		return 0, false
	}
	b := ts / r.Bucket
	n := int64(r.slots())
	if b > r.Head || b <= r.Head-n {
		return 0, false
	}
	return r.at(b % n), true
}

func (r *ring) sub(ts int64, v uint32) {
	if ts < 0 {
		return
	}
	b := ts / r.Bucket
	n := int64(r.slots())
	if b > r.Head || b <= r.Head-n {
		return
	}
	x := r.at(b % n)
	r.put(b%n, x-min(v, x))
}

// sum is the rainfall (hundredths of a mm) in the window buckets ending with
// the bucket of ts.
func (r *ring) sum(ts, window int64) uint64 {
	if ts < 0 {
		return 0
	}
	end := ts / r.Bucket
	return r.sumBuckets(end-window/r.Bucket+1, end)
}

// sumBuckets adds the buckets numbered start..end that the ring holds.
func (r *ring) sumBuckets(start, end int64) uint64 {
	n := int64(r.slots())
	if start < 0 {
		start = 0
	}
	if lo := r.Head - n + 1; start < lo {
		start = lo
	}
	if end > r.Head {
		end = r.Head
	}
	var s uint64
	for b := start; b <= end; b++ {
		s += uint64(r.at(b % n))
	}
	return s
}

// resize makes the ring n slots of bucket ns, keeping what fits.
func (r *ring) resize(bucket int64, n int) *ring {
	nr := newRing(bucket, n)
	if r == nil || r.Bucket != bucket {
		return nr
	}
	nr.Head = r.Head
	old := int64(r.slots())
	for b := r.Head; b > r.Head-old && b > r.Head-int64(n); b-- {
		nr.put(b%int64(n), r.at(b%old))
	}
	return nr
}
