package httpapi_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/resilience-project/resilience/internal/auth"
)

// FuzzAlertsQuery: any query of GET /api/v1/alerts is answered 200 or 400,
// never anything else, and the answer matches the OpenAPI document.
func FuzzAlertsQuery(f *testing.F) {
	f.Add("limit=2&cursor=eyJzIjoxLCJpIjoiQTEifQ")
	f.Add("cursor=bm9wZQ&state=firing")
	f.Add("since=2026-10-28T00:00:00Z&until=x&kind=level")
	fx := newFixture(f)
	f.Fuzz(func(t *testing.T, q string) {
		vals, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		rec := fx.do(t, req{path: "/api/v1/alerts?" + vals.Encode(), role: auth.RoleViewer})
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("?%s = %d %s", q, rec.Code, rec.Body)
		}
	})
}

// FuzzActionBody: any body of an action is 202, 400 or 413.
func FuzzActionBody(f *testing.F) {
	f.Add(`{"reason":"receded"}`)
	f.Add(`{"reason":""}`)
	f.Add(`{"by":"x","reason":"y"}`)
	f.Add(`[1]`)
	fx := newFixture(f)
	f.Fuzz(func(t *testing.T, body string) {
		rec := fx.do(t, req{method: "POST", path: "/api/v1/alerts/A1/resolve", body: body, role: auth.RoleOperator})
		switch rec.Code {
		case http.StatusAccepted, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("%q = %d %s", body, rec.Code, rec.Body)
		}
	})
}

// FuzzSilenceBody: any body of POST /api/v1/silences is 201, 400 or 413.
func FuzzSilenceBody(f *testing.F) {
	f.Add(`{"matchers":{"station":["VG-AINGHIA"]},"comment":"m","ends_at":"2026-10-28T05:00:00Z"}`)
	f.Add(`{"matchers":{"station":[]},"comment":"m","ends_at":"2026-10-28T05:00:00Z","starts_at":"2026-10-28T06:00:00Z"}`)
	f.Add(`{}`)
	fx := newFixture(f)
	f.Fuzz(func(t *testing.T, body string) {
		rec := fx.do(t, req{method: "POST", path: "/api/v1/silences", body: body, role: auth.RoleOperator})
		switch rec.Code {
		case http.StatusCreated, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("%q = %d %s", body, rec.Code, rec.Body)
		}
	})
}
