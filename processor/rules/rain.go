package rules

import (
	"math"
	"slices"
)

// The station's rainfall: the event-time bucket ring (ring, state.go) that
// rain readings are added to, and the rolling sums accumulation rules
// read from it (accumulation.go), with their per-Apply caches.

func centi(v float64) uint32 {
	c := math.Round(v * 100)
	switch {
	case c <= 0 || math.IsNaN(c):
		return 0
	case c >= math.MaxUint32:
		return math.MaxUint32
	}
	return uint32(c)
}

// counterDelta is the rain between two counter readings; a drop is a
// counter reset: the later reading is the new base and adds nothing.
func counterDelta(prev, cur float64) uint32 {
	p, c := centi(prev), centi(cur)
	if c < p {
		return 0
	}
	return c - p
}

// rain adds sample idx of the rainfall history to the buckets. For a
// running counter the increment is the difference to the previous reading
// by event time; a reading that lands between two others splits their
// difference, so any arrival order gives the same buckets. It returns, for
// an increment gauge whose bucket took the whole increment, the shift of
// the rolling sums (trace.go).
func (x *applyCtx) rain(ss *sensorState, idx int) shift {
	st := x.st
	x.sums.changed()
	if st.rain == nil || st.rain.Bucket != x.c.bucket || st.rain.slots() != x.sr.ringLen {
		st.rain = st.rain.resize(x.c.bucket, x.sr.ringLen)
	}
	h := ss.Hist
	s := h[idx]
	if !x.sr.counter {
		d := centi(s.V)
		before, in := st.rain.slot(s.TS)
		st.rain.add(s.TS, d)
		after, _ := st.rain.slot(s.TS)
		return shift{on: in && uint64(after) == uint64(before)+uint64(d), tIns: s.TS, d: d}
	}
	hasP, hasN := idx > 0, idx+1 < len(h)
	if hasN && hasP {
		st.rain.sub(h[idx+1].TS, counterDelta(h[idx-1].V, h[idx+1].V))
	}
	if hasN {
		st.rain.add(h[idx+1].TS, counterDelta(s.V, h[idx+1].V))
	}
	if hasP {
		st.rain.add(s.TS, counterDelta(h[idx-1].V, s.V))
	}
	return shift{}
}

// rainSums caches the rolling sums of one Apply, valid while the rainfall
// history and ring are unchanged: gen counts ring changes, sums holds
// bucket sums of the current generation, part the partial sum of the
// newest bucket at one sample. Apply takes one from the engine's pool and
// returns it reset, so it carries nothing between calls, costs no
// allocation per call and is not part of any State; evaluators get it (and
// the State), never Apply's context, which so stays on the stack.
type rainSums struct {
	gen  uint64
	pre  prefix
	part partial
}

// prefix holds the ring's running sums at one generation: pre[i] is the
// rain of the buckets base..base+i-1, so that any window is one
// subtraction. A late reading's refold reads the windows ending at many
// buckets; summing each one slot by slot made that O(window) per sample.
type prefix struct {
	ok   bool
	gen  uint64
	r    *ring
	base int64 // first bucket summed (the ring's oldest, at least 0)
	pre  []uint64
}

// partial is the rain of bucket (start ns) up to sample j of the rainfall
// history, without sample skip.
type partial struct {
	ok      bool
	j, skip int
	bucket  int64
	sum     uint64
}

// getSums takes empty rolling-sum caches from the pool.
func (e *Engine) getSums() *rainSums {
	if c, ok := e.sums.Get().(*rainSums); ok {
		return c
	}
	return &rainSums{}
}

// putSums resets c, keeping its buffer, and returns it to the pool.
func (e *Engine) putSums(c *rainSums) {
	*c = rainSums{pre: prefix{pre: c.pre.pre[:0]}}
	e.sums.Put(c)
}

// changed: the ring changed (new generation).
func (c *rainSums) changed() {
	c.gen++
	c.pre.ok = false
	c.part.ok = false
}

// moved: the rainfall history's indexes moved.
func (c *rainSums) moved() { c.part.ok = false }

