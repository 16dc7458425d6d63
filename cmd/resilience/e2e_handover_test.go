package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/resilience-project/resilience/internal/testenv/harness"
	"github.com/resilience-project/resilience/processor/rules"
	"github.com/resilience-project/resilience/schemas"
)

// storm is a flood wave: rising through BĐ I, II and III, then falling back
// below I, in steps small enough not to count as spikes.
func storm(i int, seq uint64) float64 {
	const peak = 40
	s := float64(seq)
	if seq > peak {
		s = 2*peak - s
	}
	return 4.0 + 0.08*s + 0.001*float64(i%3)
}

// TestE2EHandover (rule engine issue): two processors in one consumer group;
// one is killed with SIGKILL mid-storm. After the handover the set of alert
// events equals the set a single uninterrupted evaluation of the same
// readings gives (none lost, none extra; a replayed event keeps its
// EventID), and an offline alert fires on time for a station that went
// silent.
func TestE2EHandover(t *testing.T) {
	e := newE2E(t, 20)
	// A live station with a 2 s reporting interval that goes silent.
	silent := e.stations[0][:len(e.stations[0])-3] + "SIL"
	f, err := os.OpenFile(filepath.Join(e.dir, "stations.yaml"), os.O_APPEND|os.O_WRONLY, 0)
	must(t, err)
	fmt.Fprintf(f, "  - id: %s\n    name: silent\n    basin: test\n    district: d\n    lat: 16.0\n    lon: 108.0\n    interval: 2s\n    sensors: [water_level]\n", silent)
	f.Close()
	e.writeConfig()

	a := e.start("process")
	e.start("process")
	e.start("ingest")

	rs := e.series(80, storm)
	// Reference: one engine over the same readings in order.
	reg, err := schemas.LoadRegistry(filepath.Join(e.dir, "stations.yaml"))
	must(t, err)
	engine, err := rules.NewEngine(rules.DefaultRuleSet(), reg)
	must(t, err)
	want := map[string]schemas.AlertEvent{}
	states := map[string]*rules.State{}
	for _, r := range rs {
		st := states[r.Station]
		if st == nil {
			st = engine.NewState(r.Station)
			states[r.Station] = st
		}
		rec := schemas.Record{V: 1, Station: r.Station, Seq: r.Seq, TS: r.TS.UTC(),
			Readings: []schemas.Measurement{{Sensor: schemas.WaterLevel, Value: r.Level, Unit: "m"}}}
		for _, ev := range engine.Apply(st, &rec).Events {
			want[ev.EventID] = ev
		}
	}
	if len(want) < 3*len(e.stations) {
		t.Fatalf("reference storm raised only %d events; the test needs a real storm", len(want))
	}

	// The silent station reports live, then stops.
	var last time.Time
	for seq := uint64(1); seq <= 3; seq++ {
		last = time.Now().UTC().Truncate(time.Millisecond)
		e.publish(context.Background(), []harness.Message{{Station: silent, Seq: seq, TS: last, Level: 1.0 + 0.01*float64(seq)}}, 1)
		time.Sleep(500 * time.Millisecond)
	}

	third := len(rs) / 3
	e.publish(context.Background(), rs[:third], 4)
	a.Kill()
	t.Log("processor A killed with SIGKILL mid-storm")
	e.publish(context.Background(), rs[third:], 4)
	e.waitInflux(len(rs)+3, 3*time.Minute)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var got map[string]schemas.AlertEvent
	var offline []schemas.AlertEvent
	deadline := time.Now().Add(90 * time.Second)
	for {
		got = map[string]schemas.AlertEvent{}
		offline = nil
		for _, ev := range e.alertEvents(ctx) {
			if ev.Station == silent {
				if ev.Rule == "offline" {
					offline = append(offline, ev)
				}
				continue
			}
			if prev, dup := got[ev.EventID]; dup && (prev.Kind != ev.Kind || prev.Level != ev.Level || !prev.At.Equal(ev.At)) {
				t.Fatalf("two different events share EventID %s: %+v / %+v", ev.EventID, prev, ev)
			}
			got[ev.EventID] = ev
		}
		if (len(got) >= len(want) && len(offline) > 0) || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	var missing, extra []string
	for id := range want {
		if _, ok := got[id]; !ok {
			missing = append(missing, id)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			extra = append(extra, id)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("after the handover: %d events missing %v, %d extra %v (want %d)", len(missing), missing, len(extra), extra, len(want))
	}

	// Offline: fired once, at event time last + 3 × 2 s.
	if len(offline) == 0 {
		t.Fatalf("no offline alert for the silent station %s", silent)
	}
	fired := map[string]schemas.AlertEvent{}
	for _, ev := range offline {
		if ev.Kind == schemas.AlertFired {
			fired[ev.EventID] = ev
		}
	}
	if len(fired) != 1 {
		t.Fatalf("offline fired events: %d distinct, want 1: %+v", len(fired), offline)
	}
	for _, ev := range fired {
		if due := last.Add(6 * time.Second); !ev.At.Equal(due) {
			t.Errorf("offline alert at %s, want the deadline %s (last reading + 3 × 2 s)", ev.At, due)
		}
	}
}
