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
			type fullStep struct {
				c  cond
				ok bool
			}
			var want []fullStep
			for j := after(h, cc.Pos); j < len(h); j++ {
				s := x.fold(b, &cc, h, j, -1)
				want = append(want, fullStep{c: cc, ok: s.ok})
			}
			got := rs.tr.ent
			if len(got) != len(want) {
				t.Fatalf("%s: %s: trace has %d entries, the replay %d", where, b.name, len(got), len(want))
			}
			for i := range want {
				g, w := got[i].full(&rs.Base, h), want[i].c
				if got[i].ok != want[i].ok || g.Pos != w.Pos || g.TS != w.TS || ctlOf(&g) != ctlOf(&w) || g.V != w.V ||
					g.Ref.Seq != w.Ref.Seq || !g.Ref.TS.Equal(w.Ref.TS) || g.Ref.Value != w.Ref.Value {
					t.Fatalf("%s: %s: entry %d of %d is %+v, the replay %+v", where, b.name, i, len(want), g, w)
				}
			}
			end := rs.Base
			if len(got) > 0 {
				end = got[len(got)-1].full(&rs.Base, h)
			}
			if end.Pos != rs.Cur.Pos || end.TS != rs.Cur.TS || ctlOf(&end) != ctlOf(&rs.Cur) || end.V != rs.Cur.V ||
				end.Ref.Seq != rs.Cur.Ref.Seq || !end.Ref.TS.Equal(rs.Cur.Ref.TS) || end.Ref.Value != rs.Cur.Ref.Value {
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
