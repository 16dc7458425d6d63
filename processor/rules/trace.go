package rules

import (
	"math"
	"slices"

	"github.com/resilience-project/resilience/schemas"
)

// A late reading used to cost two replays of every rule of its sensor from
// the checkpoint (Base) over the whole history after it: one without the
// reading (what was known), one with it. A trace keeps the result of that
// replay, so that a late reading refolds only what it can change:
//
//   - the trace is one entry per history sample after Base: the rule's
//     condition after folding that sample, whether the sample had a value
//     (ok) and the value;
//   - a change at samples k1..k2 (a reading inserted there, the quality
//     flags it changed) can change the value only of those samples and of
//     the samples the evaluator's deps names (a rate's window, a spike's
//     next sample, a rain bucket); every other sample keeps its value, so
//     refolding it is one gate step on the stored value, without the
//     evaluator;
//   - a rolling-rain sum after a late increment is the stored sum plus the
//     increment while the window still holds it (shifter);
//   - the refold stops at the first sample past every changed value whose
//     recomputed condition equals the stored one: from there on the fold
//     is the same as before.
//
// The trace is exactly the replay from Base over the current history
// (with the current flags and rainfall), so what the engine emits is what
// the full replay emitted. Where history changes outside a reading's own
// refold (a sample thinned away, see thinned), the entries it may change
// are marked stale and refolded before the trace is next read. A trace is
// a cache: it is not encoded (a restored State rebuilds it by one full
// replay at its first late reading), it is built only for rules that got a
// late reading, and it is dropped when the rules change. A kind whose
// value reads other sensors (landslide: soil moisture, rain) is not local
// and keeps replaying.

// local is a sampler whose value at a sample depends only on its own
// sensor's history (and, for rainRing, on the station's rainfall ring),
// so that it can be traced.
type local interface {
	// deps is the span of sample times [lo, hi] (empty when lo > hi) of
	// samples other than k1..k2 whose value may change when samples
	// k1..k2 of h change: are inserted, removed (k1 = k2, h still holding
	// it) or change their quality flags (not their runs: see readsRun).
	deps(h []sample, k1, k2 int, bucket int64) (lo, hi int64)
	// rainRing: the value also reads the station's rainfall ring, which a
	// late rain reading changes for the later samples of the window.
	rainRing() bool
	// readsRun: the value is the sample's run of identical readings.
	readsRun() bool
}

// shifter is a rainRing sampler whose value after rain d (hundredths of a
// mm) was added at tIns is its value before plus d, at sample times whose
// window holds tIns, unchanged at the others.
type shifter interface {
	// shiftUntil is the time before which the sums hold rain added at
	// tIns (later samples from tIns's on).
	shiftUntil(tIns, bucket int64) int64
	// thinShift: thinning sample k of h (still in it) adds d to the
	// values at times [lo, hi] and changes no other; ok false: unknown.
	thinShift(h []sample, k int, bucket int64) (lo, hi, d int64, ok bool)
}

// tstep is one trace entry: the condition after folding the sample at
// pos (without its Ref, the reading at ts: see full), and whether the
// sample had a value (then v). v is the condition's V as the trace
// stores values (trace.enc, trace.val).
type tstep struct {
	pos, ts, runStart int64
	v                 float64
	run               int32
	raw, eff          uint8 // levels: at most rulespec.MaxLevels (traceable)
	ok                bool
	// vstale: the value may be out of date (markStale); the next clean
	// recomputes it.
	vstale bool
}

// entry is condition c folded at a sample with a value or not (ok).
func (t *trace) entry(c *cond, ok bool) tstep {
	return tstep{pos: c.Pos, ts: c.TS, runStart: c.RunStart, v: t.enc(c.V, c.Pos),
		raw: uint8(c.Raw), eff: uint8(c.Eff), run: int32(min(c.Run, math.MaxInt32)), ok: ok}
}

