package processor

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/resilience-project/resilience/schemas"
)

// TestViewRecentRing: the recent values come back oldest first after the
// ring wrapped, within the bound, and none more than RecentSpan older than
// the newest.
func TestViewRecentRing(t *testing.T) {
	base := time.Date(2026, 10, 28, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name        string
		bound, n    int
		step        time.Duration
		wantN       int
		wantOldestI int // index of the oldest value kept
	}{
		{"under the bound", 10, 7, time.Minute, 7, 0},
		{"at the bound", 10, 10, time.Minute, 10, 0},
		{"wrapped", 10, 23, time.Minute, 10, 13},
		{"a day at 10 minutes", 1000, 432, 10 * time.Minute, 145, 287},
		{"span and bound", 100, 500, 20 * time.Minute, 73, 427},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := NewView(testRegistry(t), tc.bound)
			for i := 0; i < tc.n; i++ {
				rec := schemas.Record{Station: "ST-A", Seq: uint64(i + 1), TS: base.Add(time.Duration(i) * tc.step),
					Readings: []schemas.Measurement{{Sensor: schemas.WaterLevel, Value: float64(i) + 0.25, Unit: "m"}}}
				v.observe(&rec, []int{i % 3})
			}
			got := v.Recent("ST-A", schemas.WaterLevel, time.Time{})
			if len(got) != tc.wantN {
				t.Fatalf("%d values, want %d", len(got), tc.wantN)
			}
			for k, x := range got {
				i := tc.wantOldestI + k
				want := SensorValue{Value: float64(i) + 0.25, Unit: "m", TS: base.Add(time.Duration(i) * tc.step), Quality: schemas.Quality(i % 3)}
				if x != want {
					t.Fatalf("value %d is %+v, want %+v", k, x, want)
				}
			}
			if newest := got[len(got)-1].TS; newest.Sub(got[0].TS) > RecentSpan {
				t.Errorf("kept %v of history, more than RecentSpan", newest.Sub(got[0].TS))
			}
		})
	}
}

// BenchmarkViewMemory10k: the view's heap for 10,000 stations with four
// sensors after 72 h of 10-minute readings (each sensor keeps a day).
func BenchmarkViewMemory10k(b *testing.B) {
	const stations, steps = 10000, 72 * 6
	list := make([]schemas.Station, stations)
	for i := range list {
		list[i] = schemas.Station{ID: fmt.Sprintf("S%05d", i), Name: "bench", Basin: "b", District: "d", Interval: 10 * time.Minute,
			Sensors: []schemas.Sensor{schemas.WaterLevel, schemas.Rainfall, schemas.Tilt, schemas.SoilMoisture}}
	}
	reg, err := schemas.NewRegistry(list)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2026, 10, 28, 0, 0, 0, 0, time.UTC)
	q := []int{0, 0, 0, 0}
	for n := 0; n < b.N; n++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		v := NewView(reg, 1000)
		for k := 0; k < steps; k++ {
			for i := range list {
				rec := schemas.Record{Station: list[i].ID, Seq: uint64(k + 1), TS: t0.Add(time.Duration(k) * 10 * time.Minute),
					Readings: []schemas.Measurement{{Sensor: schemas.WaterLevel, Value: 3, Unit: "m"}, {Sensor: schemas.Rainfall, Value: 0.2, Unit: "mm"},
						{Sensor: schemas.Tilt, Value: 1, Unit: "deg"}, {Sensor: schemas.SoilMoisture, Value: 30, Unit: "%"}}}
				v.observe(&rec, q)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc), "heap-bytes")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/stations, "heap-bytes/station")
		runtime.KeepAlive(v)
	}
}
