package harness

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

// TestLoadReadingTimestampsDistinctPerMillisecond: the processor stores a
// reading as one InfluxDB point per station, sensor and millisecond, so two
// routine readings of one station stamped within one millisecond are one
// point and the earlier seq is "lost". That happened in chaos F14 (issue 7):
// at 10x rate a stalled harness caught up by generating each station's due
// readings at once, within the same millisecond. Here the generators run
// far above 1000 readings/s, so before the fix many readings shared a
// millisecond whatever the machine's speed.
func TestLoadReadingTimestampsDistinctPerMillisecond(t *testing.T) {
	stations := []string{"T-LOAD-0", "T-LOAD-1", "T-LOAD-2"}
	const perStation = 500
	l := &Load{s: &Scenario{Stations: stations}, cfg: LoadConfig{Pattern: Pattern{Cycle: 20, High: 4}},
		Ledger: &Ledger{}, stopGen: make(chan struct{})}
	l.rate.Store(math.Float64bits(20000)) // readings/s per station
	start := time.Now()
	for i, id := range stations {
		st := &station{id: id, index: i, kick: make(chan struct{}, 1), extra: make(chan Special, 64), done: make(chan struct{})}
		l.stations = append(l.stations, st)
		l.genWG.Add(1)
		go l.generate(st, start)
	}
	deadline := time.Now().Add(time.Minute)
	for len(l.Ledger.Entries()) < perStation*len(stations) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	close(l.stopGen)
	l.genWG.Wait()

	entries := l.Ledger.Entries()
	if len(entries) < perStation*len(stations) {
		t.Fatalf("generated %d readings within a minute, want at least %d", len(entries), perStation*len(stations))
	}
	last := map[string]time.Time{}
	collisions := 0
	for _, e := range entries {
		var p struct {
			Seq uint64    `json:"seq"`
			TS  time.Time `json:"ts"`
		}
		if err := json.Unmarshal(e.Payload, &p); err != nil {
			t.Fatalf("%s seq %d: payload: %v", e.Station, e.Seq, err)
		}
		if p.Seq != e.Seq || !p.TS.Equal(e.TS) {
			t.Fatalf("%s seq %d: payload says seq %d ts %s, ledger ts %s", e.Station, e.Seq, p.Seq, p.TS, e.TS)
		}
		if prev, ok := last[e.Station]; ok && e.TS.UnixMilli() <= prev.UnixMilli() {
			if collisions < 5 {
				t.Errorf("%s seq %d: ts %s is not in a later millisecond than the previous reading's %s",
					e.Station, e.Seq, e.TS.Format(time.RFC3339Nano), prev.Format(time.RFC3339Nano))
			}
			collisions++
		}
		last[e.Station] = e.TS
	}
	if collisions > 0 {
		t.Errorf("%d of %d readings share their station's previous reading's millisecond (one InfluxDB point)", collisions, len(entries))
	}
}

func TestReadingTS(t *testing.T) {
	base := time.Date(2026, 12, 2, 3, 1, 6, 984_000_000, time.UTC)
	for _, tc := range []struct {
		name      string
		now, last time.Time
		want      time.Time
	}{
		{name: "first reading: now at the millisecond", now: base.Add(123_456), want: base},
		{name: "a later millisecond: now", now: base.Add(5 * time.Millisecond), last: base, want: base.Add(5 * time.Millisecond)},
		{name: "same millisecond: one after last", now: base.Add(400_000), last: base, want: base.Add(time.Millisecond)},
		{name: "clock behind last: one after last", now: base, last: base.Add(3 * time.Millisecond), want: base.Add(4 * time.Millisecond)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := readingTS(tc.now, tc.last); !got.Equal(tc.want) {
				t.Errorf("readingTS(%s, %s) = %s, want %s", tc.now.Format(time.RFC3339Nano), tc.last.Format(time.RFC3339Nano),
					got.Format(time.RFC3339Nano), tc.want.Format(time.RFC3339Nano))
			}
		})
	}
}
