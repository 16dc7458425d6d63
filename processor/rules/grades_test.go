package rules

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/resilience-project/resilience/schemas"
)

// rec builds a record at t0 + min minutes with several readings.
func rec(station string, seq uint64, min float64, ms ...schemas.Measurement) *schemas.Record {
	return &schemas.Record{V: 1, Station: station, Seq: seq, TS: t0.Add(time.Duration(min * float64(time.Minute))), Readings: ms}
}

func only(evs []schemas.AlertEvent, rule string) []schemas.AlertEvent {
	var out []schemas.AlertEvent
	for _, ev := range evs {
		if ev.Rule == rule {
			out = append(out, ev)
		}
	}
	return out
}

// TestWindGrades: the sustained wind at Sơn Trà rising through the
// Beaufort bands of Decision 18/2021 fires after 10 minutes in a band,
// escalates band by band with the grade names, the Beaufort number of the
// value and the time to the next grade, and falls one grade at a time
// with the clear margin.
func TestWindGrades(t *testing.T) {
	e := mustEngine(t, nil)
	s := e.NewState("RG-SONTRA")
	evs := only(applyAll(e, s, series("RG-SONTRA", schemas.WindSpeed, 10, 9, 12, 13, 18, 25, 34, 52, 50, 49, 31, 20)), "level:wind_speed")
	type want struct {
		kind           string
		level          int
		vi, en         string
		beaufort       int
		value, thr     float64
		minute         float64
		timeToNextSecs float64
	}
	wants := []want{
		{"fired", 1, "áp thấp nhiệt đới", "tropical depression", 6, 13, 10.8, 20, (17.2 - 13) / ((13 - 9) / (20.0 / 60)) * 3600},
		{"escalated", 2, "bão", "storm", 8, 18, 17.2, 30, (24.5 - 18) / ((18 - 9) / 0.5) * 3600},
		{"escalated", 3, "bão mạnh", "strong storm", 10, 25, 24.5, 40, (32.7 - 25) / ((25 - 9) / (40.0 / 60)) * 3600},
		{"escalated", 4, "bão rất mạnh", "very strong storm", 12, 34, 32.7, 50, (51 - 34) / ((34 - 9) / (50.0 / 60)) * 3600},
		{"escalated", 5, "siêu bão", "super typhoon", 16, 52, 51, 60, 0}, // no grade above
		{"deescalated", 4, "bão rất mạnh", "very strong storm", 15, 49, 32.7, 80, 0},
		{"deescalated", 3, "bão mạnh", "strong storm", 11, 31, 24.5, 90, 0},
		{"deescalated", 2, "bão", "storm", 8, 20, 17.2, 100, 0},
	}
	if len(evs) != len(wants) {
		t.Fatalf("events %v, want %d", brief(evs, ""), len(wants))
	}
	for i, w := range wants {
		ev := evs[i]
		if string(ev.Kind) != w.kind || ev.Level != w.level || ev.LevelNameVI != w.vi || ev.LevelNameEN != w.en || ev.Beaufort != w.beaufort ||
			ev.Value != w.value || ev.Threshold != w.thr || !ev.At.Equal(t0.Add(time.Duration(w.minute)*time.Minute)) {
			t.Errorf("event %d = %s %d %q/%q Beaufort %d value %g thr %g at %s; want %+v", i, ev.Kind, ev.Level, ev.LevelNameVI,
				ev.LevelNameEN, ev.Beaufort, ev.Value, ev.Threshold, ev.At.Sub(t0), w)
		}
		if math.Abs(ev.TimeToNext-w.timeToNextSecs) > 1e-6 {
			t.Errorf("event %d time to next %g s, want %g", i, ev.TimeToNext, w.timeToNextSecs)
		}
	}
}

// TestGustFlapping: single gusts do not alert (min_count 2), and gusts
// swinging around a band's threshold within the clear margin do not flap.
func TestGustFlapping(t *testing.T) {
	tests := []struct {
		name   string
		gusts  []float64
		events []string
	}{
		{"single gusts never alert", []float64{5, 30, 5, 30, 5, 52, 5}, nil},
		{"two gusts in a band alert", []float64{5, 18, 19}, []string{"fired:2"}},
		{"swinging around the storm threshold stays one alert", []float64{5, 18, 19, 16.9, 17.5, 16.0, 17.3, 15.0, 17.9, 14.8},
			[]string{"fired:2"}},
		{"falls one grade below the margin, clears below the first", []float64{5, 18, 19, 16.9, 14.0, 12, 9, 8.2},
			[]string{"fired:2", "deescalated:1", "resolved:0"}},
		{"a gust between calm readings breaks the run", []float64{5, 18, 5, 19, 5, 20, 5}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := mustEngine(t, nil)
			s := e.NewState("RG-SONTRA")
			got := brief(applyAll(e, s, series("RG-SONTRA", schemas.WindGust, 10, tc.gusts...)), "level:wind_gust")
			if !eq(got, tc.events) {
				t.Fatalf("events %v, want %v", got, tc.events)
			}
		})
	}
}

