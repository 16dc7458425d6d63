package processor

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/segmentio/kafka-go"

	"github.com/resilience-project/resilience/schemas"
)

func sampleRecord(t testing.TB) []byte {
	t.Helper()
	bat := 3.71
	rec := schemas.Record{V: 1, Station: "VG-AINGHIA", Seq: 42, Boot: 3, TS: time.Date(2026, 10, 28, 3, 0, 0, 0, time.UTC),
		Readings: []schemas.Measurement{{Sensor: schemas.WaterLevel, Value: 5.62, Unit: "m"}, {Sensor: schemas.Rainfall, Value: 0.2, Unit: "mm"}},
		Battery:  &bat, ReceivedAt: time.Date(2026, 10, 28, 3, 0, 1, 500e6, time.UTC), Format: "v1"}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecode(t *testing.T) {
	good := sampleRecord(t)
	tests := []struct {
		name    string
		in      string
		bad     bool
		station string
	}{
		{"collector record", string(good), false, "VG-AINGHIA"},
		{"names in another case, as encoding/json accepted", `{"V":1,"Station":"ST-A","seq":1,"ts":"2026-10-28T03:00:00Z","readings":[]}`, false, "ST-A"},
		{"duplicate name: the last wins, as encoding/json", `{"v":1,"station":"ST-X","station":"ST-A","seq":1,"ts":"2026-10-28T03:00:00Z"}`, false, "ST-A"},
		{"unknown field ignored", `{"v":1,"station":"ST-A","seq":1,"ts":"2026-10-28T03:00:00Z","extra":{"a":[1]}}`, false, "ST-A"},
		{"not JSON", `{"v":1,`, true, ""},
		{"wrong type", `{"v":"1","station":"ST-A"}`, true, ""},
		{"version", `{"v":2,"station":"ST-A","seq":1,"ts":"2026-10-28T03:00:00Z"}`, true, ""},
		{"station id", `{"v":1,"station":"ST A\n","seq":1,"ts":"2026-10-28T03:00:00Z"}`, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := decode(kafka.Message{Offset: 7, Value: []byte(tt.in)})
			if tt.bad {
				if !errors.Is(err, ErrBadRecord) {
					t.Fatalf("decode = %v, want ErrBadRecord", err)
				}
				return
			}
			if err != nil || rec.Station != tt.station {
				t.Fatalf("decode = %+v, %v; want station %s", rec, err, tt.station)
			}
		})
	}
}

// FuzzDecode: whatever encoding/json reads as a valid record, decode
// reads as the same record (the faster decoders skip no record the old
// one processed, and read none differently); and whatever fastRecord
// accepts, encoding/json reads, as the same record.
func FuzzDecode(f *testing.F) {
	f.Add(sampleRecord(f))
	f.Add([]byte(`{"V":1,"Station":"ST-A","seq":1,"ts":"2026-10-28T03:00:00Z","readings":[{"sensor":"rainfall","value":1e-3,"unit":"mm"}]}`))
	f.Add([]byte(`{"v":1,"station":"ST-A","station":"ST-B","seq":18446744073709551615,"boot":1,"ts":"2026-10-28T03:00:00.123+07:00","rssi":-70}`))
	f.Add([]byte(`{"v":1,"station":"ST-A","seq":7,"boot":2,"ts":"2026-10-28T03:00:00.123+07:00","readings":[{"sensor":"water_level","value":-1.5e-3,"unit":"m"},{"sensor":"tilt","value":0,"unit":"deg"}],"battery":3.7,"rssi":-70,"received_at":"2026-10-28T03:00:01Z","format":"senml"}`))
	f.Add([]byte(`{"v":1,"station":"ST-A","seq":7,"ts":"2026-10-28T03:00:00Z","readings":[],"received_at":"2026-10-28T03:00:01Z"}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var want, fast schemas.Record
		v1err := json.Unmarshal(in, &want)
		if fastRecord(in, &fast) {
			if v1err != nil {
				t.Fatalf("fastRecord reads %q, encoding/json: %v", in, v1err)
			}
			if !reflect.DeepEqual(normTimes(fast), normTimes(want)) {
				t.Fatalf("fastRecord %q:\n got %+v\nwant %+v", in, fast, want)
			}
		}
		if v1err != nil || want.V != schemas.RecordVersion || !schemas.ValidStationID(want.Station) {
			return
		}
		got, err := decode(kafka.Message{Value: in})
		if err != nil {
			t.Fatalf("encoding/json reads %q as a valid record, decode: %v", in, err)
		}
		if !reflect.DeepEqual(normTimes(got), normTimes(want)) {
			t.Fatalf("decode %q:\n got %+v\nwant %+v", in, got, want)
		}
	})
}

// normTimes makes the record's times comparable with DeepEqual.
func normTimes(r schemas.Record) schemas.Record {
	r.TS, r.ReceivedAt = r.TS.UTC(), r.ReceivedAt.UTC()
	return r
}

// BenchmarkDecode decodes one collector record: decode (the fast path),
// the general decoder it falls back to, and encoding/json.
func BenchmarkDecode(b *testing.B) {
	m := kafka.Message{Value: sampleRecord(b)}
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decode(m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("general", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var rec schemas.Record
			if err := jsonv2.Unmarshal(m.Value, &rec, recordJSON); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var rec schemas.Record
			if err := json.Unmarshal(m.Value, &rec); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestFastRecordTakesCollectorRecords: the collectors' records (every
// optional field set or not) take the fast path.
func TestFastRecordTakesCollectorRecords(t *testing.T) {
	bat, rssi := 3.7, -71
	base := schemas.Record{V: 1, Station: "VG-AINGHIA", Seq: 9, TS: time.Date(2026, 10, 28, 3, 0, 0, 123e6, time.UTC),
		Readings:   []schemas.Measurement{{Sensor: schemas.WaterLevel, Value: 5.62, Unit: "m"}},
		ReceivedAt: time.Date(2026, 10, 28, 3, 0, 1, 0, time.UTC)}
	full := base
	full.Boot, full.Battery, full.RSSI, full.Format = 4, &bat, &rssi, "senml"
	empty := base
	empty.Readings = nil
	for name, rec := range map[string]schemas.Record{"minimal": base, "every field": full, "no readings": empty} {
		b, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		var got schemas.Record
		if !fastRecord(b, &got) {
			t.Errorf("%s: %s not taken by the fast path", name, b)
			continue
		}
		if !reflect.DeepEqual(normTimes(got), normTimes(rec)) {
			t.Errorf("%s: got %+v, want %+v", name, got, rec)
		}
	}
}