// enc is value v as the trace stores it in the entry at pos: in
// hundredths for a trace of rolling rain sums (centi), whose values are
// exact hundredths (a sum of hundredths of a mm divided by 100), so that
// shifting one by late rain is one exact addition, less the pending
// shift of the entries from sfrom on; as it is otherwise.
func (t *trace) enc(v float64, pos int64) float64 {
	if !t.centi {
		return v
	}
	c := math.Floor(v*100 + 0.5) // v >= 0: a sum of rain
	if pos >= t.sfrom {
		c -= t.sd
	}
	return c
}

// val is the value stored in e (enc's inverse: for a rolling sum the
// same division its evaluator makes, so bit for bit its value).
func (t *trace) val(e *tstep) float64 {
	if !t.centi {
		return e.v
	}
	c := e.v
	if e.pos >= t.sfrom {
		c += t.sd
	}
	return c / 100
}

// shiftSuffix adds d (hundredths) to the values of entries i.. of a
// centi trace: it moves the start of the pending shift (sfrom, sd) to
// entry i, changing only the entries between the two starts.
func (t *trace) shiftSuffix(i int, d float64) {
	q := t.ent[i].pos
	switch {
	case t.sfrom == math.MaxInt64:
		t.sfrom, t.sd = q, d
		return
	case q <= t.sfrom:
		// entries [q, sfrom) join the pending region
		for k := i; k < len(t.ent) && t.ent[k].pos < t.sfrom; k++ {
			t.ent[k].v -= t.sd
		}
		t.sfrom = q
	default:
		// entries [sfrom, q) keep their values
		for k := t.entryAt(t.sfrom); k < i; k++ {
			t.ent[k].v -= d
		}
	}
	t.sd += d
}

// touched keeps the topFrom, hotTo and hot claims true after entry e's
// condition was written: an entry from topFrom on that is not at the top
// level ends the first, an entry with a level moves the others.
func (t *trace) touched(e *tstep) {
	if e.eff > 0 {
		t.hotTo, t.hot = max(t.hotTo, e.pos), max(t.hot, e.eff)
	}
	if e.pos >= t.topFrom && !(e.ok && e.raw == t.top && e.eff == t.top) {
		t.topFrom = math.MaxInt64
	}
}

// put makes e the entry of condition c folded with a value or not (ok).
func (t *trace) put(e *tstep, c *cond, ok bool) {
	*e = t.entry(c, ok)
	t.touched(e)
}

// setCtl writes the gating part of condition c into e.
func (t *trace) setCtl(e *tstep, c *cond) {
	e.raw, e.eff, e.run, e.runStart = uint8(c.Raw), uint8(c.Eff), int32(min(c.Run, math.MaxInt32)), c.RunStart
	t.touched(e)
}

// cond is the condition of entry e without its Ref.
func (t *trace) cond(e *tstep) cond {
	return cond{Pos: e.pos, TS: e.ts, Raw: int8(e.raw), Eff: int8(e.eff), Run: e.run, RunStart: e.runStart, V: t.val(e)}
}

func (e *tstep) ctl() ctl { return ctl{int(e.raw), int(e.eff), int(e.run), e.runStart} }

// full is the condition of entry e, with the Ref of its reading (Base's
// when it carries Base's).
func (t *trace) full(e *tstep, base *cond, h []sample) cond {
	c := t.cond(e)
	if e.ts == base.TS {
		c.Ref = base.Ref
	} else if j, ok := (&sensorState{Hist: h}).find(e.ts); ok {
		c.Ref = rref{Seq: h[j].Seq, TS: h[j].TS, V: h[j].V}
	}
	return c
}