// TestWindOutageMidStorm: the station goes silent in a storm: the offline
// alert fires, the wind alert stays active (an outage is no all-clear),
// and when readings resume the wind alert continues with its id.
func TestWindOutageMidStorm(t *testing.T) {
	e := mustEngine(t, nil)
	s := e.NewState("RG-SONTRA")
	evs := applyAll(e, s, series("RG-SONTRA", schemas.WindSpeed, 10, 15, 19, 20, 21))
	fired := only(evs, "level:wind_speed")
	if got := brief(fired, ""); !eq(got, []string{"fired:2"}) {
		t.Fatalf("before the outage: %v", got)
	}
	id := fired[0].ID
	// Silent for 2 h: the processor's clock runs on.
	off := e.Tick(s, t0.Add(30*time.Minute+2*time.Hour))
	if got := brief(off, "offline"); !eq(got, []string{"fired:1"}) {
		t.Fatalf("offline: %v", got)
	}
	active := map[string]bool{}
	for _, ev := range s.Active() {
		active[ev.Rule] = true
	}
	if !active["level:wind_speed"] || !active["offline"] {
		t.Fatalf("active during the outage: %v", active)
	}
	// Readings resume stronger.
	evs = applyAll(e, s, []*schemas.Record{mk("RG-SONTRA", 5, 160, schemas.WindSpeed, 23), mk("RG-SONTRA", 6, 170, schemas.WindSpeed, 26)})
	if got := brief(evs, "offline"); !eq(got, []string{"resolved:0"}) {
		t.Errorf("offline after the outage: %v", got)
	}
	w := only(evs, "level:wind_speed")
	if got := brief(w, ""); !eq(got, []string{"escalated:3"}) || w[0].ID != id {
		t.Fatalf("wind after the outage: %v (id %v, want %s)", got, w, id)
	}
}

// rainDays builds rain at station: d2 mm in the day 48-72 h before the
// last reading, d1 mm in the day 24-48 h before it and r24 mm in the last
// 24 h (half 12 h before the end, half at the end).
func rainDays(station string, d2, d1, r24 float64) []*schemas.Record {
	const end = 72 * 60.0
	return []*schemas.Record{
		mk(station, 1, end-60*60, schemas.Rainfall, d2),
		mk(station, 2, end-36*60, schemas.Rainfall, d1),
		mk(station, 3, end-12*60, schemas.Rainfall, r24/2),
		mk(station, 4, end, schemas.Rainfall, r24-r24/2),
	}
}

// TestRiskLevelBoundaries: the risk level from the 24 h band, the rain's
// duration and the hazard zone (the estimated default table) at the
// band and rainy-day boundaries, with the decision's colours.
func TestRiskLevelBoundaries(t *testing.T) {
	tests := []struct {
		name           string
		station        string
		d2, d1, r24    float64
		level          int
		colour, source string
	}{
		{"below band 1", "RG-HOAPHU", 0, 0, 99.9, 0, "", ""},
		{"band 1 starts at 100 mm", "RG-HOAPHU", 0, 0, 100, 1, "light blue", "estimate"},
		{"200 mm is still band 1", "RG-HOAPHU", 0, 0, 200, 1, "light blue", "estimate"},
		{"band 2 above 200 mm", "RG-HOAPHU", 0, 0, 200.1, 2, "light yellow", "estimate"},
		{"400 mm is still band 2", "RG-HOAPHU", 0, 0, 400, 2, "light yellow", "estimate"},
		{"band 3 above 400 mm", "RG-HOAPHU", 0, 0, 400.1, 3, "orange", "estimate"},
		{"rain for more than 2 days raises zone 2", "RG-HOAPHU", 16, 16, 100, 2, "light yellow", "estimate"},
		{"a day below the rainy-day rain is no long rain", "RG-HOAPHU", 15.9, 16, 100, 1, "light blue", "estimate"},
		{"only the day before rainy: 1-2 days", "RG-HOAPHU", 0, 80, 100, 1, "light blue", "estimate"},
		{"long rain, band 3, zone 2", "RG-HOAPHU", 20, 20, 400.1, 4, "red", "estimate"},
		{"long rain, band 3, zone 3", "LS-HAIVAN", 20, 20, 400.1, 5, "purple", "estimate"},
		{"short rain, band 1, zone 3", "LS-HAIVAN", 0, 0, 150, 2, "light yellow", "estimate"},
		{"no hazard zone, no risk rule", "VG-AINGHIA", 20, 20, 500, 0, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := mustEngine(t, nil)
			s := e.NewState(tc.station)
			evs := only(applyAll(e, s, rainDays(tc.station, tc.d2, tc.d1, tc.r24)), "risk:rainfall")
			lvl, colour, msg := 0, "", ""
			if n := len(evs); n > 0 {
				lvl, colour, msg = evs[n-1].Level, evs[n-1].Colour, evs[n-1].Message
			}
			if lvl != tc.level || colour != tc.colour {
				t.Fatalf("risk level %d %q, want %d %q (events %v)", lvl, colour, tc.level, tc.colour, brief(evs, ""))
			}
			if tc.level > 0 && !strings.Contains(msg, "table: "+tc.source) {
				t.Errorf("message %q does not name the table's source", msg)
			}
		})
	}
}

