package rules

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/resilience-project/resilience/schemas"
)

// checkTraces asserts the trace invariant on st: every trace that is not
// marked stale is the replay of its rule from Base over the history as it
// is now, and ends in the rule's Cur.
func checkTraces(t *testing.T, e *Engine, st *State, where string) int {
	t.Helper()
	c := e.cur.Load()
	sr := c.station(st.station)
	checked := 0
	for sensor, rules := range sr.bySensor {
		ss := st.sensorOf(sensor)
		if ss == nil {
			continue
		}
		h := ss.Hist
		for _, b := range rules {
			rs := st.ruleNamed(b.name)
			if rs == nil || st.traceOf(b.slot) == nil {
				continue
			}
			x := &applyCtx{c: c, sr: sr, st: st, wm: st.newest - c.lateness, res: &Result{}, sums: &rainSums{}}
			stale := st.traceOf(b.slot).stale
			if stale {
				// what the next clean makes of it, on a copy (the
				// engine cleans when it next reads the trace)
				orig := st.traceOf(b.slot)
				cp := *orig
				cp.buf, cp.off = slices.Clone(orig.ent), 0
				cp.ent = cp.buf
				st.setTrace(b.slot, &cp)
				defer func(slot int) { st.setTrace(slot, orig) }(b.slot)
				if cp.c != c {
					continue
				}
				x.clean(b, rs, h, -1)
			}
			cc := rs.Base
			type fullStep struct {
				c  cond
				ok bool
			}
			var want []fullStep
			for j := after(h, cc.Pos); j < len(h); j++ {
				s := x.fold(b, &cc, h, j, -1)
				want = append(want, fullStep{c: cc, ok: s.ok})
			}
			tr := st.traceOf(b.slot)
			got := tr.ent
			if len(got) != len(want) {
				t.Fatalf("%s: %s: trace has %d entries, the replay %d", where, b.name, len(got), len(want))
			}
			for i := range want {
				g, w := tr.full(&got[i], &rs.Base, h), want[i].c
				if got[i].ok != want[i].ok || g.Pos != w.Pos || g.TS != w.TS || ctlOf(&g) != ctlOf(&w) || g.V != w.V ||
					g.Ref != w.Ref {
					t.Fatalf("%s: %s: entry %d of %d is %+v, the replay %+v", where, b.name, i, len(want), g, w)
				}
			}
			if stale {
				// Cur is the fold from before the thinning: the
				// trace takes over at the next late reading
				checked++
				continue
			}
			end := rs.Base
			if len(got) > 0 {
				end = tr.full(&got[len(got)-1], &rs.Base, h)
			}
			if end.Pos != rs.Cur.Pos || end.TS != rs.Cur.TS || ctlOf(&end) != ctlOf(&rs.Cur) || end.V != rs.Cur.V ||
				end.Ref != rs.Cur.Ref {
				t.Fatalf("%s: %s: trace ends in %+v, Cur is %+v", where, b.name, end, rs.Cur)
			}
			checked++
		}
	}
	return checked
}

// TestTraceIsTheReplay: over the golden scenarios (every rule kind, in
// order, reversed, shuffled, late, with duplicates and thinning), after
// every record each rule's trace is exactly the replay from its
// checkpoint that the engine without traces performed, and its end is
// the rule's current condition. This is the invariant that makes the
// incremental refold emit what the replay emitted.
func TestTraceIsTheReplay(t *testing.T) {
	e := mustEngine(t, nil)
	checked := 0
	for _, sc := range orderScenarios() {
		if testing.Short() && len(sc.recs) > 2000 {
			continue
		}
		st := e.NewState(sc.station)
		for i, r := range sc.recs {
			e.Apply(st, r)
			if i%7 == 0 {
				checked += checkTraces(t, e, st, sc.name)
			}
		}
	}
	if checked < 1000 {
		t.Fatalf("only %d traces checked: the test is vacuous", checked)
	}
	t.Logf("%d traces checked", checked)
}

