package rules

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/resilience-project/resilience/schemas"
)

// propertyRules are the default rules without the quality checks: a
// neighbour-based check cannot know a reading is a spike before its
// neighbours arrive, so with them the order independence holds only for
// readings the checks pass (see the package documentation).
func propertyRules() *RuleSet {
	set := DefaultRuleSet()
	var keep []RuleSpec
	for _, r := range set.Rules {
		if r.Kind != KindQuality {
			keep = append(keep, r)
		}
	}
	set.Rules = keep
	return set
}

// genRecords is a random 12 h of water level (a random walk across the
// alarm levels, no two readings equal) and rainfall for one station.
func genRecords(rng *rand.Rand, station string, counter bool) []*schemas.Record {
	n := 72
	recs := make([]*schemas.Record, n)
	wl := 5.5 + rng.Float64()*3
	rain := 0.0
	for i := range recs {
		wl += (rng.Float64() - 0.45) * 0.5
		r := rng.Float64() * 9
		if rng.IntN(3) == 0 {
			r = 0
		}
		rain += r
		rv := r
		if counter {
			rv = rain
			if rng.IntN(25) == 0 {
				rain = rng.Float64() * 2 // counter reset
				rv = rain
			}
		}
		ms := []schemas.Measurement{{Sensor: schemas.Rainfall, Value: float64(int(rv*10)) / 10}}
		if !counter {
			ms = append(ms, schemas.Measurement{Sensor: schemas.WaterLevel, Value: float64(int(wl*1000)+i%7) / 1000})
		}
		recs[i] = &schemas.Record{V: 1, Station: station, Seq: uint64(i + 1),
			TS: t0.Add(time.Duration(i)*10*time.Minute + time.Duration(rng.IntN(60))*time.Second), Readings: ms}
	}
	return recs
}

// outcome is what must not depend on arrival order.
type outcome struct {
	final map[string]int // rule -> final level (0 if resolved)
	peak  map[string]int // rule -> highest level emitted
	sums  [4]float64
}

func run(t *testing.T, e *Engine, station string, recs []*schemas.Record) (outcome, []schemas.AlertEvent) {
	t.Helper()
	s := e.NewState(station)
	var evs []schemas.AlertEvent
	for _, r := range recs {
		res := e.Apply(s, r)
		if res.Late || res.Duplicate {
			t.Fatalf("record %d unexpectedly late=%v duplicate=%v", r.Seq, res.Late, res.Duplicate)
		}
		evs = append(evs, res.Events...)
	}
	o := outcome{final: map[string]int{}, peak: map[string]int{}}
	for _, a := range s.Active() {
		o.final[a.Rule] = a.Level
	}
	for _, ev := range evs {
		if ev.Level > o.peak[ev.Rule] && ev.Rule != "composite:rain-and-rise" {
			o.peak[ev.Rule] = ev.Level
		}
	}
	for i, w := range []time.Duration{time.Hour, 3 * time.Hour, 24 * time.Hour, 72 * time.Hour} {
		o.sums[i] = rainSum(s, w)
	}
	checkLifecycles(t, evs, s)
	return o, evs
}

// checkLifecycles asserts that every alert starts with fired, moves one
// level per event kind correctly and is either resolved or still active.
func checkLifecycles(t *testing.T, evs []schemas.AlertEvent, s *State) {
	t.Helper()
	level := map[string]int{}
	seen := map[string]bool{}
	for _, ev := range evs {
		if seen[ev.EventID] {
			t.Fatalf("event id %s emitted twice", ev.EventID)
		}
		seen[ev.EventID] = true
		cur, ok := level[ev.ID]
		switch ev.Kind {
		case schemas.AlertFired:
			if ok {
				t.Fatalf("alert %s fired twice", ev.ID)
			}
		case schemas.AlertEscalated:
			if !ok || ev.Level <= cur {
				t.Fatalf("bad escalation %d -> %d of %s", cur, ev.Level, ev.ID)
			}
		case schemas.AlertDeescalated:
			if !ok || ev.Level >= cur || ev.Level == 0 {
				t.Fatalf("bad deescalation %d -> %d of %s", cur, ev.Level, ev.ID)
			}
		case schemas.AlertResolved:
			if !ok || ev.Level != 0 {
				t.Fatalf("bad resolve of %s", ev.ID)
			}
		}
		level[ev.ID] = ev.Level
	}
	active := map[string]bool{}
	for _, a := range s.Active() {
		active[a.ID] = true
		if level[a.ID] != a.Level {
			t.Fatalf("active %s at level %d, events say %d", a.ID, a.Level, level[a.ID])
		}
	}
	for id, l := range level {
		if l > 0 && !active[id] {
			t.Fatalf("alert %s left at level %d but not active (dangling)", id, l)
		}
	}
}

