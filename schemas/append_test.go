package schemas

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// appendCases are records at the edges of every field's encoding.
func appendCases() []Record {
	bat, rssi := 87.5, -71
	tiny, huge, neg := 1e-7, 1e21, -0.0
	zone := time.FixedZone("ICT", 7*3600)
	odd := time.FixedZone("odd", -(3*3600 + 30*60 + 15))
	t0 := time.Date(2026, 10, 14, 3, 0, 0, 120000000, time.UTC)
	return []Record{
		{V: 1, Station: "VG-AINGHIA", Seq: 42, TS: t0, ReceivedAt: t0.Add(time.Second),
			Readings: []Measurement{{Sensor: WaterLevel, Value: 6.42, Unit: "m"}, {Sensor: Rainfall, Value: 0, Unit: "mm"}}},
		{V: 1, Station: "X", Seq: 0, Boot: 7, TS: t0.In(zone), ReceivedAt: t0.In(odd), Battery: &bat, RSSI: &rssi, Format: "senml",
			Readings: []Measurement{{Sensor: Tilt, Value: tiny, Unit: "deg"}, {Sensor: WindSpeed, Value: huge, Unit: "m/s"}, {Sensor: Rainfall, Value: neg, Unit: "mm"}}},
		{V: 2, Station: `q"uo\te<>&`, Seq: math.MaxUint64, Boot: math.MaxUint32, Readings: []Measurement{}},
		{V: 1, Station: "Đà Nẵng\u2028\x01\xff", Readings: nil, Format: "v1",
			TS: time.Date(0, 1, 1, 0, 0, 0, 1, time.UTC), ReceivedAt: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		{Readings: []Measurement{{Sensor: "soil<moisture>", Value: 5e-324, Unit: "%"}, {Value: math.MaxFloat64}, {Value: 123456789.125}, {Value: 1e20}, {Value: 1e-6}}},
	}
}

// TestAppendJSONIsMarshal: AppendJSON writes exactly json.Marshal's bytes,
// appended after what dst holds.
func TestAppendJSONIsMarshal(t *testing.T) {
	for i, r := range appendCases() {
		want, err := json.Marshal(&r)
		if err != nil {
			t.Fatalf("case %d: json.Marshal: %v", i, err)
		}
		got, err := r.AppendJSON([]byte("prefix"))
		if err != nil {
			t.Fatalf("case %d: AppendJSON: %v", i, err)
		}
		if !bytes.Equal(got, append([]byte("prefix"), want...)) {
			t.Errorf("case %d:\n got %s\nwant prefix%s", i, got, want)
		}
	}
}

// TestAppendJSONRefusesWhatMarshalRefuses: NaN, infinities, years past
// 9999 and zone offsets of a day or more fail in both.
func TestAppendJSONRefusesWhatMarshalRefuses(t *testing.T) {
	inf := math.Inf(1)
	for name, r := range map[string]Record{
		"NaN value":   {Readings: []Measurement{{Value: math.NaN()}}},
		"infinite":    {Battery: &inf},
		"year 10000":  {TS: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"year -1":     {ReceivedAt: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)},
		"offset 24 h": {TS: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("far", 24*3600))},
	} {
		_, merr := json.Marshal(&r)
		_, aerr := r.AppendJSON(nil)
		if merr == nil || aerr == nil {
			t.Errorf("%s: json.Marshal err %v, AppendJSON err %v: want both to fail", name, merr, aerr)
		}
	}
}