// slope is a landslide monitor's data: tilt every 10 minutes from tilt(h)
// (h in hours) for hours, soil moisture and rain.
func slope(hours float64, tilt func(h float64) float64, moisture, rain float64) []*schemas.Record {
	var out []*schemas.Record
	seq := uint64(1)
	if rain > 0 {
		out = append(out, rec("LS-HAIVAN", seq, -60, schemas.Measurement{Sensor: schemas.Rainfall, Value: rain}))
		seq++
	}
	for m := 0.0; m <= hours*60; m += 10 {
		out = append(out, rec("LS-HAIVAN", seq, m, schemas.Measurement{Sensor: schemas.Tilt, Value: tilt(m / 60)},
			schemas.Measurement{Sensor: schemas.SoilMoisture, Value: moisture}))
		seq++
	}
	return out
}

// TestLandslide: the landslide grade combines the tilt rate (0.01 and 0.1
// deg/h), the soil moisture near saturation (0.9 x 45 %) and the 72 h rain
// (100 mm), per the documented table; the time to failure is estimated
// only while the tilt accelerates.
func TestLandslide(t *testing.T) {
	linear := func(rate float64) func(float64) float64 { return func(h float64) float64 { return 1 + rate*h } }
	tests := []struct {
		name           string
		tilt           func(float64) float64
		moisture, rain float64
		levels         []string
		name2          string
	}{
		{"still and dry", linear(0), 30, 0, nil, ""},
		{"creeping, dry: precaution", linear(0.012), 30, 0, []string{"fired:1"}, "landslide precaution"},
		{"moving, dry: warning", linear(0.12), 30, 0, []string{"fired:2"}, "landslide warning"},
		{"still, wet after heavy rain: precaution", linear(0), 41, 120, []string{"fired:1"}, "landslide precaution"},
		{"still, wet soil without the rain: nothing", linear(0), 41, 60, nil, ""},
		{"still, heavy rain on dry soil: nothing", linear(0), 39, 150, nil, ""},
		{"creeping and wet: warning", linear(0.012), 42, 120, []string{"fired:2"}, "landslide warning"},
		{"moving and wet: alarm", linear(0.12), 42, 120, []string{"fired:3"}, "landslide alarm"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := mustEngine(t, nil)
			s := e.NewState("LS-HAIVAN")
			evs := only(applyAll(e, s, slope(3, tc.tilt, tc.moisture, tc.rain)), "landslide:tilt")
			if got := brief(evs, ""); !eq(got, tc.levels) {
				t.Fatalf("events %v, want %v", got, tc.levels)
			}
			for _, ev := range evs {
				if ev.LevelNameEN != tc.name2 || ev.TimeToFailure != 0 || strings.Contains(ev.Message, "time to failure") {
					t.Errorf("event %q %q ttf %g: a steady rate has no failure estimate", ev.LevelNameEN, ev.Message, ev.TimeToFailure)
				}
			}
		})
	}
}

