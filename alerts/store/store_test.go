package store_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/resilience-project/resilience/alerts/store"
	"github.com/resilience-project/resilience/schemas"
)

var t0 = time.Date(2025, 10, 28, 3, 0, 0, 0, time.UTC)

// ev builds an event of the alert that rule raised on station at start.
func ev(station, rule string, start time.Time, kind schemas.AlertKind, level int, at time.Time) schemas.AlertEvent {
	id := schemas.AlertID(station, rule, start)
	sev := map[int]schemas.Severity{0: schemas.SeverityMinor, 1: schemas.SeverityModerate, 2: schemas.SeveritySevere, 3: schemas.SeverityExtreme}[level]
	return schemas.AlertEvent{
		V: schemas.AlertEventVersion, ID: id, EventID: schemas.EventID(id, kind, level, at), Kind: kind,
		Station: station, Sensor: schemas.WaterLevel, Rule: rule, Level: level,
		LevelName: fmt.Sprintf("BĐ %d", level), Severity: sev, Value: float64(level) + 0.5,
		Threshold: float64(level), StartedAt: start, At: at, District: "Hòa Vang", Basin: "Vu Gia",
		Message: fmt.Sprintf("%s at %s", kind, at.Format(time.RFC3339)),
	}
}

func TestApplyLifecycle(t *testing.T) {
	const st, rule = "VG-AINGHIA", "water_level"
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	fired := ev(st, rule, t0, schemas.AlertFired, 1, at(0))
	esc := ev(st, rule, t0, schemas.AlertEscalated, 3, at(10))
	deesc := ev(st, rule, t0, schemas.AlertDeescalated, 2, at(20))
	resolved := ev(st, rule, t0, schemas.AlertResolved, 0, at(30))
	lateEsc := ev(st, rule, t0, schemas.AlertEscalated, 3, at(40)) // newer At, but after resolved

	type want struct {
		applied   bool
		state     store.State
		level     int
		severity  schemas.Severity
		updated   time.Time
		resolved  *time.Time
		events    int
		value     float64
		threshold float64
	}
	r30 := at(30)
	tests := []struct {
		name string
		seq  []schemas.AlertEvent
		want want
	}{
		{"fired", []schemas.AlertEvent{fired},
			want{true, store.Firing, 1, schemas.SeverityModerate, at(0), nil, 1, 1.5, 1}},
		{"escalated raises the level", []schemas.AlertEvent{fired, esc},
			want{true, store.Firing, 3, schemas.SeverityExtreme, at(10), nil, 2, 3.5, 3}},
		{"deescalated lowers the level", []schemas.AlertEvent{fired, esc, deesc},
			want{true, store.Firing, 2, schemas.SeveritySevere, at(20), nil, 3, 2.5, 2}},
		{"resolved", []schemas.AlertEvent{fired, esc, deesc, resolved},
			want{true, store.Resolved, 0, schemas.SeverityMinor, at(30), &r30, 4, 0.5, 0}},
		{"duplicate fired is refused and changes nothing", []schemas.AlertEvent{fired, fired},
			want{false, store.Firing, 1, schemas.SeverityModerate, at(0), nil, 1, 1.5, 1}},
		{"duplicate escalation after deescalation changes nothing", []schemas.AlertEvent{fired, esc, deesc, esc},
			want{false, store.Firing, 2, schemas.SeveritySevere, at(20), nil, 3, 2.5, 2}},
		{"duplicate resolved", []schemas.AlertEvent{fired, resolved, resolved},
			want{false, store.Resolved, 0, schemas.SeverityMinor, at(30), &r30, 2, 0.5, 0}},
		{"older escalation after a newer deescalation does not roll back", []schemas.AlertEvent{fired, deesc, esc},
			want{true, store.Firing, 2, schemas.SeveritySevere, at(20), nil, 3, 2.5, 2}},
		{"fired arriving after escalation does not roll back", []schemas.AlertEvent{esc, fired},
			want{true, store.Firing, 3, schemas.SeverityExtreme, at(10), nil, 2, 3.5, 3}},
		{"resolved first, late older events stay resolved", []schemas.AlertEvent{resolved, fired, esc, deesc},
			want{true, store.Resolved, 0, schemas.SeverityMinor, at(30), &r30, 4, 0.5, 0}},
		{"resolved is final against a newer non-resolved event", []schemas.AlertEvent{fired, resolved, lateEsc},
			want{true, store.Resolved, 0, schemas.SeverityMinor, at(30), &r30, 3, 0.5, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := store.New()
			var applied bool
			for _, e := range tc.seq {
				applied = s.Apply(e)
			}
			if applied != tc.want.applied {
				t.Errorf("last Apply = %v, want %v", applied, tc.want.applied)
			}
			a, ok := s.Get(fired.ID)
			if !ok {
				t.Fatalf("Get(%s): not found", fired.ID)
			}
			w := tc.want
			if a.State != w.state || a.Level != w.level || a.Severity != w.severity || !a.UpdatedAt.Equal(w.updated) ||
				a.Events != w.events || a.Value != w.value || a.Threshold != w.threshold {
				t.Errorf("got state=%s level=%d severity=%s updated=%s events=%d value=%g threshold=%g\n"+
					"want state=%s level=%d severity=%s updated=%s events=%d value=%g threshold=%g",
					a.State, a.Level, a.Severity, a.UpdatedAt, a.Events, a.Value, a.Threshold,
					w.state, w.level, w.severity, w.updated, w.events, w.value, w.threshold)
			}
			switch {
			case w.resolved == nil && a.ResolvedAt != nil:
				t.Errorf("ResolvedAt = %s, want nil", *a.ResolvedAt)
			case w.resolved != nil && (a.ResolvedAt == nil || !a.ResolvedAt.Equal(*w.resolved)):
				t.Errorf("ResolvedAt = %v, want %s", a.ResolvedAt, *w.resolved)
			}
			// Identity fields come from the events and never change.
			if a.ID != fired.ID || a.Station != st || a.Rule != rule || a.Sensor != schemas.WaterLevel ||
				!a.StartedAt.Equal(t0) || a.District != "Hòa Vang" || a.Basin != "Vu Gia" {
				t.Errorf("identity fields: %+v", a)
			}
			if got := len(s.List(store.Filter{})); got != 1 {
				t.Errorf("List: %d alerts, want 1", got)
			}
		})
	}
}

