package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/resilience-project/resilience/internal/auth"
	"github.com/resilience-project/resilience/internal/httpapi"
)

type alertPage struct {
	Alerts []httpapi.Alert `json:"alerts"`
	Next   string          `json:"next_cursor"`
}

func ids(as []httpapi.Alert) string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return strings.Join(out, ",")
}

func TestAlertFilters(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		query, want string
		code        int
	}{
		{"", "A0,A1,A2,A3,A4,A5,A6", 200},
		{"?state=acknowledged", "A1", 200},
		{"?state=resolved", "A5", 200},
		{"?station=DN-HOAVANG", "A2", 200},
		{"?district=H%C3%B2a%20Vang", "A2", 200},
		{"?basin=Vu%20Gia%20-%20Thu%20B%E1%BB%93n&severity=Severe", "A0,A1,A3,A4,A5,A6", 200},
		{"?kind=accumulation", "A2", 200},
		{"?kind=level&state=firing", "A0,A3,A4,A6", 200},
		{"?until=2026-10-28T00:00:00Z", "A3,A4,A5,A6", 200},       // started at or before 00:00
		{"?since=2026-10-28T00:00:00Z", "A0,A1,A2,A3,A4,A6", 200}, // A5 resolved at 23:00
		{"?state=gone", "", 400}, {"?since=yesterday", "", 400}, {"?limit=0", "", 400}, {"?limit=501", "", 400},
		{"?cursor=bm9wZQ", "", 400},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			rec := f.do(t, req{path: "/api/v1/alerts" + tc.query, role: auth.RoleViewer})
			if rec.Code != tc.code {
				t.Fatalf("= %d %s", rec.Code, rec.Body)
			}
			if tc.code != 200 {
				return
			}
			var p alertPage
			decode(t, rec, &p)
			if got := ids(p.Alerts); got != tc.want || p.Next != "" {
				t.Fatalf("= %s next %q, want %s", got, p.Next, tc.want)
			}
			for _, a := range p.Alerts {
				if a.History != nil || a.Readings != nil || a.Kind == "" {
					t.Fatalf("list item %s carries history/readings or lacks kind: %+v", a.ID, a)
				}
			}
		})
	}
}

// Pages follow each other without a gap or a repeat, with filters kept.
func TestAlertPagination(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		query string
		limit int
		want  string
	}{{"", 3, "A0,A1,A2,A3,A4,A5,A6"}, {"&state=firing", 2, "A0,A2,A3,A4,A6"}, {"", 7, "A0,A1,A2,A3,A4,A5,A6"}, {"", 1, "A0,A1,A2,A3,A4,A5,A6"}} {
		var got []string
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("pagination does not end")
			}
			path := fmt.Sprintf("/api/v1/alerts?limit=%d%s", tc.limit, tc.query)
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			var p alertPage
			decode(t, f.do(t, req{path: path, role: auth.RoleViewer}), &p)
			if len(p.Alerts) > tc.limit {
				t.Fatalf("%s: %d alerts over the limit", path, len(p.Alerts))
			}
			if ids(p.Alerts) != "" {
				got = append(got, ids(p.Alerts))
			}
			if p.Next == "" {
				break
			}
			cursor = p.Next
		}
		if strings.Join(got, ",") != tc.want {
			t.Errorf("limit %d%s: pages %v, want %s", tc.limit, tc.query, got, tc.want)
		}
	}
	// The default page is 50.
	f.alerts.alerts = nil
	for i := range 60 {
		a := testAlerts()[0]
		a.ID = fmt.Sprintf("B%02d", i)
		f.alerts.alerts = append(f.alerts.alerts, a)
	}
	var p alertPage
	decode(t, f.do(t, req{path: "/api/v1/alerts", role: auth.RoleViewer}), &p)
	if len(p.Alerts) != httpapi.DefaultPageSize || p.Next == "" {
		t.Fatalf("default page: %d alerts, next %q", len(p.Alerts), p.Next)
	}
}

// One alert: its history, the readings, the peak level from the history.
func TestAlertDetail(t *testing.T) {
	f := newFixture(t)
	var a httpapi.Alert
	rec := f.do(t, req{path: "/api/v1/alerts/A0", role: auth.RoleViewer})
	decode(t, rec, &a)
	if len(a.History) != 2 || len(a.Readings) != 1 || a.PeakLevel != 3 || a.Level != 2 || a.Kind != "level" {
		t.Fatalf("alert = %+v", a)
	}
	if rec := f.do(t, req{path: "/api/v1/alerts/NOPE", role: auth.RoleViewer}); rec.Code != http.StatusNotFound {
		t.Fatalf("unknown alert = %d", rec.Code)
	}
}

