package rules

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/resilience-project/resilience/schemas"
)

// Notice kinds.
const (
	// NoticeSeqGap: seqs are missing within one boot (data lost upstream).
	NoticeSeqGap = "seq_gap"
	// NoticeSeqReset: the device restarted its seq without a boot counter
	// (a seq at or below the highest, with a newer timestamp); its
	// readings are processed, not taken for duplicates.
	NoticeSeqReset = "seq_reset"
)

func ts2t(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// step is what one evaluation of a rule at one sample found.
type step struct {
	ok   bool
	eff  int
	ts   int64
	v    float64
	refs [2]schemas.ReadingRef
	nref int
}

// applyCtx carries one Apply call.
type applyCtx struct {
	c   *compiled
	sr  *stationRules
	st  *State
	wm  int64
	res *Result
	// sums caches rolling rainfall sums for this call (rain.go).
	sums *rainSums
	// replay: no traces (Engine.replay).
	replay bool
	// firstOK: firstIdx is after(h, firstPos) in the history of the
	// current reading (see first).
	firstOK  bool
	firstPos int64
	firstIdx int
}

// first is after(h, pos), remembered: the rules of a sensor share their
// checkpoint, whose first later sample the traced paths look up several
// times per rule. h is the history of the current reading, unchanged
// between its insert and its thinning (reading resets it).
func (x *applyCtx) first(h []sample, pos int64) int {
	if !x.firstOK || x.firstPos != pos {
		x.firstOK, x.firstPos, x.firstIdx = true, pos, after(h, pos)
	}
	return x.firstIdx
}

// Apply folds one record into st and returns what it did.
//
// Contract:
//   - Event time: windows use rec.TS. A record up to AllowedLateness older
//     than the newest reading of the station is folded in as if it had
//     arrived in order (rules are re-evaluated from a checkpoint); an older
//     one is flagged Late and changes nothing, so it can never clear an
//     alert.
//   - A record whose (boot, seq, ts), or every (sensor, ts), was applied
//     before is flagged Duplicate and changes nothing: applying a record twice
//     never emits a second event.
//   - Suspect readings (Result.Quality) neither fire nor clear hazard
//     alerts; they do drive the quality (sensor-fault) rules.
//   - Events carry event time (reading ts) in At and deterministic ID and
//     EventID, so a replay after a restore emits byte-identical events.
//   - The final alert level of every rule, and the highest level each rule
//     reached, do not depend on the arrival order of records within the
//     allowed lateness. An alert that late data extends backwards keeps
//     the id it was fired with (events cannot be retracted).
func (e *Engine) Apply(st *State, rec *schemas.Record) Result {
	c := e.cur.Load()
	if st.station == "" {
		st.station = rec.Station
	}
	sr := c.station(st.station)
	st.align(sr.ruleClass)
	res := Result{Quality: make([]Quality, len(rec.Readings))}
	ts := rec.TS.UnixNano()

	if st.isDuplicate(rec, ts) {
		res.Duplicate = true
		for i, m := range rec.Readings {
			res.Quality[i] = QualityNotEval
			if ss := st.sensorOf(m.Sensor); ss != nil {
				if j, ok := ss.find(ts); ok {
					res.Quality[i] = Quality(ss.Hist[j].Q)
				}
			}
		}
		return res
	}
	if st.newest != 0 && ts <= st.newest-c.lateness {
		res.Late = true
		for i := range res.Quality {
			res.Quality[i] = QualityNotEval
		}
		return res
	}
	st.checkSeq(rec, ts, &res)
	st.addRecent(recKey{TS: ts, Boot: rec.Boot, Seq: rec.Seq})
	if ts > st.newest {
		st.newest = ts
	}
	x := &applyCtx{c: c, sr: sr, st: st, wm: st.newest - c.lateness, res: &res, sums: e.getSums(), replay: e.replay}
	defer e.putSums(x.sums)

	if o := sr.offline; o != nil {
		if rs := st.rules[o.slot]; rs != nil && rs.Level > 0 {
			at := ts
			if at < rs.Start {
				at = rs.Start
			}
			x.emit(o.bound, o.timer, rs, schemas.AlertResolved, 0, at, 0, nil)
		}
	}

	for i, m := range rec.Readings {
		res.Quality[i] = x.reading(m, rec.Seq, ts)
	}
	for _, d := range sr.composites {
		x.composite(d, ts)
	}
	st.trimRecent(x.wm)
	return res
}

// reading folds measurement m of the record (seq, ts) into its sensor's
// history and rules and returns its quality flag.
func (x *applyCtx) reading(m schemas.Measurement, seq uint64, ts int64) Quality {
	sr := x.sr
	if len(sr.bySensor[m.Sensor]) == 0 && len(sr.quality[m.Sensor]) == 0 && !sr.context[m.Sensor] &&
		(m.Sensor != schemas.Rainfall || sr.ringLen == 0) {
		return QualityNotEval // no rule watches it: keep no history
	}
	ss := x.st.sensor(m.Sensor)
	if j, ok := ss.find(ts); ok {
		return Quality(ss.Hist[j].Q) // this sensor's reading was seen in another record
	}
	inOrder := len(ss.Hist) == 0 || ts > ss.Hist[len(ss.Hist)-1].TS
	idx := ss.insert(sample{TS: ts, Seq: seq, V: m.Value})
	x.sums.moved() // indexes moved
	x.firstOK = false
	rules := sr.bySensor[m.Sensor]
	// Checkpoints and, out of order, the levels as they were without
	// this sample: before its flags and rain change anything.
	var oldBuf [16]int
	olds := oldBuf[:0]
	if !inOrder {
		olds = append(olds, make([]int, len(rules))...)
		ss.traced = true
	}
	for k, b := range rules {
		rs := x.st.rule(b.bound, x.wm)
		x.advance(b, rs, ss.Hist, idx)
		if !inOrder {
			olds[k] = x.oldLevel(b, rs, ss.Hist, idx)
		}
	}
	lastQ, lastRun := x.flag(m.Sensor, ss, idx)
	q := Quality(ss.Hist[idx].Q)
	var sh shift
	ring := m.Sensor == schemas.Rainfall && sr.ringLen > 0
	if ring {
		sh = x.rain(ss, idx)
	}
	for k, b := range rules {
		old := 0
		if !inOrder {
			old = olds[k]
		}
		x.eval(b, x.st.rules[b.slot], ss.Hist, idx, inOrder, old, lastQ, lastRun, sh, ring)
	}
	ss.trim(x.wm - sr.keep)
	x.firstOK = false
	x.thin(rules, ss)
	return q
}

// thin thins the history of ss, once it holds more than MaxHistory
// samples, to thinTo, marking in the traces of rules what each removal
// may change. Thinning in chunks lets the traces of a sensor with late
// readings be refolded once per chunk rather than once per reading.
func (x *applyCtx) thin(rules []sensorRule, ss *sensorState) {
	if len(ss.Hist) <= MaxHistory {
		return
	}
	var buf [16]*ruleState
	states := buf[:0]
	if ss.traced {
		for _, b := range rules {
			states = append(states, x.st.rules[b.slot])
		}
	}
	for len(ss.Hist) > thinTo {
		x.st.steps += uint64(len(ss.Hist))
		k := ss.thinIndex()
		if ss.traced {
			x.thinned(rules, states, ss.Hist, k)
		}
		ss.Hist = append(ss.Hist[:k], ss.Hist[k+1:]...)
	}
}

// Tick runs the time-driven rules (offline) at processor time now. An
// offline alert's At and start are the moment the station became overdue
// (newest reading + k x interval), so repeated or delayed ticks emit the
// same event once.
func (e *Engine) Tick(st *State, now time.Time) []schemas.AlertEvent {
	c := e.cur.Load()
	sr := c.station(st.station)
	t := sr.offline
	if t == nil || st.newest == 0 {
		return nil
	}
	deadline := t.due(st.newest)
	if now.UnixNano() < deadline {
		return nil
	}
	st.align(sr.ruleClass)
	rs := st.rule(t.bound, st.newest-c.lateness)
	if rs.Level > 0 {
		return nil
	}
	var res Result
	x := &applyCtx{c: c, sr: sr, st: st, res: &res}
	overdue := float64(deadline-st.newest) / float64(time.Second)
	x.emitMsg(t.bound, t.timer, rs, schemas.AlertFired, 1, deadline, overdue, nil, t.overdue(st.newest))
	return res.Events
}

// isDuplicate: the record's (boot, seq, ts) was applied, or every one of
// its (sensor, ts) was. A seq alone is no evidence: a device without a
// boot counter restarts it (see checkSeq).
func (s *State) isDuplicate(rec *schemas.Record, ts int64) bool {
	for i := s.recentFrom(ts); i < len(s.recent) && s.recent[i].TS == ts; i++ {
		if k := s.recent[i]; k.Boot == rec.Boot && k.Seq == rec.Seq {
			return true
		}
	}
	if len(rec.Readings) == 0 {
		return false
	}
	for _, m := range rec.Readings {
		ss := s.sensorOf(m.Sensor)
		if ss == nil {
			return false
		}
		if _, ok := ss.find(ts); !ok {
			return false
		}
	}
	return true
}

// checkSeq follows the station's sequence numbers (the highest seq of the
// current boot and the ts of its record). A seq gap within one boot raises
// a data-loss notice. A seq at or below the highest with a newer ts is a
// restart of a device without a boot counter: a NoticeSeqReset, and the
// sequence starts again from it. A record older than the highest seq's
// (a late one) changes nothing. Records whose seq is their epoch-millisecond
// timestamp (SenML without seq) are not sequence-numbered and skipped.
func (s *State) checkSeq(rec *schemas.Record, ts int64, res *Result) {
	if rec.Seq == uint64(rec.TS.UnixMilli()) {
		return
	}
	switch {
	case !s.haveSeq || rec.Boot > s.boot:
		s.haveSeq, s.boot, s.maxSeq, s.seqTS = true, rec.Boot, rec.Seq, ts
	case rec.Boot < s.boot || ts <= s.seqTS:
		// a late record of an earlier boot, or of this sequence
	case rec.Seq <= s.maxSeq:
		res.Notices = append(res.Notices, Notice{Station: s.station, Kind: NoticeSeqReset, At: rec.TS.UTC(),
			Detail: fmt.Sprintf("boot %d: seq %d after %d with a newer timestamp: the device restarted its sequence", rec.Boot, rec.Seq, s.maxSeq)})
		s.maxSeq, s.seqTS = rec.Seq, ts
	case rec.Seq > s.maxSeq+1:
		res.Notices = append(res.Notices, Notice{Station: s.station, Kind: NoticeSeqGap, At: rec.TS.UTC(),
			Detail: fmt.Sprintf("boot %d: seq %d after %d, %d message(s) missing", rec.Boot, rec.Seq, s.maxSeq, rec.Seq-s.maxSeq-1)})
		s.maxSeq, s.seqTS = rec.Seq, ts
	default:
		s.maxSeq, s.seqTS = rec.Seq, ts
	}
}

// recentFrom is the index of the first recent key at ts or later: the
// keys are kept sorted by TS (then arrival), so a duplicate is found by a
// binary search, and the keys the watermark passed are a prefix.
func (s *State) recentFrom(ts int64) int {
	return sort.Search(len(s.recent), func(i int) bool { return s.recent[i].TS >= ts })
}

// addRecent adds k after every key at its ts or earlier.
func (s *State) addRecent(k recKey) {
	i := sort.Search(len(s.recent), func(i int) bool { return s.recent[i].TS > k.TS })
	s.recent = append(s.recent, recKey{})
	copy(s.recent[i+1:], s.recent[i:])
	s.recent[i] = k
}

// trimRecent drops the keys at or below the watermark wm, and the oldest
// beyond maxRecent.
func (s *State) trimRecent(wm int64) {
	n := sort.Search(len(s.recent), func(i int) bool { return s.recent[i].TS > wm })
	n = max(n, len(s.recent)-maxRecent)
	if n > 0 {
		s.recent = append(s.recent[:0], s.recent[n:]...)
	}
}

// flag recomputes the stuck run and quality flag of samples idx.. of ss,
// up to the first sample after idx+1 whose run is unchanged: from there on
// run, value and previous value are as before, and so are the flags. It
// returns the last sample whose flag changed and the last whose run did
// (idx at least: the new sample).
func (x *applyCtx) flag(k schemas.Sensor, ss *sensorState, idx int) (lastQ, lastRun int) {
	checks := x.sr.quality[k]
	lastQ, lastRun = idx, idx
	for j := idx; j < len(ss.Hist); j++ {
		x.st.steps++
		s := &ss.Hist[j]
		oldRun, oldQ := s.Run, s.Q
		if j > idx+1 {
			run := uint32(1)
			if ss.Hist[j-1].V == s.V {
				run = ss.Hist[j-1].Run + 1
			}
			if run == oldRun {
				return lastQ, lastRun
			}
		}
		s.Run = 1
		if j > 0 && ss.Hist[j-1].V == s.V {
			s.Run = ss.Hist[j-1].Run + 1
		}
		s.Q = int8(QualityNotEval)
		if len(checks) > 0 {
			s.Q = int8(QualityPass)
		}
		for _, c := range checks {
			if c.suspect(ss.Hist, j) {
				s.Q = int8(QualitySuspect)
			}
		}
		if s.Run != oldRun {
			lastRun = j
		}
		if s.Q != oldQ {
			lastQ = j
		}
	}
	return lastQ, lastRun
}

// hyst is the hysteresis level for value v (up space) from level cur: it
// rises to the highest level reached and falls one level at a time while v
// is more than that level's clear margin below it.
func hyst(levels []level, cur int, v float64) int {
	if cur > len(levels) {
		cur = len(levels) // the rule lost levels in a hot swap
	}
	if cur < 0 {
		cur = 0
	}
	up := 0
	for i, l := range levels {
		if v >= l.thr {
			up = i + 1
		}
	}
	if up >= cur {
		return up
	}
	for cur > up && v < levels[cur-1].thr-levels[cur-1].margin {
		cur--
	}
	return cur
}

// fold evaluates rule b at sample j on condition c.
func (x *applyCtx) fold(b sensorRule, c *cond, h []sample, j, skip int) step {
	x.st.steps++
	s := h[j]
	c.Pos = s.TS
	if b.hazard && s.Q == int8(QualitySuspect) {
		return step{}
	}
	x.st.evals++
	v, refs, nref, ok := b.value(x.st, x.sums, h, j, skip)
	if !ok {
		return step{}
	}
	eff := b.gate(c, s.TS, v)
	c.TS, c.V, c.Ref = s.TS, v, rrefOf(refs[nref-1])
	return step{ok: true, eff: eff, ts: s.TS, v: v, refs: refs, nref: nref}
}

// gate folds value v of the sample at ts into c's levels and breach run
// and returns the gated level. The run counts up to min_count only (all
// the gate asks is whether it reached it), so that two folds that agree
// on the levels and the run's start agree from there on (trace.go).
func (b *bound) gate(c *cond, ts int64, v float64) int {
	up := v
	if b.neg {
		up = -v
	}
	raw := hyst(b.levels, int(c.Raw), up)
	if raw > 0 {
		if c.Run == 0 && b.minDur > 0 {
			c.RunStart = ts
		}
		if int(c.Run) < b.minCount {
			c.Run++
		}
	} else {
		c.Run = 0
	}
	eff := raw
	if c.Eff == 0 && raw > 0 && (int(c.Run) < b.minCount || (b.minDur > 0 && ts-c.RunStart < b.minDur)) {
		eff = 0
	}
	c.Raw, c.Eff = int8(raw), int8(eff)
	return eff
}

// after is the index of the first sample of h newer than pos.
func after(h []sample, pos int64) int {
	// a binary search written out: it runs several times per reading
	lo, hi := 0, len(h)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if h[m].TS <= pos {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// afterNear is after(h, pos), searched outward from index near (a
// gallop, then a binary search): the late paths look up times close to
// the sample they insert.
func afterNear(h []sample, pos int64, near int) int {
	n := len(h)
	if n == 0 {
		return 0
	}
	near = min(max(near, 0), n-1)
	// lo: a sample at or before pos (or -1), hi: one after it (or n)
	lo, hi := near, near
	if h[near].TS > pos {
		for step := 1; ; step <<= 1 {
			hi, lo = lo, lo-step
			if lo < 0 {
				lo = -1
				break
			}
			if h[lo].TS <= pos {
				break
			}
		}
	} else {
		for step := 1; ; step <<= 1 {
			lo, hi = hi, hi+step
			if hi >= n {
				hi = n
				break
			}
			if h[hi].TS > pos {
				break
			}
		}
	}
	// h[lo] <= pos < h[hi]: the answer is in (lo, hi]
	for lo+1 < hi {
		m := int(uint(lo+hi) >> 1)
		if h[m].TS <= pos {
			lo = m
		} else {
			hi = m
		}
	}
	return hi
}

// advance folds the samples up to the watermark into the rule's checkpoint.
func (x *applyCtx) advance(b sensorRule, rs *ruleState, h []sample, idx int) {
	for j := after(h, rs.Base.Pos); j < len(h) && h[j].TS <= x.wm; j++ {
		if j != idx {
			x.fold(b, &rs.Base, h, j, idx)
		}
	}
	if tr := x.st.traceOf(b.slot); tr != nil {
		tr.popBase(rs.Base.Pos)
	}
}

// oldLevel replays the rule from its checkpoint without sample idx (whose
// flags and rain are not applied yet) and returns the highest level in
// force from idx's time on: what was already known there.
func (x *applyCtx) oldLevel(b sensorRule, rs *ruleState, h []sample, idx int) int {
	if _, ok := traceable(b); ok && !x.replay {
		return x.tracedOld(b, rs, h, idx)
	}
	tIns := h[idx].TS
	c := rs.Base
	old := 0
	for j := after(h, c.Pos); j < len(h); j++ {
		if j == idx {
			continue
		}
		if h[j].TS > tIns && int(c.Eff) > old {
			old = int(c.Eff)
		}
		x.fold(b, &c, h, j, idx)
	}
	if int(c.Eff) > old {
		old = int(c.Eff)
	}
	return old
}

// eval folds the new sample idx into rule b and emits the alert changes.
//
// In order, one step advances Cur and the alert follows it. Out of order,
// Cur is rebuilt from Base (the checkpoint at the watermark) over the
// history in event order. Only what the new sample changed is news: if the
// highest level reached from its time on exceeds old (the highest level in
// force from then on without it, see oldLevel), the alert is raised to
// that peak at the peak's reading and lowered again where it fell. Then
// the alert follows Cur. So after eval the alert level equals Cur's, and a
// late reading never re-raises what was already reported.
//
// With a trace (trace.go), out of order only what the sample can change
// is refolded, with the same result; in order the step is appended to it.
func (x *applyCtx) eval(b sensorRule, rs *ruleState, h []sample, idx int, inOrder bool, old, lastQ, lastRun int, sh shift, ring bool) {
	tIns := h[idx].TS
	var peak step
	drop := int64(-1)
	l, traced := traceable(b)
	traced = traced && !x.replay
	done := false
	if inOrder && rs.Cur.Pos < tIns {
		s := x.fold(b, &rs.Cur, h, idx, -1)
		if s.ok {
			peak = s
		}
		if tr := x.st.traceOf(b.slot); tr != nil {
			if tr.c == x.c && tr.aligned(h[:idx], x.first(h, rs.Base.Pos), -1) {
				tr.push(tr.entry(&rs.Cur, s.ok))
			} else {
				x.st.setTrace(b.slot, nil)
			}
		}
		done = true
	} else if traced && !inOrder {
		peak, drop, done = x.tracedEval(b, l, rs, h, idx, lastQ, lastRun, sh, ring, old)
		if done && peak.eff <= old {
			peak, drop = step{}, -1
		}
	}
	if !done {
		x.st.setTrace(b.slot, nil)
		c := rs.Base
		for j := after(h, c.Pos); j < len(h); j++ {
			s := x.fold(b, &c, h, j, -1)
			if !s.ok || h[j].TS < tIns {
				continue
			}
			if s.eff > peak.eff {
				peak, drop = s, -1
			} else if drop < 0 && peak.ok && s.eff < peak.eff {
				drop = s.ts
			}
		}
		rs.Cur = c
		if peak.eff <= old {
			peak, drop = step{}, -1
		}
	}
	if peak.ok && peak.eff > rs.Level {
		kind := schemas.AlertEscalated
		if rs.Level == 0 {
			kind = schemas.AlertFired
		}
		x.emit(b.bound, b.sampler, rs, kind, peak.eff, peak.ts, peak.v, peak.refs[:peak.nref])
	}
	switch cur := int(rs.Cur.Eff); {
	case cur < rs.Level:
		kind := schemas.AlertDeescalated
		if cur == 0 {
			kind = schemas.AlertResolved
		}
		at := rs.Cur.TS
		if drop >= 0 {
			at = drop
		}
		x.emit(b.bound, b.sampler, rs, kind, cur, at, rs.Cur.V, []schemas.ReadingRef{rs.Cur.Ref.ref()})
	case cur > rs.Level:
		// Rules changed under an alert, or history replayed upwards.
		kind := schemas.AlertEscalated
		if rs.Level == 0 {
			kind = schemas.AlertFired
		}
		x.emit(b.bound, b.sampler, rs, kind, cur, rs.Cur.TS, rs.Cur.V, []schemas.ReadingRef{rs.Cur.Ref.ref()})
	}
}

// composite fires or resolves a rule derived from the station's other
// rules as its condition holds at ts or not.
func (x *applyCtx) composite(d derivedRule, ts int64) {
	on := d.holds(x.st)
	rs := x.st.rule(d.bound, x.wm)
	switch {
	case on && rs.Level == 0:
		x.emit(d.bound, d.deriver, rs, schemas.AlertFired, 1, ts, 1, nil)
	case !on && rs.Level > 0:
		x.emit(d.bound, d.deriver, rs, schemas.AlertResolved, 0, ts, 0, nil)
	}
}

func (x *applyCtx) emit(b *bound, e evaluator, rs *ruleState, kind schemas.AlertKind, lvl int, at int64, v float64, refs []schemas.ReadingRef) {
	x.emitMsg(b, e, rs, kind, lvl, at, v, refs, "")
}

// emitMsg builds the event (message msg, or the evaluator's if empty),
// updates the emitted alert state and appends the event to the result.
func (x *applyCtx) emitMsg(b *bound, e evaluator, rs *ruleState, kind schemas.AlertKind, lvl int, at int64, v float64, refs []schemas.ReadingRef, msg string) {
	eid, at := x.ids(b, rs, kind, lvl, at)
	name, thr, sev := b.describe(lvl, rs.Level)
	if msg == "" {
		msg = e.message(b, kind, lvl, name, v, thr)
	}
	ev := schemas.AlertEvent{
		V: schemas.AlertEventVersion, ID: rs.ID, EventID: eid,
		Kind: kind, Station: x.sr.id, Sensor: b.evSensor, Rule: b.name, Level: lvl, LevelName: name, Severity: sev,
		Value: v, Threshold: thr, Window: b.label, StartedAt: ts2t(rs.Start), At: ts2t(at),
		Readings: append([]schemas.ReadingRef(nil), refs...), District: x.sr.district, Basin: x.sr.basin, Message: msg,
	}
	if lvl > 0 && len(b.levels) > 0 {
		l := b.levels[min(lvl, len(b.levels))-1]
		ev.LevelNameVI, ev.LevelNameEN, ev.Colour = l.nameVI, l.nameEN, l.colour
	} else if n, ok := e.(namer); ok && lvl > 0 {
		ev.LevelNameVI, ev.LevelNameEN = n.gradeNames()
	}
	if b.wind {
		ev.Beaufort = beaufort(v)
	}
	if a, ok := e.(annotator); ok && lvl > 0 && len(refs) > 0 {
		a.annotate(x.st, b, &ev)
	}
	x.res.Events = append(x.res.Events, ev)
	rs.Level = lvl
	if lvl == 0 {
		rs.PrevID = rs.ID
		rs.last, rs.ID, rs.Start, rs.Emitted = "", "", 0, nil
		return
	}
	rs.last = slimEvent(&ev)
}

// ids assigns the alert id (when kind fires it) and the event id of an
// event at time at, moving at forward by nanoseconds where an id is taken:
// a fired alert never reuses the id of the alert just resolved, and no two
// different events of an alert share an EventID (a replay can move the
// alert through the same (kind, level, at) twice). It returns the event id
// and the event's time.
func (x *applyCtx) ids(b *bound, rs *ruleState, kind schemas.AlertKind, lvl int, at int64) (string, int64) {
	rs.alert()
	if kind == schemas.AlertFired {
		rs.ID = schemas.AlertID(x.sr.id, b.name, ts2t(at))
		for rs.ID == rs.PrevID {
			at++
			rs.ID = schemas.AlertID(x.sr.id, b.name, ts2t(at))
		}
		rs.Start, rs.Emitted = at, nil
	}
	k := newEmitKey(kind, lvl, at)
	for slices.Contains(rs.Emitted, k) {
		k.at++
	}
	if rs.Emitted = append(rs.Emitted, k); len(rs.Emitted) > maxEmitted {
		rs.Emitted = rs.Emitted[len(rs.Emitted)-maxEmitted:]
	}
	return schemas.EventID(rs.ID, kind, lvl, ts2t(k.at)), k.at
}

// describe is the level name (empty when resolved), threshold (as
// configured, not in up space) and severity of an event at level lvl; a
// resolved event (lvl 0) describes the level that cleared, from.
func (b *bound) describe(lvl, from int) (string, float64, schemas.Severity) {
	li := lvl
	if li == 0 {
		li = from
	}
	if li < 1 {
		li = 1
	}
	var l level
	if li <= len(b.levels) {
		l = b.levels[li-1]
	}
	thr := l.thr
	if b.neg {
		thr = -thr
	}
	sev := l.sev
	if sev == "" {
		sev = b.sev
	}
	name := l.name
	if lvl == 0 {
		name = ""
	}
	return name, thr, sev
}
