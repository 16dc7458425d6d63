package rules

import (
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/resilience-project/resilience/schemas"
)

// TestRestartWithoutBootIsNotDuplicate: a device that restarts seq without a
// boot counter sends new readings under seqs it used before. They are not
// duplicates (their ts is new): a seq_reset notice is raised and a reading
// above BĐ III alerts.
func TestRestartWithoutBootIsNotDuplicate(t *testing.T) {
	const st = "VG-AINGHIA"
	tests := []struct {
		name       string
		first      []float64 // seq 1.. at 0, 10, 20 ... minutes
		restart    []float64 // seq 1.. again, 10 minutes after the last
		wantDup    []bool
		wantNotice []string // notice kinds of the restart records
		wantEvents []string // level:water_level events of the restart records
	}{
		{"restart to seq 1 above BĐ III", []float64{6.0, 6.1, 6.2, 6.1, 6.0}, []float64{9.5},
			[]bool{false}, []string{NoticeSeqReset}, []string{"fired:3"}},
		{"restart, then the new seqs continue", []float64{6.0, 6.1, 6.2}, []float64{6.3, 9.2, 8.5},
			[]bool{false, false, false}, []string{NoticeSeqReset}, []string{"fired:3", "deescalated:2"}},
		{"restart to the same seq", []float64{6.0}, []float64{9.1},
			[]bool{false}, []string{NoticeSeqReset}, []string{"fired:3"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := mustEngine(t, propertyRules()) // no spike check: the jumps are real
			s := e.NewState(st)
			applyAll(e, s, series(st, schemas.WaterLevel, 10, tc.first...))
			base := float64(len(tc.first)) * 10
			var notices []string
			var evs []schemas.AlertEvent
			for i, v := range tc.restart {
				res := e.Apply(s, mk(st, uint64(i+1), base+float64(i)*10, schemas.WaterLevel, v))
				if res.Duplicate != tc.wantDup[i] || res.Late {
					t.Fatalf("restart record %d: duplicate=%v late=%v, want duplicate=%v", i, res.Duplicate, res.Late, tc.wantDup[i])
				}
				for _, n := range res.Notices {
					notices = append(notices, n.Kind)
				}
				evs = append(evs, res.Events...)
			}
			if !eq(notices, tc.wantNotice) {
				t.Fatalf("notices %v, want %v", notices, tc.wantNotice)
			}
			if got := brief(evs, "level:water_level"); !eq(got, tc.wantEvents) {
				t.Fatalf("events %v, want %v", got, tc.wantEvents)
			}
		})
	}
}

// TestSeqResetDetail: the notice says what happened, and a late record of
// the old sequence after a reset is neither a gap nor a second reset.
func TestSeqResetDetail(t *testing.T) {
	e := mustEngine(t, nil)
	s := e.NewState("VG-AINGHIA")
	applyAll(e, s, series("VG-AINGHIA", schemas.WaterLevel, 10, 6.0, 6.1, 6.2, 6.3))
	res := e.Apply(s, mk("VG-AINGHIA", 1, 50, schemas.WaterLevel, 6.0))
	if len(res.Notices) != 1 || res.Notices[0].Kind != NoticeSeqReset || !strings.Contains(res.Notices[0].Detail, "seq 1 after 4") {
		t.Fatalf("reset notice %+v", res.Notices)
	}
	// seq 6 of the old sequence (ts 45, before the reset): late, no notice.
	if res := e.Apply(s, mk("VG-AINGHIA", 6, 45, schemas.WaterLevel, 6.0)); len(res.Notices) != 0 || res.Duplicate {
		t.Fatalf("old-sequence record after reset: %+v", res)
	}
	// The same record again is still a duplicate.
	if res := e.Apply(s, mk("VG-AINGHIA", 1, 50, schemas.WaterLevel, 6.0)); !res.Duplicate || len(res.Notices) != 0 {
		t.Fatalf("replayed record: %+v", res)
	}
	// The new sequence continues without notices; a gap in it is a gap.
	if res := e.Apply(s, mk("VG-AINGHIA", 2, 60, schemas.WaterLevel, 6.0)); len(res.Notices) != 0 {
		t.Fatalf("seq 2: %+v", res.Notices)
	}
	if res := e.Apply(s, mk("VG-AINGHIA", 5, 70, schemas.WaterLevel, 6.0)); len(res.Notices) != 1 || res.Notices[0].Kind != NoticeSeqGap {
		t.Fatalf("seq 5: %+v", res.Notices)
	}
}

