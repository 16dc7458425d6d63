package rules

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/resilience-project/resilience/schemas"
)

func TestLevelRule(t *testing.T) {
	const st = "VG-AINGHIA" // I 6.5, II 8.0, III 9.0; clear margin 0.15
	tests := []struct {
		name   string
		values []float64
		want   []string
	}{
		{"below all levels", []float64{5, 5.5, 6, 6.4, 6.2}, nil},
		{"up through every level and back down, one alert",
			[]float64{6.0, 6.6, 7.4, 8.1, 8.9, 9.1, 8.8, 8.0, 7.8, 7.0, 6.3},
			[]string{"fired:1", "escalated:2", "escalated:3", "deescalated:2", "deescalated:1", "resolved:0"}},
		{"noise inside the hysteresis band does not flap",
			[]float64{6.4, 6.55, 6.45, 6.52, 6.38, 6.49, 6.51, 6.36, 6.45, 6.3},
			[]string{"fired:1", "resolved:0"}},
		{"exactly at threshold fires, exactly at clear point holds",
			[]float64{6.5, 6.35, 6.34},
			[]string{"fired:1", "resolved:0"}},
		{"falling through two levels at once",
			[]float64{7.5, 8.3, 9.2, 8.6, 8.0, 7.6, 6.7, 6.0},
			[]string{"fired:1", "escalated:2", "escalated:3", "deescalated:2", "deescalated:1", "resolved:0"}},
		{"fire, clear, fire again is two alerts",
			[]float64{6.6, 6.2, 6.7},
			[]string{"fired:1", "resolved:0", "fired:1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := mustEngine(t, nil)
			s := e.NewState(st)
			evs := applyAll(e, s, series(st, schemas.WaterLevel, 10, tc.values...))
			got := brief(evs, "level:water_level")
			if !eq(got, tc.want) {
				t.Fatalf("events %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLevelEventFields(t *testing.T) {
	e := mustEngine(t, nil)
	s := e.NewState("VG-AINGHIA")
	recs := series("VG-AINGHIA", schemas.WaterLevel, 10, 6.0, 6.6, 7.4, 8.1, 7.8, 7.0, 6.3)
	var evs []schemas.AlertEvent
	for _, r := range recs {
		evs = append(evs, e.Apply(s, r).Events...)
	}
	evs = filter(evs, "level:water_level")
	if len(evs) != 4 {
		t.Fatalf("got %d events: %v", len(evs), brief(evs, ""))
	}
	start := recs[1].TS
	id := schemas.AlertID("VG-AINGHIA", "level:water_level", start)
	for i, ev := range evs {
		if ev.ID != id {
			t.Errorf("event %d id %s, want %s (one alert)", i, ev.ID, id)
		}
		if !ev.StartedAt.Equal(start) {
			t.Errorf("event %d started_at %s, want %s", i, ev.StartedAt, start)
		}
		if ev.EventID != schemas.EventID(id, ev.Kind, ev.Level, ev.At) {
			t.Errorf("event %d event_id %s", i, ev.EventID)
		}
		if ev.District != "Đại Lộc" || ev.Basin != "vu-gia-thu-bon" || ev.Sensor != schemas.WaterLevel {
			t.Errorf("event %d district/basin/sensor %q %q %q", i, ev.District, ev.Basin, ev.Sensor)
		}
		if ev.V != schemas.AlertEventVersion || ev.Station != "VG-AINGHIA" || ev.Message == "" {
			t.Errorf("event %d: %+v", i, ev)
		}
	}
	f := evs[0]
	if f.Kind != schemas.AlertFired || f.Level != 1 || f.LevelName != "BĐ I" || f.Threshold != 6.5 ||
		f.Value != 6.6 || f.Severity != schemas.SeverityModerate || !f.At.Equal(recs[1].TS) {
		t.Errorf("fired event %+v", f)
	}
	if len(f.Readings) != 1 || f.Readings[0].Seq != 2 || f.Readings[0].Value != 6.6 {
		t.Errorf("fired readings %+v", f.Readings)
	}
	if x := evs[1]; x.Kind != schemas.AlertEscalated || x.Level != 2 || x.Threshold != 8 || x.Severity != schemas.SeveritySevere || !x.At.Equal(recs[3].TS) {
		t.Errorf("escalated event %+v", x)
	}
	if x := evs[3]; x.Kind != schemas.AlertResolved || x.Level != 0 || x.Value != 6.3 || !x.At.Equal(recs[6].TS) {
		t.Errorf("resolved event %+v", x)
	}
	if a := s.Active(); len(filter(a, "level:water_level")) != 0 {
		t.Errorf("active after resolve: %v", a)
	}
}

func filter(evs []schemas.AlertEvent, rule string) []schemas.AlertEvent {
	var out []schemas.AlertEvent
	for _, ev := range evs {
		if ev.Rule == rule {
			out = append(out, ev)
		}
	}
	return out
}

const customRules = `
allowed_lateness: 1h
rules:
  - kind: level
    sensor: soil_moisture
    direction: below
    levels:
      - {name: dry, threshold: 20, clear_margin: 2}
      - {name: very dry, threshold: 10, clear_margin: 2, severity: Severe}
  - kind: level
    sensor: tilt
    min_count: 3
    levels: [{name: tilted, threshold: 5, clear_margin: 1}]
  - kind: level
    sensor: wind_speed
    min_duration: 20m
    levels: [{name: storm, threshold: 17.2, clear_margin: 1}]
`

func TestLevelOptions(t *testing.T) {
	tests := []struct {
		name   string
		sensor schemas.Sensor
		values []float64
		want   []string
	}{
		{"direction below", schemas.SoilMoisture, []float64{30, 19, 21, 9, 11, 13, 23}, []string{"fired:1", "escalated:2", "deescalated:1", "resolved:0"}},
		{"min_count 3 consecutive", schemas.Tilt, []float64{6, 6, 1, 6, 6, 6, 6, 3.9}, []string{"fired:1", "resolved:0"}},
		{"min_count never reached", schemas.Tilt, []float64{6, 6, 1, 6, 6, 1}, nil},
		{"min_duration 20m", schemas.WindSpeed, []float64{18, 18, 10, 18, 18, 18, 10}, []string{"fired:1", "resolved:0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := mustEngine(t, mustParse(t, customRules))
			s := e.NewState("LS-HAIVAN")
			evs := applyAll(e, s, series("LS-HAIVAN", tc.sensor, 10, tc.values...))
			if got := brief(evs, ""); !eq(got, tc.want) {
				t.Fatalf("events %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMinCountFiresAtThirdReading(t *testing.T) {
	e := mustEngine(t, mustParse(t, customRules))
	s := e.NewState("LS-HAIVAN")
	recs := series("LS-HAIVAN", schemas.Tilt, 10, 6, 6, 6)
	evs := applyAll(e, s, recs)
	if len(evs) != 1 || !evs[0].At.Equal(recs[2].TS) {
		t.Fatalf("events %+v", evs)
	}
}

func TestRateRule(t *testing.T) {
	tests := []struct {
		name   string
		st     string
		sensor schemas.Sensor
		values []float64
		rule   string
		want   []string
	}{
		{"water rising 0.36 m/h then flat", "VG-AINGHIA", schemas.WaterLevel,
			[]float64{3.0, 3.06, 3.12, 3.18, 3.24, 3.30, 3.36, 3.36, 3.36, 3.36, 3.36, 3.36, 3.36},
			"rate:water_level", []string{"fired:1", "resolved:0"}},
		{"water rising 0.24 m/h stays quiet", "VG-AINGHIA", schemas.WaterLevel,
			[]float64{3.0, 3.04, 3.08, 3.12, 3.16, 3.20, 3.24}, "rate:water_level", nil},
		{"falling water is not a rise", "VG-AINGHIA", schemas.WaterLevel,
			[]float64{4.0, 3.9, 3.8, 3.7, 3.6, 3.5, 3.4}, "rate:water_level", nil},
		{"tilt creep: precaution then warning, either direction", "LS-HAIVAN", schemas.Tilt,
			[]float64{1.0, 0.998, 0.996, 0.994, 0.99, 0.96, 0.92, 0.88, 0.84},
			"rate:tilt", []string{"fired:1", "escalated:2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := mustEngine(t, nil)
			s := e.NewState(tc.st)
			evs := applyAll(e, s, series(tc.st, tc.sensor, 10, tc.values...))
			if got := brief(evs, tc.rule); !eq(got, tc.want) {
				t.Fatalf("events %v, want %v", got, tc.want)
			}
			for _, ev := range filter(evs, tc.rule) {
				if ev.Kind == schemas.AlertFired && (len(ev.Readings) != 2 || ev.Window != "1h") {
					t.Errorf("rate event should cite both readings and the window: %+v", ev)
				}
			}
		})
	}
}

func rainSum(s *State, window time.Duration) float64 {
	if s.rain == nil {
		return 0
	}
	return float64(s.rain.sum(s.newest, int64(window))) / 100
}

func TestAccumulationIncrements(t *testing.T) {
	e := mustEngine(t, nil)
	s := e.NewState("RG-HOAPHU")
	// 5 mm every 10 minutes for 4 hours: 24h moderate at 16 mm, heavy above
	// 50, 3h intense above 80 mm.
	vals := make([]float64, 24)
	for i := range vals {
		vals[i] = 5
	}
	recs := series("RG-HOAPHU", schemas.Rainfall, 10, vals...)
	evs := applyAll(e, s, recs)
	if got, want := brief(evs, "accum:rainfall:24h"), []string{"fired:1", "escalated:2", "escalated:3"}; !eq(got, want) {
		t.Fatalf("24h: %v, want %v", got, want)
	}
	if got, want := brief(evs, "accum:rainfall:3h"), []string{"fired:1"}; !eq(got, want) {
		t.Fatalf("3h: %v, want %v", got, want)
	}
	f := filter(evs, "accum:rainfall:24h")[0]
	if !f.At.Equal(recs[3].TS) || f.Value != 20 || f.Threshold != 16 || f.Window != "24h" || f.LevelName != "moderate" {
		t.Errorf("24h fired %+v", f)
	}
	if got := rainSum(s, 24*time.Hour); got != 120 {
		t.Errorf("24h sum %g, want 120", got)
	}
	if got := rainSum(s, 3*time.Hour); got != 90 {
		t.Errorf("3h sum %g, want 90", got)
	}
	// Dry for a day: everything clears, nothing counted twice.
	var more []*schemas.Record
	for i := 0; i < 150; i++ {
		more = append(more, mk("RG-HOAPHU", uint64(100+i), 240+float64(i)*10, schemas.Rainfall, 0))
	}
	evs = applyAll(e, s, more)
	if got := brief(evs, "accum:rainfall:24h"); len(got) == 0 || got[len(got)-1] != "resolved:0" {
		t.Errorf("24h after a dry day: %v", got)
	}
	if got := rainSum(s, 72*time.Hour); got != 120 {
		t.Errorf("72h sum %g, want 120", got)
	}
	if len(s.Active()) != 0 {
		t.Errorf("active after a dry day: %v", brief(s.Active(), ""))
	}
}

func TestAccumulationCounter(t *testing.T) {
	tests := []struct {
		name   string
		values []float64
		want   float64
	}{
		{"steady counter", []float64{100, 105, 110, 115}, 15},
		{"reset to zero is a new base", []float64{100, 105, 110, 0, 5, 10}, 20},
		{"reset to a small value", []float64{300, 310, 2, 4}, 12},
		{"flat counter", []float64{50, 50, 50}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := mustEngine(t, nil)
			s := e.NewState("RG-COUNTER")
			applyAll(e, s, series("RG-COUNTER", schemas.Rainfall, 10, tc.values...))
			if got := rainSum(s, 24*time.Hour); got != tc.want {
				t.Fatalf("sum %g, want %g", got, tc.want)
			}
			// Reverse arrival inside the lateness gives the same sum.
			s2 := e.NewState("RG-COUNTER")
			recs := series("RG-COUNTER", schemas.Rainfall, 10, tc.values...)
			for i := len(recs) - 1; i >= 0; i-- {
				e.Apply(s2, recs[i])
			}
			if got := rainSum(s2, 24*time.Hour); got != tc.want {
				t.Fatalf("reversed arrival: sum %g, want %g", got, tc.want)
			}
		})
	}
}

func TestOffline(t *testing.T) {
	e := mustEngine(t, nil)
	s := e.NewState("VG-AINGHIA")
	if evs := e.Tick(s, t0); evs != nil {
		t.Fatalf("a station never heard from is not offline: %v", evs)
	}
	r := mk("VG-AINGHIA", 1, 0, schemas.WaterLevel, 3)
	e.Apply(s, r)
	if evs := e.Tick(s, t0.Add(29*time.Minute)); len(evs) != 0 {
		t.Fatalf("offline too early: %v", evs)
	}
	evs := e.Tick(s, t0.Add(47*time.Minute+13*time.Second))
	if len(evs) != 1 || evs[0].Kind != schemas.AlertFired || evs[0].Rule != "offline" || !evs[0].At.Equal(t0.Add(30*time.Minute)) {
		t.Fatalf("offline: %+v", evs)
	}
	if again := e.Tick(s, t0.Add(time.Hour)); len(again) != 0 {
		t.Fatalf("offline fired twice: %v", again)
	}
	if len(s.Active()) != 1 {
		t.Fatalf("active %v", s.Active())
	}
	res := e.Apply(s, mk("VG-AINGHIA", 2, 50, schemas.WaterLevel, 3))
	if got := brief(res.Events, "offline"); !eq(got, []string{"resolved:0"}) || res.Events[0].ID != evs[0].ID {
		t.Fatalf("next reading should resolve offline: %+v", res.Events)
	}
}

func TestQualityStuckAndSpike(t *testing.T) {
	rules := `
rules:
  - {kind: level, sensor: water_level, levels: [{threshold: 5, clear_margin: 0.1}]}
  - {kind: quality, check: stuck, sensor: water_level, count: 4}
  - {kind: quality, check: spike, sensor: water_level, max_jump: 1}
`
	e := mustEngine(t, mustParse(t, rules))
	s := e.NewState("VG-AINGHIA")
	// A spike to 9 does not fire the level alert.
	vals := []float64{4.0, 4.1, 9.0, 4.2, 4.3}
	var q []Quality
	var evs []schemas.AlertEvent
	for _, r := range series("VG-AINGHIA", schemas.WaterLevel, 10, vals...) {
		res := e.Apply(s, r)
		q = append(q, res.Quality...)
		evs = append(evs, res.Events...)
	}
	wantQ := []Quality{QualityPass, QualityPass, QualitySuspect, QualitySuspect, QualityPass}
	for i := range wantQ {
		if q[i] != wantQ[i] {
			t.Fatalf("quality %v, want %v", q, wantQ)
		}
	}
	if got := brief(evs, "level:water_level"); got != nil {
		t.Fatalf("spike fired the level rule: %v", got)
	}
	if got := brief(evs, "quality:spike:water_level"); !eq(got, []string{"fired:1", "resolved:0"}) {
		t.Fatalf("spike alert %v", got)
	}

	// Above the level, a stuck gauge must not clear it, nor the flat run
	// look like a real change.
	s = e.NewState("VG-AINGHIA")
	recs := series("VG-AINGHIA", schemas.WaterLevel, 10, 5.5, 5.6, 5.6, 5.6, 5.6, 4.8)
	evs = applyAll(e, s, recs)
	if got := brief(evs, "quality:stuck:water_level"); !eq(got, []string{"fired:1", "resolved:0"}) {
		t.Fatalf("stuck alert %v", got)
	}
	if got := brief(evs, "level:water_level"); !eq(got, []string{"fired:1", "resolved:0"}) {
		t.Fatalf("level %v", got)
	}
}

func TestSuspectNeverClears(t *testing.T) {
	rules := `
rules:
  - {kind: level, sensor: water_level, levels: [{threshold: 5, clear_margin: 0.1}]}
  - {kind: quality, check: stuck, sensor: water_level, count: 3}
`
	e := mustEngine(t, mustParse(t, rules))
	s := e.NewState("VG-AINGHIA")
	// The gauge sticks at 4.0 (below the clear point): the first 4.0 clears
	// (it is a good reading), so use a stuck value inside the alert.
	recs := series("VG-AINGHIA", schemas.WaterLevel, 10, 5.2, 5.3, 5.3, 5.3, 5.3, 5.3)
	evs := applyAll(e, s, recs)
	if got := brief(evs, "level:water_level"); !eq(got, []string{"fired:1"}) {
		t.Fatalf("level %v", got)
	}
	res := e.Apply(s, mk("VG-AINGHIA", 10, 60, schemas.WaterLevel, 5.3))
	if res.Quality[0] != QualitySuspect || len(filter(res.Events, "level:water_level")) != 0 {
		t.Fatalf("stuck reading: %+v", res)
	}
}

func TestComposite(t *testing.T) {
	rules := `
rules:
  - {kind: accumulation, sensor: rainfall, window: 3h, levels: [{name: heavy, threshold: 30}]}
  - {kind: rate, sensor: water_level, window: 1h, levels: [{threshold: 0.3, clear_margin: 0.1}]}
  - name: composite:rain-and-rise
    kind: composite
    op: and
    severity: Severe
    of: [{rule: "accum:rainfall:3h"}, {rule: "rate:water_level"}]
`
	e := mustEngine(t, mustParse(t, rules))
	s := e.NewState("VG-AINGHIA")
	var evs []schemas.AlertEvent
	for i := 0; i < 7; i++ {
		r := &schemas.Record{V: 1, Station: "VG-AINGHIA", Seq: uint64(i + 1), TS: t0.Add(time.Duration(i) * 10 * time.Minute),
			Readings: []schemas.Measurement{{Sensor: schemas.Rainfall, Value: 10}, {Sensor: schemas.WaterLevel, Value: 3 + 0.07*float64(i)}}}
		evs = append(evs, e.Apply(s, r).Events...)
	}
	got := brief(evs, "composite:rain-and-rise")
	if !eq(got, []string{"fired:1"}) {
		t.Fatalf("composite %v (all %v)", got, brief(evs, ""))
	}
	c := filter(evs, "composite:rain-and-rise")[0]
	if c.Severity != schemas.SeveritySevere || !c.At.Equal(t0.Add(30*time.Minute)) {
		t.Errorf("composite event %+v", c)
	}
}

func TestDuplicatesLateAndGaps(t *testing.T) {
	e := mustEngine(t, nil)
	s := e.NewState("VG-AINGHIA")
	r1 := mk("VG-AINGHIA", 1, 0, schemas.WaterLevel, 6.6)
	if evs := e.Apply(s, r1).Events; len(evs) != 1 {
		t.Fatalf("first: %v", evs)
	}
	res := e.Apply(s, r1)
	if !res.Duplicate || len(res.Events) != 0 || res.Quality[0] != QualityPass {
		t.Fatalf("same record twice: %+v", res)
	}
	// Same sensor and ts under another seq is a duplicate too.
	r1b := mk("VG-AINGHIA", 99, 0, schemas.WaterLevel, 6.6)
	if res := e.Apply(s, r1b); !res.Duplicate {
		t.Fatalf("same (sensor, ts): %+v", res)
	}
	// seq 2..4 lost: a data-loss notice, still evaluated.
	res = e.Apply(s, mk("VG-AINGHIA", 5, 120, schemas.WaterLevel, 6.5))
	if len(res.Notices) != 1 || res.Notices[0].Kind != NoticeSeqGap || !strings.Contains(res.Notices[0].Detail, "3 message(s) missing") {
		t.Fatalf("gap notice %+v", res.Notices)
	}
	// A reading older than the lateness is Late and cannot clear.
	res = e.Apply(s, mk("VG-AINGHIA", 2, 30, schemas.WaterLevel, 1.0))
	if !res.Late || len(res.Events) != 0 || res.Quality[0] != QualityNotEval {
		t.Fatalf("late: %+v", res)
	}
	if len(filter(s.Active(), "level:water_level")) != 1 {
		t.Fatalf("late reading cleared the alert: %v", s.Active())
	}
	// Within the lateness, an out-of-order lower reading does not clear a
	// level that newer readings hold.
	res = e.Apply(s, mk("VG-AINGHIA", 4, 100, schemas.WaterLevel, 6.0))
	if res.Late || len(res.Events) != 0 {
		t.Fatalf("out-of-order low reading: %+v", res)
	}
	// A reboot restarts seq without a notice.
	r := mk("VG-AINGHIA", 1, 130, schemas.WaterLevel, 6.6)
	r.Boot = 1
	if res := e.Apply(s, r); len(res.Notices) != 0 || res.Duplicate {
		t.Fatalf("reboot: %+v", res)
	}
}

func TestOutOfOrderLateEscalationAndClear(t *testing.T) {
	e := mustEngine(t, nil)
	s := e.NewState("VG-AINGHIA")
	// Arrival: 10:20 at 6.0 (quiet), then the delayed 10:10 reading at 6.8.
	// In event time the alert fired at 10:10 and cleared at 10:20.
	a := mk("VG-AINGHIA", 2, 20, schemas.WaterLevel, 6.0)
	b := mk("VG-AINGHIA", 1, 10, schemas.WaterLevel, 6.8)
	e.Apply(s, a)
	evs := e.Apply(s, b).Events
	if got := brief(evs, "level:water_level"); !eq(got, []string{"fired:1", "resolved:0"}) {
		t.Fatalf("late peak: %v", got)
	}
	if !evs[0].At.Equal(b.TS) || !evs[1].At.Equal(a.TS) {
		t.Fatalf("event times %s %s", evs[0].At, evs[1].At)
	}
}

func TestSetRulesKeepsStates(t *testing.T) {
	e := mustEngine(t, nil)
	s := e.NewState("VG-AINGHIA")
	evs := applyAll(e, s, series("VG-AINGHIA", schemas.WaterLevel, 10, 6.0, 6.6))
	id := filter(evs, "level:water_level")[0].ID
	set := DefaultRuleSet()
	set.Rules[0].ClearMargin = f64(1.0) // wider band
	if err := e.SetRules(set); err != nil {
		t.Fatal(err)
	}
	res := e.Apply(s, mk("VG-AINGHIA", 3, 20, schemas.WaterLevel, 5.6))
	if len(filter(res.Events, "level:water_level")) != 0 {
		t.Fatalf("new margin should hold: %v", brief(res.Events, ""))
	}
	res = e.Apply(s, mk("VG-AINGHIA", 4, 30, schemas.WaterLevel, 5.4))
	if got := filter(res.Events, "level:water_level"); len(got) != 1 || got[0].ID != id || got[0].Kind != schemas.AlertResolved {
		t.Fatalf("resolve after swap: %+v", got)
	}
	if err := e.SetRules(nil); !errors.Is(err, ErrNilRuleSet) {
		t.Fatalf("nil set: %v", err)
	}
}