func equalOutcome(a, b outcome) bool {
	if a.sums != b.sums || len(a.final) != len(b.final) || len(a.peak) != len(b.peak) {
		return false
	}
	for k, v := range a.final {
		if b.final[k] != v {
			return false
		}
	}
	for k, v := range a.peak {
		if b.peak[k] != v {
			return false
		}
	}
	return true
}

// shuffleWithin delays each record by a random time below lateness and
// returns them in arrival order: no record is ever late.
func shuffleWithin(rng *rand.Rand, recs []*schemas.Record, lateness time.Duration) []*schemas.Record {
	type arr struct {
		r  *schemas.Record
		at time.Time
	}
	a := make([]arr, len(recs))
	for i, r := range recs {
		a[i] = arr{r, r.TS.Add(time.Duration(rng.Int64N(int64(lateness - time.Second))))}
	}
	sort.SliceStable(a, func(i, j int) bool { return a[i].at.Before(a[j].at) })
	out := make([]*schemas.Record, len(a))
	for i := range a {
		out[i] = a[i].r
	}
	return out
}

func TestOrderIndependence(t *testing.T) {
	e := mustEngine(t, propertyRules())
	lateness := e.Rules().AllowedLateness
	for seed := uint64(1); seed <= 60; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		station, counter := "VG-AINGHIA", false
		if seed%3 == 0 {
			station, counter = "RG-COUNTER", true
		}
		recs := genRecords(rng, station, counter)
		want, evs := run(t, e, station, recs)
		if len(evs) == 0 {
			t.Fatalf("seed %d: generator produced no alerts; the property is vacuous", seed)
		}
		for k := 0; k < 10; k++ {
			got, _ := run(t, e, station, shuffleWithin(rng, recs, lateness))
			if !equalOutcome(got, want) {
				t.Fatalf("seed %d shuffle %d: outcome %+v, in order %+v", seed, k, got, want)
			}
		}
		// Duplicates mixed in anywhere change nothing.
		dup := shuffleWithin(rng, recs, lateness)
		s := e.NewState(station)
		for i, r := range dup {
			e.Apply(s, r)
			if j := rng.IntN(i + 1); rng.IntN(4) == 0 {
				if res := e.Apply(s, dup[j]); !res.Duplicate && !res.Late || len(res.Events) != 0 {
					t.Fatalf("seed %d: re-applied record %d: %+v", seed, dup[j].Seq, res)
				}
			}
		}
	}
}

func FuzzOrderIndependence(f *testing.F) {
	f.Add(uint64(1), uint64(2))
	f.Add(uint64(99), uint64(3))
	e := mustEngine(f, propertyRules())
	f.Fuzz(func(t *testing.T, seed, shuffle uint64) {
		rng := rand.New(rand.NewPCG(seed, 0))
		recs := genRecords(rng, "VG-AINGHIA", false)
		want, _ := run(t, e, "VG-AINGHIA", recs)
		got, _ := run(t, e, "VG-AINGHIA", shuffleWithin(rand.New(rand.NewPCG(shuffle, 1)), recs, e.Rules().AllowedLateness))
		if !equalOutcome(got, want) {
			t.Fatalf("outcome %+v, in order %+v", got, want)
		}
	})
}

