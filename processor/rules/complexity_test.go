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

// work applies recs to a fresh state and returns the rule values the
// evaluators computed and the engine's steps.
func work(t *testing.T, e *Engine, recs []*schemas.Record) (evals, steps uint64) {
	t.Helper()
	s := e.NewState(recs[0].Station)
	for _, r := range recs {
		if res := e.Apply(s, r); res.Late || res.Duplicate {
			t.Fatalf("record %d late=%v duplicate=%v", r.Seq, res.Late, res.Duplicate)
		}
	}
	return s.evals, s.steps
}

// replayEngine is an engine with the default rules whose late readings
// replay their rules from the checkpoint (no traces): the engine as it
// was before traces, the reference.
func replayEngine(t testing.TB) *Engine {
	e := mustEngine(t, nil)
	e.replay = true
	return e
}

// TestLateRecordsCostAboutInOrder: a late record used to replay every rule
// of its sensor twice from the checkpoint over the whole history after it
// (about 40 times the work of an in-order record: BenchmarkApplyReverse).
// Now it refolds only what it can change. On the benchmark's batches
// (each reversed or shuffled, after the ones before), the evaluators
// compute at most 2.5 times the rule values of the same records in order
// (the replay: 170 times) and the engine's work stays within 2x;
// a reversed backlog from an empty state, where a late reading changes
// the rate of every later reading in its window, computes a tenth of the
// replay's values or less. Every count is deterministic.
func TestLateRecordsCostAboutInOrder(t *testing.T) {
	e, ref := mustEngine(t, nil), replayEngine(t)
	rev := func(batch []*schemas.Record, _ *rand.Rand) {
		for i, j := 0, len(batch)-1; i < j; i, j = i+1, j-1 {
			batch[i], batch[j] = batch[j], batch[i]
		}
	}
	shuf := func(batch []*schemas.Record, rng *rand.Rand) {
		rng.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
	}
	inOrder := flat(orderBatches(func([]*schemas.Record, *rand.Rand) {}))
	ie, is := work(t, e, inOrder)
	for _, tc := range []struct {
		name string
		recs []*schemas.Record
	}{{"batches reversed", flat(orderBatches(rev))}, {"batches shuffled", flat(orderBatches(shuf))}} {
		le, ls := work(t, e, tc.recs)
		t.Logf("%s: evaluations %d in order, %d late (%.2fx); steps %d / %d (%.2fx)", tc.name,
			ie, le, float64(le)/float64(ie), is, ls, float64(ls)/float64(is))
		if float64(le) > 2.5*float64(ie) {
			t.Errorf("%s: %d rule evaluations, more than 2.5x the %d in order", tc.name, le, ie)
		}
		if float64(ls) > 2*float64(is) {
			t.Errorf("%s: %d steps, more than 2x the %d in order", tc.name, ls, is)
		}
	}
	for _, tc := range []struct {
		name string
		recs []*schemas.Record
	}{{"backlog reversed", reversed(backlog(800))}, {"backlog shuffled", shuffled(backlog(800), 3)}} {
		le, _ := work(t, e, tc.recs)
		re, _ := work(t, ref, tc.recs)
		t.Logf("%s: evaluations %d, %d replaying (%.1fx)", tc.name, le, re, float64(re)/float64(le))
		if le*10 > re {
			t.Errorf("%s: %d rule evaluations, more than a tenth of the replay's %d", tc.name, le, re)
		}
	}
}