// trace is the fold of one rule from its Base over every later sample of
// its sensor's history.
type trace struct {
	c *compiled // the rules it was folded with
	// centi: values are stored in hundredths (enc), for a shifter rule;
	// the values of the entries from sfrom on are stored sd hundredths
	// below (a pending shift, shiftSuffix; sfrom MaxInt64: none).
	centi bool
	sfrom int64
	sd    float64
	// top is the rule's top level; every entry from topFrom on has a
	// value and is at it (MaxInt64: no such claim), so that late rain
	// shifts those entries at once (shiftRun).
	top     uint8
	topFrom int64
	// hotTo and hot bound the entries' levels: every entry after hotTo
	// has eff 0, and none has an eff above hot (both only grow between
	// builds, so they may exceed what the entries hold), so that a scan
	// for the highest level stops early.
	hotTo int64
	hot   uint8
	// ent is buf[off:]: the entries. Entries leave and enter at either
	// end of the shorter side (remove, insert), so thinning an old
	// sample or inserting a reading moves at most half of them.
	ent []tstep
	buf []tstep
	off int
	// stale: the conditions of entries at or after condFrom, and the
	// values of the entries marked vstale, may be out of date.
	stale    bool
	condFrom int64
	// holdTo: values up to it were changed in place (thinShift) or are
	// vstale, or a sample up to it was removed, so the refold of the
	// conditions goes at least that far.
	holdTo int64
}

// markStale: the conditions of the entries from condFrom on, and the
// values of the entries within [lo, hi] (none if lo > hi), may be out of
// date. Each value is marked on its entry, so that marks far apart do
// not make the clean recompute every value between them.
func (t *trace) markStale(condFrom, lo, hi int64) {
	if !t.stale {
		t.stale, t.condFrom, t.holdTo = true, condFrom, math.MinInt64
	} else {
		t.condFrom = min(t.condFrom, condFrom)
	}
	if lo > hi {
		return
	}
	t.condFrom = min(t.condFrom, lo)
	for i := t.entryAt(lo); i < len(t.ent) && t.ent[i].pos <= hi; i++ {
		t.ent[i].vstale = true
		t.holdTo = max(t.holdTo, t.ent[i].pos)
	}
}

// span is a closed interval of sample times.
type span struct{ lo, hi int64 }

// dirty is a small set of sample-time spans whose values must be
// recomputed; past its capacity spans merge into the last (conservative).
type dirty struct {
	n    int
	s    [4]span
	last int64 // see settle
}

func (d *dirty) add(lo, hi int64) {
	if lo > hi {
		return
	}
	if d.n == len(d.s) {
		l := &d.s[d.n-1]
		l.lo, l.hi = min(l.lo, lo), max(l.hi, hi)
		return
	}
	d.s[d.n] = span{lo, hi}
	d.n++
}

// settle sets last to the time of the newest sample of h in a span
// (math.MinInt64 if none): past it no value changes. The spans lie
// around sample near, where the search for each starts.
func (d *dirty) settle(h []sample, near int) {
	d.last = math.MinInt64
	for i := 0; i < d.n; i++ {
		if j := afterNear(h, d.s[i].hi, near) - 1; j >= 0 && h[j].TS >= d.s[i].lo {
			d.last = max(d.last, h[j].TS)
		}
	}
}

func (d *dirty) has(ts int64) bool {
	for i := 0; i < d.n; i++ {
		if ts >= d.s[i].lo && ts <= d.s[i].hi {
			return true
		}
	}
	return false
}

// shift is the rain a late increment added, for shifter rules.
type shift struct {
	on   bool
	tIns int64
	d    uint32
}

// traceable reports whether rule b keeps a trace (traceableKind, as
// compiled).
func traceable(b sensorRule) (local, bool) { return b.loc, b.traced }

// traceableKind reports whether a rule of common part b evaluated by s
// can keep a trace.
func traceableKind(b *bound, s sampler) (local, bool) {
	l, ok := s.(local)
	if !ok || (l.rainRing() && b.sensor != schemas.Rainfall) || len(b.levels) > math.MaxUint8 {
		return nil, false
	}
	return l, true
}

