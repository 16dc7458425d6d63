package processor

import (
	"testing"
	"time"

	"github.com/resilience-project/resilience/schemas"
)

// The view keeps the battery of the newest record that carried one (the
// station status shows it); an older record's battery does not replace it,
// and the copy Stations returns is the caller's.
func TestViewKeepsBattery(t *testing.T) {
	v := NewView(testRegistry(t), 3)
	base := time.Date(2026, 10, 28, 3, 0, 0, 0, time.UTC)
	volts := func(x float64) *float64 { return &x }
	for _, rec := range []schemas.Record{
		{Station: "ST-A", Seq: 1, TS: base, Battery: volts(3.9)},
		{Station: "ST-A", Seq: 2, TS: base.Add(time.Minute)},                     // no battery this time
		{Station: "ST-A", Seq: 3, TS: base.Add(-time.Hour), Battery: volts(4.2)}, // late
	} {
		v.observe(&rec, nil)
	}
	get := func() StationStatus {
		for _, s := range v.Stations() {
			if s.ID == "ST-A" {
				return s
			}
		}
		t.Fatal("ST-A missing")
		return StationStatus{}
	}
	a := get()
	if a.Battery == nil || a.Battery.Value != 3.9 || a.Battery.Unit != "V" || !a.Battery.TS.Equal(base) {
		t.Fatalf("battery = %+v, want 3.9 V at %s", a.Battery, base)
	}
	a.Battery.Value = 0
	if get().Battery.Value != 3.9 {
		t.Fatal("Stations shares the battery with the view")
	}
}
