package rules

import "math"

// The dependencies of each traced kind's value (trace.go, local): which
// other samples' values a change at samples k1..k2 can change.

// noDeps: the value is the sample's own.
func noDeps() (int64, int64) { return 1, 0 }

func (levelRule) deps([]sample, int, int, int64) (int64, int64) { return noDeps() }
func (levelRule) rainRing() bool                                { return false }
func (levelRule) readsRun() bool                                { return false }

// A stuck value is the sample's run, which flag recomputes where it
// changes (those samples change themselves).
func (*stuckRule) deps([]sample, int, int, int64) (int64, int64) { return noDeps() }
func (*stuckRule) rainRing() bool                                { return false }
func (*stuckRule) readsRun() bool                                { return true }

// A spike is measured from the previous sample: the sample after k2.
func (*spikeRule) deps(h []sample, _, k2 int, _ int64) (int64, int64) {
	if k2+1 < len(h) {
		return h[k2+1].TS, h[k2+1].TS
	}
	return noDeps()
}
func (*spikeRule) rainRing() bool { return false }
func (*spikeRule) readsRun() bool { return false }

// A rate compares with the oldest good sample of its window: the samples
// whose window starts after the last good sample before k1 and at or
// before k2.
func (k *rateRule) deps(h []sample, k1, k2 int, _ int64) (int64, int64) {
	lo := int64(math.MinInt64)
	for i := k1 - 1; i >= 0; i-- {
		if h[i].Q != int8(QualitySuspect) {
			lo = h[i].TS + k.window + 1
			break
		}
	}
	return max(lo, h[k1].TS), h[k2].TS + k.window
}
func (*rateRule) rainRing() bool { return false }
func (*rateRule) readsRun() bool { return false }

// rainDeps: a rolling sum reads the samples of its own bucket up to it
// (for a counter, each increment also the sample before): the later
// samples of the bucket of k2 (of k2's successor for a counter).
func rainDeps(h []sample, k1, k2 int, bucket int64, counter bool) (int64, int64) {
	e := h[k2].TS
	if counter && k2+1 < len(h) {
		e = h[k2+1].TS
	}
	return h[k1].TS, e - e%bucket + bucket - 1
}

func (k *accumRule) deps(h []sample, k1, k2 int, bucket int64) (int64, int64) {
	return rainDeps(h, k1, k2, bucket, k.counter)
}
func (*accumRule) rainRing() bool { return true }
func (*accumRule) readsRun() bool { return false }

// shiftUntil: an increment added at tIns is in the sums of the samples
// whose window, ending with their bucket, holds tIns's bucket.
func (k *accumRule) shiftUntil(tIns, bucket int64) int64 {
	if k.counter {
		return math.MinInt64
	}
	return (tIns/bucket + k.window/bucket) * bucket
}

// thinShift: thinning an increment takes it out of the partial sums of
// the later samples of its bucket (the bucket itself keeps it).
func (k *accumRule) thinShift(h []sample, i int, bucket int64) (int64, int64, int64, bool) {
	if k.counter {
		return 0, 0, 0, false
	}
	ts := h[i].TS
	return ts + 1, ts - ts%bucket + bucket - 1, -int64(centi(h[i].V)), true
}

func (k *riskRule) deps(h []sample, k1, k2 int, bucket int64) (int64, int64) {
	return rainDeps(h, k1, k2, bucket, k.counter)
}
func (*riskRule) rainRing() bool { return true }
func (*riskRule) readsRun() bool { return false }

var (
	_ local   = levelRule{}
	_ local   = (*stuckRule)(nil)
	_ local   = (*spikeRule)(nil)
	_ local   = (*rateRule)(nil)
	_ local   = (*accumRule)(nil)
	_ local   = (*riskRule)(nil)
	_ shifter = (*accumRule)(nil)
)