// TestAppendJSONRandomRecords: 20,000 random records encode as json.Marshal
// encodes them.
func TestAppendJSONRandomRecords(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	sensors := []Sensor{WaterLevel, Rainfall, FloodDepth, Tilt, WindSpeed}
	var buf []byte
	for i := 0; i < 20000; i++ {
		r := Record{V: 1, Station: "ST-" + string(rune('A'+rng.IntN(26))), Seq: rng.Uint64(), Boot: uint32(rng.IntN(3)),
			TS:         time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)).UTC(),
			ReceivedAt: time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)*int64(rng.IntN(2))),
		}
		for k := rng.IntN(4); k > 0; k-- {
			v := (rng.Float64() - 0.5) * math.Pow(10, float64(rng.IntN(40)-20))
			r.Readings = append(r.Readings, Measurement{Sensor: sensors[rng.IntN(len(sensors))], Value: v, Unit: "m"})
		}
		if rng.IntN(2) == 0 {
			b := math.Round(rng.Float64()*1000) / 10
			r.Battery = &b
		}
		want, err := json.Marshal(&r)
		if err != nil {
			t.Fatal(err)
		}
		if buf, err = r.AppendJSON(buf[:0]); err != nil || !bytes.Equal(buf, want) {
			t.Fatalf("record %d: AppendJSON %v\n got %s\nwant %s", i, err, buf, want)
		}
	}
}

// FuzzAppendJSON: for any record (station, units and values from the
// fuzzer), AppendJSON and json.Marshal agree, errors included.
func FuzzAppendJSON(f *testing.F) {
	f.Add("VG-AINGHIA", "m", 6.42, uint64(1), uint32(0), int64(1796000000), int64(5), "v1")
	f.Add("q\"<\u2028", "\xff", math.Inf(-1), uint64(math.MaxUint64), uint32(9), int64(-62135596801), int64(0), "")
	f.Fuzz(func(t *testing.T, station, unit string, v float64, seq uint64, boot uint32, sec, nsec int64, format string) {
		r := Record{V: 1, Station: station, Seq: seq, Boot: boot, TS: time.Unix(sec, nsec).UTC(), ReceivedAt: time.Unix(sec/2, 0),
			Readings: []Measurement{{Sensor: Sensor(unit), Value: v, Unit: unit}}, Battery: &v, Format: format}
		want, merr := json.Marshal(&r)
		got, aerr := r.AppendJSON(nil)
		if (merr == nil) != (aerr == nil) {
			t.Fatalf("json.Marshal err %v, AppendJSON err %v", merr, aerr)
		}
		if merr == nil && !bytes.Equal(got, want) {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	})
}

// BenchmarkEncodeRecord: the collector's encoding of one record, AppendJSON
// against json.Marshal.
func BenchmarkEncodeRecord(b *testing.B) {
	r := appendCases()[1]
	b.Run("AppendJSON", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf, _ = r.AppendJSON(buf[:0])
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = json.Marshal(&r)
		}
	})
}

// alertCases are alert events at the edges of every field's encoding.
func alertCases() []AlertEvent {
	t0 := time.Date(2026, 10, 14, 3, 0, 0, 120000000, time.UTC)
	zone := time.FixedZone("ICT", 7*3600)
	return []AlertEvent{
		{V: 1, ID: "VG-AINGHIA-0011223344556677", EventID: "VG-AINGHIA-0011223344556677:fired:3:1791946800120000000", Kind: AlertFired,
			Station: "VG-AINGHIA", Sensor: WaterLevel, Rule: "level:water_level", Level: 3, LevelName: "BĐ III", Severity: SeverityExtreme,
			Value: 9.12, Threshold: 9, StartedAt: t0, At: t0.Add(time.Minute),
			Readings: []ReadingRef{{Seq: 7, TS: t0, Value: 9.12}, {Seq: 8, TS: t0.In(zone), Value: -0.0}},
			District: "Hòa Vang", Basin: "Vu Gia – Thu Bồn", Message: "Mực nước 9.12 m vượt BĐ III (9 m)",
			LevelNameVI: "báo động III", LevelNameEN: "alarm III", Beaufort: 12, Colour: "red", TimeToNext: 1e-7, TimeToFailure: 1e21},
		{Kind: AlertResolved, Value: -0.0, Readings: []ReadingRef{}},
		{Station: `q"uo\te<>&`, Message: "a\u2028b\x01\xff", Window: "24h", Level: -1, Beaufort: -3, TimeToNext: -0.0},
		{StartedAt: time.Date(0, 1, 1, 0, 0, 0, 1, time.UTC), At: time.Date(9999, 12, 31, 23, 59, 59, 999999999, zone), Value: math.MaxFloat64, Threshold: 5e-324},
	}
}

