package schemas

import (
	"math"
	"testing"
	"time"
)

// testNow is the receive time used by the decoder tests and the examples
// under testdata/ (their timestamps are minutes before it).
var testNow = time.Date(2025, 10, 28, 3, 0, 0, 0, time.UTC)

func testRegistry(t testing.TB) *Registry {
	t.Helper()
	r, err := NewRegistry([]Station{
		{ID: "ST-1", Name: "Test 1", Basin: "han", District: "Hải Châu", Lat: 16, Lon: 108, Interval: 10 * time.Minute,
			Sensors: []Sensor{WaterLevel, Rainfall}, AlarmLevelsM: Levels{I: 1, II: 2, III: 3}},
		{ID: "ST-2", Name: "Test 2", Lat: 16, Lon: 108, Interval: 5 * time.Minute,
			Sensors: []Sensor{FloodDepth, WindSpeed, WindGust, Tilt, SoilMoisture}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func testDecoder(t testing.TB) *Decoder {
	return &Decoder{Registry: testRegistry(t), Opts: DefaultDecodeOptions()}
}

// checkRecords asserts the decoder contract on accepted records.
func checkRecords(t testing.TB, d *Decoder, topic string, recs []Record, now time.Time) {
	t.Helper()
	station, _ := ParseTopic(topic)
	if len(recs) == 0 {
		t.Fatalf("accepted with no records")
	}
	for i, r := range recs {
		if r.V != RecordVersion {
			t.Fatalf("record %d: v=%d", i, r.V)
		}
		if !ValidStationID(r.Station) || r.Station != station || d.Registry.Lookup(r.Station) == nil {
			t.Fatalf("record %d: station %q, topic station %q", i, r.Station, station)
		}
		if d.Opts.MaxFuture > 0 && r.TS.After(now.Add(d.Opts.MaxFuture)) {
			t.Fatalf("record %d: ts %s after now+%s", i, r.TS, d.Opts.MaxFuture)
		}
		if r.TS.Year() < 2000 || r.TS.Year() >= 3000 || r.TS.Location() != time.UTC {
			t.Fatalf("record %d: ts %s out of range or not UTC", i, r.TS)
		}
		if r.Readings == nil {
			t.Fatalf("record %d: nil readings (marshals as null)", i)
		}
		if len(r.Readings) == 0 && r.Battery == nil {
			t.Fatalf("record %d: no readings and no battery", i)
		}
		for j, m := range r.Readings {
			spec, ok := Specs[m.Sensor]
			if !ok {
				t.Fatalf("record %d reading %d: unknown sensor %q", i, j, m.Sensor)
			}
			if m.Unit != spec.Unit {
				t.Fatalf("record %d reading %d: unit %q, canonical %q", i, j, m.Unit, spec.Unit)
			}
			if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) || m.Value < spec.Min || m.Value > spec.Max {
				t.Fatalf("record %d reading %d: value %v outside [%v, %v]", i, j, m.Value, spec.Min, spec.Max)
			}
		}
		if b := r.Battery; b != nil && (math.IsNaN(*b) || *b < Specs[Battery].Min || *b > Specs[Battery].Max) {
			t.Fatalf("record %d: battery %v out of bounds", i, *b)
		}
		if r.Format != "v1" && r.Format != "senml" {
			t.Fatalf("record %d: format %q", i, r.Format)
		}
	}
}
