package notify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/resilience-project/resilience/alerts/notify"
	"github.com/resilience-project/resilience/schemas"
)

func registry(t *testing.T) *schemas.Registry {
	t.Helper()
	reg, err := schemas.NewRegistry([]schemas.Station{{ID: "VG-AINGHIA", Name: "Ái Nghĩa", River: "Vu Gia", Basin: "vu-gia-thu-bon",
		District: "Đại Lộc", Interval: 10 * time.Minute, Sensors: []schemas.Sensor{schemas.WaterLevel, schemas.Rainfall},
		AlarmLevelsM: schemas.Levels{I: 6.5, II: 8.0, III: 9.0}}})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

var at = time.Date(2026, 10, 28, 3, 0, 0, 0, time.UTC)

func rising(v0, v1 float64) []schemas.ReadingRef {
	return []schemas.ReadingRef{{Seq: 1, TS: at.Add(-time.Hour), Value: v0}, {Seq: 7, TS: at, Value: v1}}
}

func TestFactsAndLines(t *testing.T) {
	reg := registry(t)
	base := schemas.AlertEvent{ID: "VG-AINGHIA-01", Station: "VG-AINGHIA", Sensor: schemas.WaterLevel, Rule: "level:water_level",
		Kind: schemas.AlertFired, Level: 2, LevelName: "BĐ II", Severity: schemas.SeveritySevere, At: at}
	cases := []struct {
		name     string
		edit     func(*schemas.AlertEvent)
		reached  string
		next     string
		toNext   float64
		eta      time.Duration
		vi, en   []string
		notVI    []string
		hasRate  bool
		consoles string
	}{
		{name: "rising towards III", edit: func(e *schemas.AlertEvent) { e.Value, e.Readings = 8.42, rising(8.0, 8.42) },
			reached: "BĐ II", next: "BĐ III", toNext: 0.58, eta: 83 * time.Minute, hasRate: true,
			vi: []string{"[CẢNH BÁO] Ái Nghĩa (VG-AINGHIA), sông Vu Gia: level:water_level 8.42 m, đạt BĐ II, còn 0.58 m đến BĐ III, dự kiến đạt BĐ III sau 1h23m (đang lên 0.42 m/giờ). Mức độ: Severe. Lúc 10:00 28/10/2026 (ICT). https://console.example/alerts/VG-AINGHIA-01"},
			en: []string{"[ALERT] Ái Nghĩa (VG-AINGHIA), Vu Gia river: level:water_level 8.42 m, reached BĐ II, 0.58 m below BĐ III, BĐ III expected in 1h23m (rising 0.42 m/h). Severity: Severe. At 10:00 28 Oct 2026 (ICT). https://console.example/alerts/VG-AINGHIA-01"}},
		{name: "falling: no ETA", edit: func(e *schemas.AlertEvent) { e.Value, e.Readings = 8.2, rising(8.5, 8.2) },
			reached: "BĐ II", next: "BĐ III", toNext: 0.8, hasRate: true, vi: []string{"còn 0.8 m đến BĐ III."}, notVI: []string{"dự kiến"}},
		{name: "one reading: no rate", edit: func(e *schemas.AlertEvent) { e.Value, e.Readings = 8.2, rising(8.0, 8.2)[1:] },
			reached: "BĐ II", next: "BĐ III", toNext: 0.8, notVI: []string{"dự kiến", "đang lên"}},
		{name: "above III: no next", edit: func(e *schemas.AlertEvent) {
			e.Value, e.Readings, e.Kind, e.Level, e.LevelName = 9.3, rising(8.9, 9.3), schemas.AlertEscalated, 3, "BĐ III"
		}, reached: "BĐ III", hasRate: true, vi: []string{"[NÂNG MỨC]", "đạt BĐ III."}, notVI: []string{"còn"}},
		{name: "below I", edit: func(e *schemas.AlertEvent) { e.Value, e.LevelName = 6.0, "" }, next: "BĐ I", toNext: 0.5,
			en: []string{"0.5 m below BĐ I"}},
		{name: "unknown station", edit: func(e *schemas.AlertEvent) { e.Station, e.Value, e.Readings = "X-1", 3, rising(2, 3) },
			hasRate: true, en: []string{"[ALERT] X-1 (X-1): level:water_level 3 m, reached BĐ II. Severity"}},
		{name: "resolved", edit: func(e *schemas.AlertEvent) {
			e.Kind, e.Value, e.Readings = schemas.AlertResolved, 7.8, rising(7.0, 7.8)
		},
			reached: "BĐ I", next: "BĐ II", toNext: 0.2, eta: 15 * time.Minute, hasRate: true,
			vi: []string{"[KẾT THÚC]"}, notVI: []string{"dự kiến"}, en: []string{"[RESOLVED]"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := base
			c.edit(&e)
			f := notify.FactsOf(e, reg, "https://console.example/")
			if f.Reached != c.reached || f.NextName != c.next || f.HasNext != (c.next != "") || f.HasRate != c.hasRate {
				t.Errorf("facts = %+v", f)
			}
			if d := f.ToNext - c.toNext; d > 1e-9 || d < -1e-9 {
				t.Errorf("ToNext = %v, want %v", f.ToNext, c.toNext)
			}
			if f.ETA != c.eta || f.HasETA != (c.eta != 0) {
				t.Errorf("ETA = %v (%v), want %v", f.ETA, f.HasETA, c.eta)
			}
			vi, en := notify.Line(f, notify.LangVI), notify.Line(f, notify.LangEN)
			for _, w := range c.vi {
				if !strings.Contains(vi, w) {
					t.Errorf("vi line\n %q\nlacks %q", vi, w)
				}
			}
			for _, w := range c.notVI {
				if strings.Contains(vi, w) {
					t.Errorf("vi line\n %q\nhas %q", vi, w)
				}
			}
			for _, w := range c.en {
				if !strings.Contains(en, w) {
					t.Errorf("en line\n %q\nlacks %q", en, w)
				}
			}
		})
	}
}

func TestRenderGroup(t *testing.T) {
	reg := registry(t)
	e := schemas.AlertEvent{ID: "A", Station: "VG-AINGHIA", Sensor: schemas.WaterLevel, Rule: "level:water_level", Kind: schemas.AlertFired,
		Value: 8.1, Severity: schemas.SeveritySevere, At: at}
	r := e
	r.ID, r.Sensor, r.Rule, r.Value = "B", schemas.Rainfall, "accum:rainfall:24h", 120
	n := notify.Notification{ID: "n1", Alerts: []schemas.AlertEvent{e, r}}
	vi := notify.Render(n, reg, "", notify.LangVI)
	if vi.Subject != "[CẢNH BÁO] Ái Nghĩa (VG-AINGHIA), sông Vu Gia và 1 cảnh báo khác" {
		t.Errorf("vi subject = %q", vi.Subject)
	}
	if strings.Count(vi.Body, "\n\n") != 1 || !strings.Contains(vi.Body, "accum:rainfall:24h 120 mm") {
		t.Errorf("vi body = %q", vi.Body)
	}
	if en := notify.Render(n, reg, "", notify.LangEN); en.Subject != "[ALERT] Ái Nghĩa (VG-AINGHIA), Vu Gia river and 1 more" {
		t.Errorf("en subject = %q", en.Subject)
	}
}