// TestManyRulesOnOneSensorOrderIndependent: every rule on a sensor gets its
// out-of-order bookkeeping, not only the first 16 (a fixed [16]int used to
// drop the 17th rule's, which then re-fired an alert a late reading did not
// change).
func TestManyRulesOnOneSensorOrderIndependent(t *testing.T) {
	var y strings.Builder
	y.WriteString("rules:\n")
	const n = 20
	for i := 0; i < n; i++ {
		y.WriteString("  - {name: \"wl" + string(rune('a'+i)) + "\", kind: level, sensor: water_level, levels: [{threshold: 6.5, clear_margin: 0.15}]}\n")
	}
	e := mustEngine(t, mustParse(t, y.String()))
	s := e.NewState("VG-AINGHIA")
	var evs []schemas.AlertEvent
	// 6.6 at 0 fires, 6.0 at 20 resolves; the late 6.7 at 10 changes no level.
	for _, r := range []*schemas.Record{
		mk("VG-AINGHIA", 1, 0, schemas.WaterLevel, 6.6),
		mk("VG-AINGHIA", 3, 20, schemas.WaterLevel, 6.0),
		mk("VG-AINGHIA", 2, 10, schemas.WaterLevel, 6.7),
	} {
		evs = append(evs, e.Apply(s, r).Events...)
	}
	for i := 0; i < n; i++ {
		name := "wl" + string(rune('a'+i))
		if got := brief(evs, name); !eq(got, []string{"fired:1", "resolved:0"}) {
			t.Errorf("rule %d (%s): events %v, want [fired:1 resolved:0]", i+1, name, got)
		}
	}
}

// TestRecentKeysSortedAndFound: whatever the arrival order, the recent
// record keys stay sorted by ts, every key the watermark has not passed is
// found (a duplicate) up to the newest maxRecent, and a key never
// applied is not.
func TestRecentKeysSortedAndFound(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	s := &State{}
	var want []recKey
	for i := 0; i < 3000; i++ {
		k := recKey{TS: int64(rng.IntN(5000)), Boot: uint32(rng.IntN(2)), Seq: uint64(rng.IntN(50))}
		if s.isDuplicate(&schemas.Record{Boot: k.Boot, Seq: k.Seq}, k.TS) {
			continue
		}
		s.addRecent(k)
		want = append(want, k)
		if i%100 == 99 {
			wm := int64(i) // the watermark moves forward
			s.trimRecent(wm)
			n := 0
			for _, k := range want {
				if k.TS > wm {
					want[n] = k
					n++
				}
			}
			want = want[:n]
			// and the newest maxRecent of them (by ts, then arrival)
			sort.SliceStable(want, func(i, j int) bool { return want[i].TS < want[j].TS })
			want = want[max(0, len(want)-maxRecent):]
		}
	}
	if !sort.SliceIsSorted(s.recent, func(i, j int) bool { return s.recent[i].TS < s.recent[j].TS }) {
		t.Fatal("recent keys not sorted by ts")
	}
	if len(s.recent) != len(want) {
		t.Fatalf("%d recent keys, want %d", len(s.recent), len(want))
	}
	for _, k := range want {
		if !s.isDuplicate(&schemas.Record{Boot: k.Boot, Seq: k.Seq}, k.TS) {
			t.Fatalf("key %+v applied and kept, not found", k)
		}
	}
	if s.isDuplicate(&schemas.Record{Boot: 9, Seq: 1}, 100) {
		t.Error("a key never applied is found")
	}
}