// TestLandslideTimeToFailure: tilt accelerating as v = c / (tf - t)
// (1/v falls linearly to 0 at tf = 10 h): the warning at 0.1 deg/h (t
// about 5 h) carries a time-to-failure estimate near the true 5 h, stated
// as an estimate.
func TestLandslideTimeToFailure(t *testing.T) {
	const tf, c = 10.0, 0.5
	tilt := func(h float64) float64 { return 1 + c*math.Log(tf/(tf-h)) }
	e := mustEngine(t, nil)
	s := e.NewState("LS-HAIVAN")
	evs := only(applyAll(e, s, slope(7, tilt, 30, 0)), "landslide:tilt")
	if got := brief(evs, ""); !eq(got, []string{"fired:1", "escalated:2"}) {
		t.Fatalf("events %v", got)
	}
	w := evs[1]
	left := tf - w.At.Sub(t0).Hours()
	if est := w.TimeToFailure / 3600; !(est > 0.7*left && est < 1.3*left) {
		t.Fatalf("estimated time to failure %.2f h, true %.2f h", est, left)
	}
	if !strings.Contains(w.Message, "estimated time to failure") || !strings.Contains(w.Message, "an estimate") {
		t.Errorf("message %q does not state the estimate", w.Message)
	}
}

// TestFloodDepthTimeToNext: water rising in the underpass fires the rate
// rule while it is still below flood I, with the time to reach flood I at
// that rate; the level rule states the time to the next level.
func TestFloodDepthTimeToNext(t *testing.T) {
	e := mustEngine(t, nil)
	s := e.NewState("UF-NGUYENHUUTHO")
	evs := applyAll(e, s, series("UF-NGUYENHUUTHO", schemas.FloodDepth, 5, 0, 0, 2, 7, 12))
	r := only(evs, "rate:flood_depth")
	if len(r) == 0 || r[0].Kind != schemas.AlertFired || r[0].Level != 1 {
		t.Fatalf("rate events %v", brief(r, ""))
	}
	// At 15 min: 7 cm, (7 - 0) / 0.25 h = 28 cm/h, flood I at 10 cm.
	if ev := r[0]; ev.Value != 28 || math.Abs(ev.TimeToNext-(10-7)/28.0*3600) > 1e-6 || ev.LevelNameVI != "nước đang lên" {
		t.Errorf("rate event value %g time to next %g %q", ev.Value, ev.TimeToNext, ev.LevelNameVI)
	}
	l := only(evs, "level:flood_depth")
	// At 20 min: 12 cm, 12 cm over 20 min = 36 cm/h, flood II at 30 cm.
	if len(l) != 1 || l[0].Level != 1 || math.Abs(l[0].TimeToNext-(30-12)/36.0*3600) > 1e-6 {
		t.Fatalf("level events %v %+v", brief(l, ""), l)
	}
}

// TestStateMigratesV2: a version-2 state (events without the grade
// fields) still decodes, with those fields empty, and re-encodes as the
// current version.
func TestStateMigratesV2(t *testing.T) {
	// Level names without translations, so the events' version-3 fields
	// hold only what version 2 can drop.
	set := DefaultRuleSet()
	for i := range set.Rules {
		set.Rules[i].RegistryLevelNamesVI, set.Rules[i].RegistryLevelNamesEN = nil, nil
	}
	e := mustEngine(t, set)
	s := e.NewState("VG-AINGHIA")
	// Only BĐ I fires (no rate, spike or stuck alert, whose grades are named).
	applyAll(e, s, series("VG-AINGHIA", schemas.WaterLevel, 10, 6.45, 6.5, 6.52, 6.55))
	v3, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	// The version-2 layout: the version byte, and each event without the
	// trailing grade fields (empty: 3 empty strings, a zero uvarint, two
	// zero floats = 20 bytes after its message).
	act := s.Active()
	if len(act) == 0 {
		t.Fatal("no active alert to encode")
	}
	v2 := append([]byte{stateVersionV2}, v3[1:]...)
	for _, ev := range act {
		m := []byte(ev.Message)
		i := bytes.Index(v2, m)
		if i < 0 {
			t.Fatalf("message %q not in the encoding", ev.Message)
		}
		i += len(m)
		if ev.LevelNameVI != "" || ev.Colour != "" {
			t.Fatalf("event with grade fields: %+v", ev)
		}
		v2 = append(v2[:i], v2[i+20:]...)
	}
	var back State
	if err := back.UnmarshalBinary(v2); err != nil {
		t.Fatalf("version 2 state: %v", err)
	}
	// The same state, its events without the fields version 2 lacks.
	want := s.Active()
	for i := range want {
		want[i].LevelNameVI, want[i].LevelNameEN, want[i].Beaufort, want[i].Colour, want[i].TimeToNext, want[i].TimeToFailure = "", "", 0, "", 0, 0
	}
	got := back.Active()
	if len(got) != len(want) {
		t.Fatalf("active %d, want %d", len(got), len(want))
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("migrated event %+v, want %+v", got[i], want[i])
		}
	}
	again, err := back.MarshalBinary()
	if err != nil || again[0] != stateVersion {
		t.Fatalf("migrated state re-encodes as version %d (err %v)", again[0], err)
	}
}