func TestStationStatus(t *testing.T) {
	f := newFixture(t)
	var body struct {
		Stations []httpapi.Station `json:"stations"`
	}
	decode(t, f.do(t, req{path: "/api/v1/stations", role: auth.RoleViewer}), &body)
	if len(body.Stations) != 3 {
		t.Fatalf("%d stations", len(body.Stations))
	}
	hv, ag, nw := body.Stations[0], body.Stations[1], body.Stations[2]
	if !hv.Offline || ag.Offline || !nw.Offline {
		t.Errorf("offline: Hòa Vang (1 h, interval 10 min) %v, Ái Nghĩa (5 min, interval 5 min) %v, never seen %v; want true false true",
			hv.Offline, ag.Offline, nw.Offline)
	}
	if ag.Battery == nil || ag.Battery.Value != 3.9 || ag.Lat != 15.88 || ag.IntervalS != 300 || ag.River != "Vu Gia" {
		t.Errorf("Ái Nghĩa metadata/battery: %+v", ag)
	}
	if len(ag.Levels) != 1 {
		t.Fatalf("levels %+v", ag.Levels)
	}
	l := ag.Levels[0]
	if l.Sensor != "water_level" || l.Unit != "m" || l.Reached != 2 || l.ReachedName != "BĐ II" || l.NextLevel != 3 ||
		l.NextThreshold == nil || *l.NextThreshold != 9 || l.Distance == nil || *l.Distance != 0.5 {
		t.Errorf("level status %+v, want BĐ II reached, 0.5 m to BĐ III (9 m)", l)
	}
	tr, ok := ag.Trend["water_level"]
	if !ok || tr.Direction != httpapi.TrendRising || tr.PerHour != 1.2 || tr.Unit != "m/h" || tr.WindowS != 1800 {
		t.Errorf("trend %+v, want rising 1.2 m/h over 1800 s", ag.Trend)
	}
	if hv.Levels != nil || hv.Trend != nil {
		t.Errorf("Hòa Vang has no alarm levels and one value: %+v %+v", hv.Levels, hv.Trend)
	}
	var one httpapi.Station
	decode(t, f.do(t, req{path: "/api/v1/stations/VG-AINGHIA", role: auth.RoleViewer}), &one)
	if one.ID != "VG-AINGHIA" || one.Levels[0].Reached != 2 {
		t.Errorf("one station %+v", one)
	}
	if rec := f.do(t, req{path: "/api/v1/stations/NOPE", role: auth.RoleViewer}); rec.Code != 404 {
		t.Errorf("unknown station = %d", rec.Code)
	}
}

func TestSilences(t *testing.T) {
	f := newFixture(t)
	bad := []string{
		`{"matchers":{},"comment":"x","ends_at":"2026-10-28T05:00:00Z"}`,                // the store refuses: no matcher
		`{"matchers":{"station":["A"]},"comment":"x","ends_at":"2026-10-27T05:00:00Z"}`, // in the past
		`{"matchers":{"station":["A"]},"comment":"x","ends_at":"2027-10-28T05:00:00Z"}`, // over 30 days
		`{"matchers":{"station":["A"]},"comment":"x","ends_at":"2026-10-28T05:00:00Z","author":"me"}`,
	}
	for _, b := range bad {
		if rec := f.do(t, req{method: "POST", path: "/api/v1/silences", body: b, role: auth.RoleOperator}); rec.Code != 400 {
			t.Errorf("POST %s = %d %s, want 400", b, rec.Code, rec.Body)
		}
	}
	rec := f.do(t, req{method: "POST", path: "/api/v1/silences", role: auth.RoleOperator,
		body: `{"matchers":{"station":["VG-AINGHIA"]},"comment":"gauge maintenance","ends_at":"2026-10-28T05:00:00Z"}`})
	var s httpapi.Silence
	decode(t, rec, &s)
	if rec.Code != 201 || s.ID == "" || s.Author != "operator-user" || s.State != httpapi.SilenceActive || !s.StartsAt.Equal(t0) ||
		rec.Header().Get("Location") != "/api/v1/silences/"+s.ID {
		t.Fatalf("created %d %+v", rec.Code, s)
	}
	rec = f.do(t, req{method: "DELETE", path: "/api/v1/silences/" + s.ID, role: auth.RoleOperator})
	decode(t, rec, &s)
	if rec.Code != 200 || s.State != httpapi.SilenceExpired {
		t.Fatalf("expired %d %+v", rec.Code, s)
	}
	if rec := f.do(t, req{method: "DELETE", path: "/api/v1/silences/nope", role: auth.RoleOperator}); rec.Code != 404 {
		t.Fatalf("expire unknown = %d", rec.Code)
	}
	var list struct {
		Silences []httpapi.Silence `json:"silences"`
	}
	decode(t, f.do(t, req{path: "/api/v1/silences", role: auth.RoleViewer}), &list)
	if len(list.Silences) != 1 || list.Silences[0].State != httpapi.SilenceExpired {
		t.Fatalf("list %+v", list)
	}
}