// rainfall is the rain (hundredths of a mm) in the window (ns) ending at
// sample j of the rainfall history h, without sample skip: the ring's
// complete buckets before j's bucket plus the readings of j's own bucket up
// to j from the history, so rain reported later in the same bucket never
// counts early. counter: the station reports a running counter.
//
// Folds visit samples in event order, so both parts are cached: the bucket
// sums until the ring changes, the partial sum of j's bucket extended from
// the previous sample's. A fold is then O(1) amortized, not O(window).
func (c *rainSums) rainfall(s *State, window int64, counter bool, h []sample, j, skip int) uint64 {
	r := s.rain
	if r == nil {
		return 0
	}
	end := h[j].TS / r.Bucket
	return c.bucketSum(s, r, end-window/r.Bucket+1, end-1) + c.partial(s, counter, h, j, skip, h[j].TS-h[j].TS%r.Bucket)
}

// bucketSum is r.sumBuckets(start, end), read from the running sums of
// the ring's generation (built on the first read of one).
func (c *rainSums) bucketSum(s *State, r *ring, start, end int64) uint64 {
	p := &c.pre
	if !p.ok || p.gen != c.gen || p.r != r {
		s.steps += uint64(r.slots())
		p.build(r, c.gen)
	}
	s.steps++
	return p.sum(start, end)
}

// build fills p with the running sums of r's buckets.
func (p *prefix) build(r *ring, gen uint64) {
	n := int64(r.slots())
	p.ok, p.gen, p.r = true, gen, r
	p.base = max(r.Head-n+1, 0)
	cnt := int(r.Head - p.base + 1)
	p.pre = slices.Grow(p.pre[:0], cnt+1)[:cnt+1]
	p.pre[0] = 0
	start := int(p.base % n)
	switch {
	case r.b8 != nil:
		runningSums(p.pre[1:], r.b8, start)
	case r.b16 != nil:
		runningSums(p.pre[1:], r.b16, start)
	default:
		runningSums(p.pre[1:], r.b32, start)
	}
}

// runningSums sets dst[k] to the sum of the len(dst) buckets of ring from
// slot start on, wrapping, up to the k-th.
func runningSums[T uint8 | uint16 | uint32](dst []uint64, ring []T, start int) {
	var acc uint64
	j := start
	for k := range dst {
		acc += uint64(ring[j])
		dst[k] = acc
		if j++; j == len(ring) {
			j = 0
		}
	}
}

// sum is the rain of the buckets start..end that the ring holds
// (ring.sumBuckets).
func (p *prefix) sum(start, end int64) uint64 {
	start = max(start, p.base)
	end = min(end, p.base+int64(len(p.pre))-2)
	if end < start {
		return 0
	}
	return p.pre[end-p.base+1] - p.pre[start-p.base]
}

// partial is the rain of the readings of bucket bs (start, ns) up to
// sample j of the rainfall history h, without sample skip.
func (c *rainSums) partial(s *State, counter bool, h []sample, j, skip int, bs int64) uint64 {
	p := &c.part
	if !p.ok || p.skip != skip || p.bucket != bs || p.j > j {
		// From scratch: back to the bucket's first reading.
		i := j
		for i > 0 && h[i-1].TS >= bs {
			i--
		}
		*p = partial{ok: true, j: i - 1, skip: skip, bucket: bs}
	}
	// Samples p.j+1..j are all in bucket bs (h is sorted).
	for i := p.j + 1; i <= j; i++ {
		s.steps++
		p.sum += uint64(contrib(counter, h, i, skip))
	}
	p.j = j
	return p.sum
}

// contrib is the rain of sample i of the rainfall history without sample
// skip: its value, or for a counter its increment over the previous one.
func contrib(counter bool, h []sample, i, skip int) uint32 {
	if i == skip {
		return 0
	}
	if !counter {
		return centi(h[i].V)
	}
	p := i - 1
	if p == skip {
		p--
	}
	if p < 0 {
		return 0
	}
	return counterDelta(h[p].V, h[i].V)
}