func TestApplyDuplicateIsNoOp(t *testing.T) {
	s := store.New()
	e := ev("VG-AINGHIA", "water_level", t0, schemas.AlertFired, 2, t0)
	if !s.Apply(e) {
		t.Fatal("first Apply = false")
	}
	before, _ := s.Get(e.ID)
	// Same EventID with different content (never produced, but must not
	// sneak in).
	e2 := e
	e2.Level, e2.Value = 3, 99
	if s.Apply(e2) {
		t.Fatal("Apply of a duplicate EventID = true")
	}
	after, _ := s.Get(e.ID)
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("duplicate changed the alert:\nbefore %+v\nafter  %+v", before, after)
	}
}

func TestGetIsACopy(t *testing.T) {
	s := store.New()
	e := ev("VG-AINGHIA", "water_level", t0, schemas.AlertFired, 1, t0)
	s.Apply(e)
	a, _ := s.Get(e.ID)
	a.Level = 42
	a.State = store.Resolved
	if b, _ := s.Get(e.ID); b.Level != 1 || b.State != store.Firing {
		t.Errorf("mutating Get's result changed the store: %+v", b)
	}
	if _, ok := s.Get("no-such-alert"); ok {
		t.Error("Get of an unknown id: ok = true")
	}
}

func TestListFiltersAndOrder(t *testing.T) {
	s := store.New()
	// Four alerts on two stations with distinct starts, one resolved,
	// plus two with the same start (ordered by id).
	a1 := ev("VG-AINGHIA", "water_level", t0, schemas.AlertFired, 1, t0)
	a2 := ev("VG-AINGHIA", "rain_1h", t0.Add(time.Hour), schemas.AlertFired, 1, t0.Add(time.Hour))
	a3 := ev("TB-HOIAN", "water_level", t0.Add(2*time.Hour), schemas.AlertFired, 2, t0.Add(2*time.Hour))
	a3r := ev("TB-HOIAN", "water_level", t0.Add(2*time.Hour), schemas.AlertResolved, 0, t0.Add(3*time.Hour))
	a4 := ev("TB-HOIAN", "rain_1h", t0.Add(-time.Hour), schemas.AlertFired, 1, t0.Add(-time.Hour))
	a5 := ev("TB-HOIAN", "tilt", t0.Add(-time.Hour), schemas.AlertFired, 1, t0.Add(-time.Hour))
	for _, e := range []schemas.AlertEvent{a1, a2, a3, a3r, a4, a5} {
		if !s.Apply(e) {
			t.Fatalf("Apply(%s) = false", e.EventID)
		}
	}
	sameStart := []string{a4.ID, a5.ID}
	if sameStart[0] > sameStart[1] {
		sameStart[0], sameStart[1] = sameStart[1], sameStart[0]
	}
	tests := []struct {
		name string
		f    store.Filter
		want []string
	}{
		{"all, newest start first", store.Filter{}, append([]string{a3.ID, a2.ID, a1.ID}, sameStart...)},
		{"station", store.Filter{Station: "VG-AINGHIA"}, []string{a2.ID, a1.ID}},
		{"firing", store.Filter{State: store.Firing}, append([]string{a2.ID, a1.ID}, sameStart...)},
		{"resolved", store.Filter{State: store.Resolved}, []string{a3.ID}},
		{"station and state", store.Filter{Station: "TB-HOIAN", State: store.Firing}, sameStart},
		{"station and state, none", store.Filter{Station: "VG-AINGHIA", State: store.Resolved}, nil},
		{"unknown station", store.Filter{Station: "XX-NONE"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := s.List(tc.f)
			if got == nil {
				t.Error("List returned nil, want an empty slice (JSON [])")
			}
			ids := make([]string, len(got))
			for i, a := range got {
				ids[i] = a.ID
				if tc.f.Station != "" && a.Station != tc.f.Station || tc.f.State != "" && a.State != tc.f.State {
					t.Errorf("alert %s (%s, %s) does not match filter %+v", a.ID, a.Station, a.State, tc.f)
				}
			}
			if fmt.Sprint(ids) != fmt.Sprint(tc.want) && !(len(ids) == 0 && len(tc.want) == 0) {
				t.Errorf("List(%+v) = %v, want %v", tc.f, ids, tc.want)
			}
		})
	}
}