// entryAt is the index of the first entry at or after time ts (a binary
// search written out: the traced paths make several per late reading).
func (t *trace) entryAt(ts int64) int {
	lo, hi := 0, len(t.ent)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if t.ent[m].pos < ts {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// popBase drops the entries that advance folded into Base.
func (t *trace) popBase(base int64) {
	if len(t.ent) == 0 || t.ent[0].pos > base {
		return
	}
	if n := t.entryAt(base + 1); n > 0 {
		t.off += n
		t.ent = t.buf[t.off:]
	}
}

// reset empties the trace, keeping its buffer.
func (t *trace) reset() {
	t.buf, t.off = t.buf[:0], 0
	t.ent = t.buf
}

// compact moves the entries to the front of the buffer when it is full
// and has room there (before it grows).
func (t *trace) compact() {
	if len(t.buf) == cap(t.buf) && t.off > 0 {
		n := copy(t.buf, t.ent)
		t.buf, t.off = t.buf[:n], 0
		t.ent = t.buf
	}
}

// push appends e.
func (t *trace) push(e tstep) {
	t.compact()
	t.buf = append(t.buf, e)
	t.ent = t.buf[t.off:]
	t.touched(&t.ent[len(t.ent)-1])
}

// insert makes e entry p, moving the entries before it one down where
// there is room and they are fewer, else those from p up.
//
// The entry is a placeholder the caller refolds at once (tracedEval), so
// it does not end the topFrom claim.
func (t *trace) insert(p int, e tstep) {
	if t.off > 0 && p < len(t.ent)-p {
		t.off--
		t.ent = t.buf[t.off:]
		copy(t.ent[:p], t.ent[1:p+1])
		t.ent[p] = e
		return
	}
	t.compact()
	t.buf = slices.Insert(t.buf, t.off+p, e)
	t.ent = t.buf[t.off:]
}

// remove drops entry i, moving the fewer of the entries before and after
// it.
func (t *trace) remove(i int) {
	if i < len(t.ent)-1-i {
		copy(t.ent[1:i+1], t.ent[:i])
		t.off++
		t.ent = t.buf[t.off:]
		return
	}
	t.buf = append(t.buf[:t.off+i], t.buf[t.off+i+1:]...)
	t.ent = t.buf[t.off:]
}

// aligned reports whether the entries are the samples of h after Base
// (without skip).
func (t *trace) aligned(h []sample, first, skip int) bool {
	n := len(h) - first
	if skip >= first {
		n--
	}
	return len(t.ent) == n
}

// build replays rule b from Base over every sample of h after it, without
// skip, into a fresh trace.
func (x *applyCtx) build(b sensorRule, rs *ruleState, h []sample, skip int) *trace {
	tr := x.st.traceOf(b.slot)
	if tr == nil {
		tr = &trace{}
	}
	centi := b.shr != nil
	*tr = trace{c: x.c, centi: centi, sfrom: math.MaxInt64, top: uint8(len(b.levels)), topFrom: math.MaxInt64, hotTo: math.MinInt64, buf: tr.buf}
	tr.reset()
	c := rs.Base
	for j := after(h, c.Pos); j < len(h); j++ {
		if j == skip {
			continue
		}
		s := x.fold(b, &c, h, j, skip)
		tr.push(tr.entry(&c, s.ok))
	}
	x.st.setTrace(b.slot, tr)
	return tr
}

// refold recomputes the trace entries from p on, the state before p being
// entry p-1 (or Base). Entries are the samples of h after Base without
// skip. Values of samples in d are recomputed, those sh shifts are
// shifted, the others are the stored ones. It stops at the first entry
// past every recomputed or shifted value whose condition is unchanged,
// and returns its index (len(entries) if none: every entry from there on
// is as it was). ok is false if the entries do not match h (the caller
// rebuilds).
func (x *applyCtx) refold(b sensorRule, rs *ruleState, h []sample, p, skip int, d *dirty, sh shift) (stop int, ok bool) {
	tr := x.st.traceOf(b.slot)
	// pc: the condition the next entry is folded from (its Ref unused:
	// a fold without a value carries it, and entries do not keep it)
	pc := rs.Base
	if p > 0 {
		pc = tr.cond(&tr.ent[p-1])
	}
	first := x.first(h, rs.Base.Pos)
	j := first + p
	if skip >= first && j >= skip {
		j++
	}
	until := int64(math.MinInt64) // shifted values: samples before it
	if b.shr != nil && sh.on && sh.d > 0 {
		until = b.shr.shiftUntil(sh.tIns, x.c.bucket)
	}
	top := tr.top
	// sync: pc is the condition the entry was folded from before.
	sync := false
	for i := p; i < len(tr.ent); i, j = i+1, j+1 {
		if j == skip {
			j++
		}
		if j >= len(h) {
			return 0, false
		}
		e := &tr.ent[i]
		ts := h[j].TS
		if ts != e.pos {
			return 0, false
		}
		settled := ts > d.last
		oldCtl := e.ctl()
		switch {
		case e.vstale || d.has(ts):
			ok := x.fold(b, &pc, h, j, skip).ok
			tr.put(e, &pc, ok)
		case !e.ok:
			// no value: the condition carries over
			x.st.steps++
			pc.Pos = ts
			if settled && oldCtl == ctlOf(&pc) && e.ts == pc.TS && e.v == tr.enc(pc.V, ts) {
				return i, true
			}
			tr.put(e, &pc, false)
		case ts < until && sync && !b.neg && e.raw == top && e.eff == top:
			// the stored sum plus the new rain: at the top level, folded
			// from the condition it was folded from, it stays there
			// (hyst is monotonic in the value), so only the value moves,
			// here and at the following entries that are the same case
			n, jl, ok := x.shiftRun(tr, i, h, j, skip, until, d, int64(sh.d))
			if !ok {
				return 0, false
			}
			i, j = i+n-1, jl
			pc = tr.cond(&tr.ent[i])
			continue
		case ts < until:
			// as above, where the condition may move
			x.st.steps++
			e.v += float64(sh.d) // a shifter's trace is centi
			v := tr.val(e)
			pc.Pos, pc.TS, pc.V = ts, ts, v
			if !sync || e.raw != top || e.eff != top || b.neg {
				b.gate(&pc, ts, v)
				tr.setCtl(e, &pc)
			} else {
				pc.Raw, pc.Eff, pc.Run, pc.RunStart = int8(e.raw), int8(e.eff), e.run, e.runStart
			}
		default:
			// the stored value: one gate step, in place
			x.st.steps++
			v := tr.val(e)
			pc.Pos, pc.TS, pc.V = ts, ts, v
			b.gate(&pc, ts, v)
			if settled && oldCtl == ctlOf(&pc) {
				return i, true
			}
			tr.setCtl(e, &pc)
		}
		sync = oldCtl == e.ctl()
	}
	return len(tr.ent), true
}

// shiftRun adds d (hundredths) to the values of the leading entries of
// the centi trace tr from entry i on that are shifted at the top level
// without a change of condition (aligned with h from sample j, skipping
// skip: before until, with a value, at the top level, outside d's spans),
// at least the first, and returns how many and the sample of the last;
// ok is false if an entry does not match h. Where the run reaches the
// entries from tr.topFrom on and they all qualify (the window holds the
// newest, no span reaches them), their values move at once
// (shiftSuffix). A run to the end makes its first entry topFrom.
func (x *applyCtx) shiftRun(tr *trace, i int, h []sample, j, skip int, until int64, dt *dirty, d int64) (n, last int, ok bool) {
	ent, top, fd := tr.ent[i:], tr.top, float64(d)
	defer func() {
		if ok && n == len(ent) {
			tr.topFrom = ent[0].pos
		}
	}()
	for last = j; n < len(ent); n, j = n+1, j+1 {
		if j == skip {
			j++
		}
		if j >= len(h) {
			return 0, 0, false
		}
		e := &ent[n]
		ts := h[j].TS
		if ts != e.pos {
			return 0, 0, false
		}
		if n > 0 && (ts >= until || !e.ok || e.raw != top || e.eff != top || (ts <= dt.last && dt.has(ts))) {
			break
		}
		if ts >= tr.topFrom && ent[len(ent)-1].pos < until && dt.last < ts {
			// the rest is at the top level: shift it at once
			last = len(h) - 1
			if last == skip {
				last--
			}
			if last < j || h[last].TS != ent[len(ent)-1].pos {
				return 0, 0, false
			}
			tr.shiftSuffix(i+n, fd)
			x.st.steps++
			return len(ent), last, true
		}
		x.st.steps++
		e.v += fd // the trace is centi
		last = j
	}
	return n, last, true
}

// ctl is what of a condition gates the next value.
type ctl struct {
	raw, eff, run int
	runStart      int64
}

func ctlOf(c *cond) ctl { return ctl{int(c.Raw), int(c.Eff), int(c.Run), c.RunStart} }

// clean brings a stale trace up to date (the world without skip).
func (x *applyCtx) clean(b sensorRule, rs *ruleState, h []sample, skip int) {
	tr := x.st.traceOf(b.slot)
	if !tr.stale {
		return
	}
	d := dirty{last: tr.holdTo} // the vstale entries are refolded with their values
	p := tr.entryAt(tr.condFrom)
	tr.stale = false
	if _, ok := x.refold(b, rs, h, p, skip, &d, shift{}); !ok {
		x.build(b, rs, h, skip)
	}
}

// tracedOld is oldLevel from the trace: the highest level in force from
// the time of sample idx on, in the history without it (idx is in h, its
// flags and rain not applied yet).
func (x *applyCtx) tracedOld(b sensorRule, rs *ruleState, h []sample, idx int) int {
	tr := x.st.traceOf(b.slot)
	first := x.first(h, rs.Base.Pos)
	switch {
	case tr == nil || tr.c != x.c || !tr.aligned(h, first, idx):
		tr = x.build(b, rs, h, idx)
	case tr.stale:
		x.clean(b, rs, h, idx)
		tr = x.st.traceOf(b.slot)
	}
	// The entries are the samples from first on without idx: those
	// before idx come first.
	p := max(idx-first, 0)
	old := int(rs.Base.Eff)
	if p > 0 {
		old = int(tr.ent[p-1].eff)
	}
	top := int(tr.hot) // no entry is above it
	for i := p; i < len(tr.ent) && old < top && tr.ent[i].pos <= tr.hotTo; i++ {
		x.st.steps++
		old = max(old, int(tr.ent[i].eff))
	}
	return old
}

// tracedEval is eval's out-of-order branch on the trace: the new sample
// idx (its flags changed samples idx..last; sh the rain it added, or
// ring: the rainfall ring changed otherwise) is folded in, the entries it
// can change refolded, and the peak reached from its time on found in the
// entries (only if it can exceed old, the level known before it). It
// returns false if the trace cannot be used (eval replays).
func (x *applyCtx) tracedEval(b sensorRule, l local, rs *ruleState, h []sample, idx, lastQ, lastRun int, sh shift, ring bool, old int) (peak step, drop int64, ok bool) {
	tr := x.st.traceOf(b.slot)
	drop = -1
	if tr == nil || tr.c != x.c || tr.stale {
		return peak, drop, false
	}
	first := x.first(h, rs.Base.Pos)
	if idx < first || !tr.aligned(h, first, idx) {
		return peak, drop, false
	}
	tIns := h[idx].TS
	p := idx - first
	// The placeholder carries the gating condition of the entry before
	// it: the condition the entry after it was folded from, which is
	// what refold compares the new sample's with (sync).
	var prev tstep
	if p > 0 {
		prev = tr.ent[p-1]
	} else {
		prev = tr.entry(&rs.Base, false)
	}
	tr.insert(p, tstep{pos: tIns, raw: prev.raw, eff: prev.eff, run: prev.run, runStart: prev.runStart})
	// The samples whose own value may change: the new one, those whose
	// flag changed (for a hazard rule, which a suspect flag silences),
	// those whose run changed (for a rule that reads it).
	last := idx
	if b.hazard {
		last = max(last, lastQ)
	}
	if l.readsRun() {
		last = max(last, lastRun)
	}
	var d dirty
	d.add(tIns, h[last].TS)
	if b.shr != nil && sh.on && ring {
		// the later samples of the bucket, whose partial sums hold the
		// new rain, are shifted like the rest of the window
	} else {
		d.add(l.deps(h, idx, idx, x.c.bucket))
		d.add(l.deps(h, idx, lastQ, x.c.bucket))
		if l.rainRing() && ring && !(sh.on && sh.d == 0) { // no rain: the ring is as it was
			d.add(tIns, math.MaxInt64)
		}
		sh = shift{}
	}
	d.settle(h, idx)
	stop, ok := x.refold(b, rs, h, p, -1, &d, sh)
	if !ok {
		return peak, drop, false
	}
	// Only a peak above old is news. The entries from stop on are as
	// they were, at or below old: the peak, the first highest entry from
	// p on, is before stop if it is news; it drops at the first lower
	// entry after it.
	pi := -1
	for i := p; i < stop && old < len(b.levels); i++ {
		x.st.steps++
		if e := &tr.ent[i]; e.ok && int(e.eff) > max(peak.eff, old) {
			peak, pi = step{ok: true, eff: int(e.eff), ts: e.ts, v: tr.val(e)}, i
		}
	}
	if pi >= 0 {
		for i := pi + 1; i < len(tr.ent); i++ {
			x.st.steps++
			if e := &tr.ent[i]; e.ok && int(e.eff) < peak.eff {
				drop = e.ts
				break
			}
		}
		_, peak.refs, peak.nref, _ = b.value(x.st, x.sums, h, first+pi, -1)
	}
	if e := &tr.ent[len(tr.ent)-1]; e.ts == rs.Cur.TS {
		// the same reading last evaluated: the same Ref (a reading at a
		// ts is never replaced)
		ref := rs.Cur.Ref
		rs.Cur = tr.cond(e)
		rs.Cur.Ref = ref
	} else {
		rs.Cur = tr.full(e, &rs.Base, h)
	}
	return peak, drop, true
}

// thinned marks what removing sample k of h (still in h) may change in
// the traces of the sensor's rules (states: their states, in order).
func (x *applyCtx) thinned(rules []sensorRule, states []*ruleState, h []sample, k int) {
	tsK := h[k].TS
	for r, b := range rules {
		rs := states[r]
		tr := x.st.traceOf(b.slot)
		if rs == nil || tr == nil {
			continue
		}
		l, ok := traceable(b)
		if !ok {
			x.st.setTrace(b.slot, nil)
			continue
		}
		lo, hi := l.deps(h, k, k, x.c.bucket)
		if b.shr != nil && tr.centi {
			if slo, shi, d, ok := b.shr.thinShift(h, k, x.c.bucket); ok {
				// The values move by d: change them here and refold
				// the conditions only.
				from, to := int64(math.MaxInt64), int64(math.MinInt64)
				for i := tr.entryAt(slo); i < len(tr.ent) && tr.ent[i].pos <= shi; i++ {
					if e := &tr.ent[i]; e.ok {
						e.v += float64(d)
						from, to = min(from, e.pos), e.pos
					}
				}
				if from <= to {
					tr.markStale(from, 1, 0)
					tr.holdTo = max(tr.holdTo, to)
				}
				lo, hi = 1, 0
			}
		}
		if tsK > rs.Base.Pos {
			if i := tr.entryAt(tsK); i < len(tr.ent) && tr.ent[i].pos == tsK {
				tr.remove(i)
			}
			tr.markStale(tsK, lo, hi)
			// The refold goes past every removal, not only the first:
			// the entries after each were folded from the removed one.
			tr.holdTo = max(tr.holdTo, tsK)
		} else if lo <= hi && hi > rs.Base.Pos {
			tr.markStale(lo, lo, hi)
		}
	}
}
