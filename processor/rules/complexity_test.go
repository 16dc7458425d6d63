package rules

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/resilience-project/resilience/schemas"
)

// backlog is n records of one river station (water level and rainfall),
// evenly spread over 50 minutes, inside the default hour of lateness.
func backlog(n int) []*schemas.Record {
	step := 50 * time.Minute / time.Duration(n)
	recs := make([]*schemas.Record, n)
	for i := range recs {
		recs[i] = &schemas.Record{V: 1, Station: "VG-AINGHIA", Seq: uint64(i + 1), TS: t0.Add(time.Duration(i) * step),
			Readings: []schemas.Measurement{
				{Sensor: schemas.WaterLevel, Value: 6 + 3*float64(i%97)/97 + float64(i%5)*0.01},
				{Sensor: schemas.Rainfall, Value: float64(i%13) * 0.05},
			}}
	}
	return recs
}

func reversed(recs []*schemas.Record) []*schemas.Record {
	out := make([]*schemas.Record, len(recs))
	for i, r := range recs {
		out[len(recs)-1-i] = r
	}
	return out
}

func shuffled(recs []*schemas.Record, seed uint64) []*schemas.Record {
	out := append([]*schemas.Record(nil), recs...)
	rand.New(rand.NewPCG(seed, 1)).Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// steps applies recs to a fresh state and returns the engine's work count
// (rule folds and samples looked at), deterministic for given input.
func steps(t *testing.T, e *Engine, recs []*schemas.Record) uint64 {
	t.Helper()
	s := e.NewState("VG-AINGHIA")
	for _, r := range recs {
		if res := e.Apply(s, r); res.Late || res.Duplicate {
			t.Fatalf("record %d late=%v duplicate=%v", r.Seq, res.Late, res.Duplicate)
		}
	}
	return s.steps
}

// TestOutOfOrderWorkIsBounded: descending timestamps inside the lateness
// used to re-fold every rule over the whole history for every record, each
// rate fold scanning the window again (about n³: 2,000 records took 65 s).
// The work of one out-of-order record is now bounded by MaxHistory, so the
// total grows linearly with n whatever the order, and stays within a
// constant factor of in-order work.
func TestOutOfOrderWorkIsBounded(t *testing.T) {
	e := mustEngine(t, nil)
	in1, in2 := steps(t, e, backlog(1000)), steps(t, e, backlog(2000))
	rev1, rev2 := steps(t, e, reversed(backlog(1000))), steps(t, e, reversed(backlog(2000)))
	shuf2 := steps(t, e, shuffled(backlog(2000), 3))
	t.Logf("steps: in order %d / %d, reversed %d / %d, shuffled(2000) %d", in1, in2, rev1, rev2, shuf2)
	// Linear in n: doubling the records at most ~doubles the work.
	if rev2 > 5*rev1/2 {
		t.Errorf("reversed: %d steps for 2,000 records, %d for 1,000: grows faster than linearly", rev2, rev1)
	}
	if in2 > 5*in1/2 {
		t.Errorf("in order: %d steps for 2,000 records, %d for 1,000", in2, in1)
	}
	// A constant factor of in-order work (one out-of-order record re-folds
	// at most MaxHistory samples twice per rule).
	const c = 4 * MaxHistory
	for name, got := range map[string]uint64{"reversed": rev2, "shuffled": shuf2} {
		if got > c*in2 {
			t.Errorf("%s: %d steps for 2,000 records, more than %d x in order (%d)", name, got, c, in2)
		}
	}
}