func TestConcurrentApply(t *testing.T) {
	s := store.New()
	const workers, alerts = 8, 50
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		applied int
	)
	// Every worker applies the same events (in different orders), so each
	// event must be applied exactly once overall.
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			n := 0
			for i := 0; i < alerts; i++ {
				k := (i + w*7) % alerts
				start := t0.Add(time.Duration(k) * time.Minute)
				st := fmt.Sprintf("ST-%02d", k%5)
				for _, e := range []schemas.AlertEvent{
					ev(st, "water_level", start, schemas.AlertFired, 1, start),
					ev(st, "water_level", start, schemas.AlertEscalated, 2, start.Add(time.Second)),
					ev(st, "water_level", start, schemas.AlertResolved, 0, start.Add(2*time.Second)),
				} {
					if s.Apply(e) {
						n++
					}
				}
				s.List(store.Filter{Station: st})
				s.Get(schemas.AlertID(st, "water_level", start))
			}
			mu.Lock()
			applied += n
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	if applied != alerts*3 {
		t.Errorf("applied %d events, want %d (each exactly once)", applied, alerts*3)
	}
	all := s.List(store.Filter{})
	if len(all) != alerts {
		t.Fatalf("List: %d alerts, want %d", len(all), alerts)
	}
	for _, a := range all {
		if a.State != store.Resolved || a.Events != 3 || a.ResolvedAt == nil {
			t.Errorf("alert %s: state=%s events=%d resolved_at=%v, want resolved after 3 events", a.ID, a.State, a.Events, a.ResolvedAt)
		}
	}
}
