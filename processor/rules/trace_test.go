package rules

import (
	"testing"
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
		ss := st.sensors[sensor]
		if ss == nil {
			continue
		}
		h := ss.Hist
		for _, b := range rules {
			rs := st.rules[b.name]
			if rs == nil || rs.tr == nil || rs.tr.stale {
				continue
			}
			x := &applyCtx{c: c, sr: sr, st: st, wm: st.newest - c.lateness, res: &Result{}, sums: &rainSums{}}
			cc := rs.Base
			var want []tstep
			for j := after(h, cc.Pos); j < len(h); j++ {
				s := x.fold(b, &cc, h, j, -1)
				want = append(want, tstep{c: cc, ok: s.ok})
			}
			got := rs.tr.ent
			if len(got) != len(want) {
				t.Fatalf("%s: %s: trace has %d entries, the replay %d", where, b.name, len(got), len(want))
			}
			for i := range want {
				g, w := got[i], want[i]
				if g.ok != w.ok || g.c.Pos != w.c.Pos || g.c.TS != w.c.TS || ctlOf(&g.c) != ctlOf(&w.c) || g.c.V != w.c.V ||
					g.c.Ref.Seq != w.c.Ref.Seq || !g.c.Ref.TS.Equal(w.c.Ref.TS) {
					t.Fatalf("%s: %s: entry %d of %d is %+v, the replay %+v", where, b.name, i, len(want), g, w)
				}
			}
			end := rs.Base
			if len(got) > 0 {
				end = got[len(got)-1].c
			}
			if end.Pos != rs.Cur.Pos || end.TS != rs.Cur.TS || ctlOf(&end) != ctlOf(&rs.Cur) || end.V != rs.Cur.V {
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
			if i%7 == 0 || len(sc.recs) < 2000 {
				checked += checkTraces(t, e, st, sc.name)
			}
		}
	}
	if checked < 1000 {
		t.Fatalf("only %d traces checked: the test is vacuous", checked)
	}
	t.Logf("%d traces checked", checked)
}
