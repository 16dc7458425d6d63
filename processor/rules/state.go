package rules

import (
	"fmt"
	"math"
	"sort"

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
type ruleState struct {
	Base, Cur cond
	Level     int
	*alertState
	// tr is the fold from Base over the later history (trace.go), kept
	// after the rule's first late reading; a cache, not encoded.
	tr *trace
}

// alertState is a rule's alert as emitted: ID, Start and last while it is
// active, PrevID after.
type alertState struct {
	ID    string
	Start int64
	// last is the latest event of the active alert in the state
	// encoding (encodeEvent): a third of the event's size in memory; only
	// Active and the codec read it.
	last []byte
	// Emitted are the EventIDs of the active alert (the latest maxEmitted);
	// PrevID is the id of the rule's last resolved alert.
	Emitted []string
	PrevID  string
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
// A bucket holds up to 655.35 mm in two bytes (twice the world's hourly
// record, and buckets are 10 minutes by default); the ring widens to four
// bytes a bucket the first time one holds more, so sums stay exact: narrow
// is nil then.
type ring struct {
	Bucket int64
	Head   int64
	narrow []uint16
	wide   []uint32
}

// newRing returns an empty ring of n buckets of bucket ns.
func newRing(bucket int64, n int) *ring {
	return &ring{Bucket: bucket, narrow: make([]uint16, n)}
}

// slots is the number of buckets.
func (r *ring) slots() int {
	if r.wide != nil {
		return len(r.wide)
	}
	return len(r.narrow)
}

// at is the rain of slot i.
func (r *ring) at(i int64) uint32 {
	if r.wide != nil {
		return r.wide[i]
	}
	return uint32(r.narrow[i])
}

// put sets slot i to v, widening the ring if v needs it.
func (r *ring) put(i int64, v uint32) {
	if r.wide == nil && v > math.MaxUint16 {
		r.wide = make([]uint32, len(r.narrow))
		for j, x := range r.narrow {
			r.wide[j] = uint32(x)
		}
		r.narrow = nil
	}
	if r.wide != nil {
		r.wide[i] = v
		return
	}
	r.narrow[i] = uint16(v)
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
	sensors map[schemas.Sensor]*sensorState
	rules   map[string]*ruleState
	rain    *ring
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
	names := make([]string, 0, len(s.rules))
	for n, rs := range s.rules {
		if rs.Level > 0 && rs.last != nil {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	out := make([]schemas.AlertEvent, 0, len(names))
	for _, n := range names {
		ev, err := decodeEvent(s.rules[n].last)
		if err != nil {
			panic(fmt.Sprintf("rules: station %s rule %s: the active alert's event does not decode: %v", s.station, n, err))
		}
		out = append(out, *ev)
	}
	return out
}

func (s *State) sensor(k schemas.Sensor) *sensorState {
	if s.sensors == nil {
		s.sensors = map[schemas.Sensor]*sensorState{}
	}
	ss := s.sensors[k]
	if ss == nil {
		ss = &sensorState{}
		s.sensors[k] = ss
	}
	return ss
}

func (s *State) rule(name string, wm int64) *ruleState {
	if s.rules == nil {
		s.rules = map[string]*ruleState{}
	}
	rs := s.rules[name]
	if rs == nil {
		rs = &ruleState{Base: cond{Pos: wm}, Cur: cond{Pos: wm}}
		s.rules[name] = rs
	}
	return rs
}

// find returns the index of the sample at ts and whether it exists.
func (ss *sensorState) find(ts int64) (int, bool) {
	i := sort.Search(len(ss.Hist), func(i int) bool { return ss.Hist[i].TS >= ts })
	return i, i < len(ss.Hist) && ss.Hist[i].TS == ts
}

// insert adds smp in order and returns its index.
func (ss *sensorState) insert(smp sample) int {
	i, _ := ss.find(smp.TS)
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