// randomScenario is a random station's readings (seed) in a random
// arrival order within the lateness (order).
func randomScenario(seed, order uint64) orderScenario {
	rng := rand.New(rand.NewPCG(seed, 5))
	var sc orderScenario
	switch seed % 6 {
	case 0:
		sc = orderScenario{"river", "VG-AINGHIA", merge(walk(rng, "VG-AINGHIA", schemas.WaterLevel, 300, 20*time.Second, 7, 0.2, 0.01, 30, 40),
			walk(rng, "VG-AINGHIA", schemas.Rainfall, 300, 20*time.Second, 1, 1, 0.1, 10, 0))}
	case 1:
		sc = orderScenario{"counter", "RG-COUNTER", genRecords(rng, "RG-COUNTER", true)}
	case 2:
		sc = orderScenario{"risk", "RG-HOAPHU", walk(rng, "RG-HOAPHU", schemas.Rainfall, 300, 5*time.Minute, 4, 4, 0.1, 0, 0)}
	case 3:
		sc = orderScenario{"landslide", "LS-HAIVAN", merge(walk(rng, "LS-HAIVAN", schemas.Tilt, 200, 5*time.Minute, 1, 0.02, 0.001, 8, 40),
			walk(rng, "LS-HAIVAN", schemas.SoilMoisture, 200, 5*time.Minute, 40, 1.5, 0.1, 0, 0),
			walk(rng, "LS-HAIVAN", schemas.Rainfall, 200, 5*time.Minute, 3, 3, 0.1, 0, 0))}
	case 4:
		sc = orderScenario{"flood", "UF-NGUYENHUUTHO", walk(rng, "UF-NGUYENHUUTHO", schemas.FloodDepth, 300, 30*time.Second, 20, 6, 1, 5, 30)}
	default:
		sc = orderScenario{"wind", "RG-SONTRA", merge(walk(rng, "RG-SONTRA", schemas.WindSpeed, 300, time.Minute, 15, 3, 0.1, 4, 0),
			walk(rng, "RG-SONTRA", schemas.WindGust, 300, time.Minute, 20, 5, 0.1, 3, 0))}
	}
	o := rand.New(rand.NewPCG(order, 9))
	switch order % 4 {
	case 0:
		sc.recs = shuffleWithin(o, sc.recs, time.Hour)
	case 1:
		sc.recs = shuffleBlocks(o, sc.recs, 5+o.IntN(60))
	case 2:
		sc.recs = reverseBlocks(sc.recs, 5+o.IntN(100))
	}
	return sc
}

// sameAsReplay asserts that the engine with traces returns, record by
// record, exactly what the replaying engine returns.
func sameAsReplay(t *testing.T, e, ref *Engine, sc orderScenario) {
	t.Helper()
	a, b := e.NewState(sc.station), ref.NewState(sc.station)
	for i, r := range sc.recs {
		ga, gb := e.Apply(a, r), ref.Apply(b, r)
		ja, _ := json.Marshal(ga)
		jb, _ := json.Marshal(gb)
		if !bytes.Equal(ja, jb) {
			t.Fatalf("%s: record %d (seq %d): with traces %s\nreplaying %s", sc.name, i, r.Seq, ja, jb)
		}
	}
}

// TestTracesMatchReplay: on random stations of every kind in random
// arrival orders, the engine with traces returns what the replaying
// engine (the one before traces) returns, record by record.
func TestTracesMatchReplay(t *testing.T) {
	e, ref := mustEngine(t, nil), replayEngine(t)
	n := uint64(36)
	if testing.Short() {
		n = 12
	}
	for seed := uint64(0); seed < n; seed++ {
		sameAsReplay(t, e, ref, randomScenario(seed, seed*7+1))
	}
}

// TestGoldenScenariosMatchReplay: the scenarios of TestArrivalOrderGolden
// (in order, reversed, shuffled, late, a thinned backlog) give, record
// by record, what the replaying engine gives: the golden digests are
// the replay's output, whatever the thinning policy.
func TestGoldenScenariosMatchReplay(t *testing.T) {
	e, ref := mustEngine(t, nil), replayEngine(t)
	for _, sc := range orderScenarios() {
		if testing.Short() && len(sc.recs) > 2000 {
			continue
		}
		sameAsReplay(t, e, ref, sc)
	}
}

func FuzzTracesMatchReplay(f *testing.F) {
	f.Add(uint64(0), uint64(1))
	f.Add(uint64(3), uint64(2))
	f.Add(uint64(5), uint64(6))
	e, ref := mustEngine(f, nil), replayEngine(f)
	f.Fuzz(func(t *testing.T, seed, order uint64) {
		sameAsReplay(t, e, ref, randomScenario(seed, order))
	})
}

// TestTraceEntrySize: a trace entry is 40 bytes (the memory bound the
// package documentation states, and what a late reading moves per entry).
func TestTraceEntrySize(t *testing.T) {
	if got := unsafe.Sizeof(tstep{}); got != 40 {
		t.Errorf("tstep is %d bytes, want 40", got)
	}
}