// TestAlertEventAppendJSONIsMarshal: AlertEvent.AppendJSON writes exactly
// json.Marshal's bytes, appended after what dst holds, and refuses what it
// refuses.
func TestAlertEventAppendJSONIsMarshal(t *testing.T) {
	for i, e := range alertCases() {
		want, err := json.Marshal(&e)
		if err != nil {
			t.Fatalf("case %d: json.Marshal: %v", i, err)
		}
		got, err := e.AppendJSON([]byte("prefix"))
		if err != nil {
			t.Fatalf("case %d: AppendJSON: %v", i, err)
		}
		if !bytes.Equal(got, append([]byte("prefix"), want...)) {
			t.Errorf("case %d:\n got %s\nwant prefix%s", i, got, want)
		}
	}
	for name, e := range map[string]AlertEvent{
		"NaN value":       {Value: math.NaN()},
		"infinite ttf":    {TimeToFailure: math.Inf(-1)},
		"reading NaN":     {Readings: []ReadingRef{{Value: math.NaN()}}},
		"year 10000":      {At: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"reading year -1": {Readings: []ReadingRef{{TS: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}}},
	} {
		_, merr := json.Marshal(&e)
		_, aerr := e.AppendJSON(nil)
		if merr == nil || aerr == nil {
			t.Errorf("%s: json.Marshal err %v, AppendJSON err %v: want both to fail", name, merr, aerr)
		}
	}
}

// FuzzAlertEventAppendJSON: for any event (strings and numbers from the
// fuzzer), AppendJSON and json.Marshal agree, errors included.
func FuzzAlertEventAppendJSON(f *testing.F) {
	f.Add("VG-AINGHIA", "Mực nước vượt BĐ III", 9.12, 0.0, int64(1796000000), int64(5), 3, uint64(7))
	f.Add("q\"<\u2028", "\xff\x01", math.Inf(-1), -0.0, int64(-62135596801), int64(0), -1, uint64(math.MaxUint64))
	f.Fuzz(func(t *testing.T, station, msg string, v, ttf float64, sec, nsec int64, level int, seq uint64) {
		at := time.Unix(sec, nsec).UTC()
		e := AlertEvent{V: 1, ID: station + "-id", EventID: station + ":" + msg, Kind: AlertKind(msg), Station: station, Sensor: Sensor(msg),
			Rule: msg, Level: level, LevelName: msg, Severity: Severity(station), Value: v, Threshold: -v, Window: msg, StartedAt: at, At: at,
			Readings: []ReadingRef{{Seq: seq, TS: at, Value: v}}, District: msg, Basin: station, Message: msg, LevelNameVI: msg,
			LevelNameEN: station, Beaufort: level, Colour: msg, TimeToNext: ttf, TimeToFailure: v}
		want, merr := json.Marshal(&e)
		got, aerr := e.AppendJSON(nil)
		if (merr == nil) != (aerr == nil) {
			t.Fatalf("json.Marshal err %v, AppendJSON err %v", merr, aerr)
		}
		if merr == nil && !bytes.Equal(got, want) {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	})
}

// BenchmarkEncodeAlertEvent: the processor's encoding of one alert event,
// AppendJSON against json.Marshal.
func BenchmarkEncodeAlertEvent(b *testing.B) {
	e := alertCases()[0]
	b.Run("AppendJSON", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf, _ = e.AppendJSON(buf[:0])
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		for b.Loop() {
			json.Marshal(&e)
		}
	})
}