func TestStateRoundTrip(t *testing.T) {
	e := mustEngine(t, nil)
	for _, station := range []string{"VG-AINGHIA", "RG-COUNTER"} {
		rng := rand.New(rand.NewPCG(42, uint64(len(station))))
		recs := shuffleWithin(rng, genRecords(rng, station, station == "RG-COUNTER"), time.Hour)
		// Reference: one state that never stops.
		ref := e.NewState(station)
		var want []schemas.AlertEvent
		for _, r := range recs {
			want = append(want, e.Apply(ref, r).Events...)
		}
		// Crash after every k records: restore from the last snapshot and
		// re-apply the records since (at-least-once delivery).
		for _, k := range []int{1, 5, 17} {
			s := e.NewState(station)
			var snap []byte
			snapAt := 0
			got := map[string]schemas.AlertEvent{}
			crashed := map[int]bool{}
			var order []string
			for i := 0; i < len(recs); i++ {
				for _, ev := range e.Apply(s, recs[i]).Events {
					if _, dup := got[ev.EventID]; !dup {
						order = append(order, ev.EventID)
					}
					got[ev.EventID] = ev
				}
				if (i+1)%k == 0 {
					b, err := s.MarshalBinary()
					if err != nil {
						t.Fatal(err)
					}
					snap, snapAt = b, i+1
				}
				if (i+1)%(k+3) == 0 && snap != nil && !crashed[i] { // crash: lose everything since the snapshot
					crashed[i] = true
					s = e.NewState(station)
					if err := s.UnmarshalBinary(snap); err != nil {
						t.Fatal(err)
					}
					b2, _ := s.MarshalBinary()
					if !bytes.Equal(b2, snap) {
						t.Fatal("state does not round-trip byte for byte")
					}
					i = snapAt - 1
				}
			}
			if len(order) != len(want) {
				t.Fatalf("%s k=%d: %d distinct events after crashes, want %d", station, k, len(order), len(want))
			}
			for _, w := range want {
				g, ok := got[w.EventID]
				if !ok {
					t.Fatalf("%s k=%d: event %s lost across restore", station, k, w.EventID)
				}
				if g.ID != w.ID || g.Level != w.Level || g.Value != w.Value || !g.At.Equal(w.At) {
					t.Fatalf("%s k=%d: event differs after restore: %+v vs %+v", station, k, g, w)
				}
			}
			a, _ := s.MarshalBinary()
			b, _ := ref.MarshalBinary()
			if !bytes.Equal(a, b) {
				t.Fatalf("%s k=%d: final state differs from the uninterrupted one", station, k)
			}
		}
	}
}

func TestUnmarshalBadState(t *testing.T) {
	var s State
	for _, b := range [][]byte{nil, []byte("garbage"), {0x00, 0x01}} {
		if err := s.UnmarshalBinary(b); err == nil {
			t.Errorf("%q: want error", b)
		}
	}
}

func FuzzUnmarshalState(f *testing.F) {
	e := mustEngine(f, nil)
	s := e.NewState("VG-AINGHIA")
	applyAll(e, s, series("VG-AINGHIA", schemas.WaterLevel, 10, 6, 6.6, 7, 8.2))
	b, _ := s.MarshalBinary()
	f.Add(b)
	f.Add([]byte{})
	fb, err := flood(f, e, "VG-AINGHIA").MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(fb)
	f.Fuzz(func(t *testing.T, data []byte) {
		var s State
		if err := s.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, ErrBadState) {
				t.Fatalf("error %v does not wrap ErrBadState", err)
			}
			return
		}
		// Accepted bytes of this version are canonical: they re-encode to
		// themselves. Those of the version before are migrated: they
		// re-encode in this version, canonically.
		b, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if data[0] != stateVersion {
			var m State
			if err := m.UnmarshalBinary(b); err != nil {
				t.Fatalf("a migrated state does not decode: %v", err)
			}
			data = b
			if b, err = m.MarshalBinary(); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(b, data) {
			t.Fatal("accepted state does not round-trip")
		}
		// Whatever decodes must be usable without panicking.
		s.station = "VG-AINGHIA"
		e.Apply(&s, mk("VG-AINGHIA", 1000, 60*24*30, schemas.WaterLevel, 7))
		e.Tick(&s, t0.Add(24*time.Hour*40))
		s.Active()
		if _, err := s.MarshalBinary(); err != nil {
			t.Fatal(err)
		}
	})
}
