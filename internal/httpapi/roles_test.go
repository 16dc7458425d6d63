package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/resilience-project/resilience/internal/auth"
	"github.com/resilience-project/resilience/internal/httpapi"
)

// minRole is the lowest role each route needs, written out here
// independently of the route table (0: public, no token). A route added
// to the table must be classified here.
var minRole = map[string]auth.Role{
	"GET /healthz":                         auth.RoleViewer,
	"GET /readyz":                          auth.RoleViewer,
	"GET /metrics":                         auth.RoleViewer,
	"GET /api/v1/openapi.json":             0,
	"GET /api/v1/whoami":                   auth.RoleViewer,
	"GET /api/v1/stations":                 auth.RoleViewer,
	"GET /api/v1/stations/{id}":            auth.RoleViewer,
	"GET /api/v1/readings":                 auth.RoleViewer,
	"GET /api/v1/alerts":                   auth.RoleViewer,
	"GET /api/v1/alerts/{id}":              auth.RoleViewer,
	"POST /api/v1/alerts/{id}/ack":         auth.RoleOperator,
	"POST /api/v1/alerts/{id}/unack":       auth.RoleOperator,
	"POST /api/v1/alerts/{id}/resolve":     auth.RoleOperator,
	"POST /api/v1/alerts/{id}/assign":      auth.RoleOperator,
	"POST /api/v1/alerts/{id}/comment":     auth.RoleOperator,
	"GET /api/v1/silences":                 auth.RoleViewer,
	"POST /api/v1/silences":                auth.RoleOperator,
	"DELETE /api/v1/silences/{id}":         auth.RoleOperator,
	"GET /api/v1/audit":                    auth.RoleAdmin,
	"GET /api/v1/events":                   0, // authenticates itself (sse_test.go)
	"POST /api/v1/events/ticket":           auth.RoleViewer,
	"GET /{$}":                             0,
	"GET /console/":                        0,
	"GET /api/v1/cap/drafts":               auth.RolePublisher,
	"GET /api/v1/cap/drafts/{id}":          auth.RolePublisher,
	"POST /api/v1/cap/drafts/{id}/approve": auth.RolePublisher,
	"POST /api/v1/cap/drafts/{id}/discard": auth.RolePublisher,
	"GET /cap/feed.atom":                   0,
	"GET /cap/{file}":                      0,
}

// live is a request for each route the fixture mounts, with the answer an
// allowed caller gets. Routes of other owners that the fixture does not
// mount (event stream, CAP) are checked against the table only; their
// tests exercise them.
var live = map[string]struct {
	path, body string
	code       int
}{
	"GET /healthz":                     {"/healthz", "", 200},
	"GET /readyz":                      {"/readyz", "", 200},
	"GET /metrics":                     {"/metrics", "", 200},
	"GET /api/v1/openapi.json":         {"/api/v1/openapi.json", "", 200},
	"GET /api/v1/whoami":               {"/api/v1/whoami", "", 200},
	"GET /api/v1/stations":             {"/api/v1/stations", "", 200},
	"GET /api/v1/stations/{id}":        {"/api/v1/stations/VG-AINGHIA", "", 200},
	"GET /api/v1/readings":             {"/api/v1/readings?station=VG-AINGHIA&sensor=water_level", "", 200},
	"GET /api/v1/alerts":               {"/api/v1/alerts", "", 200},
	"GET /api/v1/alerts/{id}":          {"/api/v1/alerts/A0", "", 200},
	"POST /api/v1/alerts/{id}/ack":     {"/api/v1/alerts/A0/ack", `{"note":"on my way"}`, 202},
	"POST /api/v1/alerts/{id}/unack":   {"/api/v1/alerts/A0/unack", `{}`, 202},
	"POST /api/v1/alerts/{id}/resolve": {"/api/v1/alerts/A0/resolve", `{"reason":"receded"}`, 202},
	"POST /api/v1/alerts/{id}/assign":  {"/api/v1/alerts/A0/assign", `{"to":"lan"}`, 202},
	"POST /api/v1/alerts/{id}/comment": {"/api/v1/alerts/A0/comment", `{"text":"team on site"}`, 202},
	"GET /api/v1/silences":             {"/api/v1/silences", "", 200},
	"POST /api/v1/silences":            {"/api/v1/silences", `{"matchers":{"station":["VG-AINGHIA"]},"comment":"maintenance","ends_at":"2026-10-28T05:00:00Z"}`, 201},
	"DELETE /api/v1/silences/{id}":     {"/api/v1/silences/s1", "", 200},
	"GET /api/v1/audit":                {"/api/v1/audit", "", 200},
	"GET /{$}":                         {"/", "", 200},
	"GET /console/":                    {"/console/app.js", "", 200},
}

// TestRoleByEndpoint: each role can do exactly what it may, through the
// real mux, from a client that is not on loopback; without a token or
// with a bad one every non-public route is 401.
func TestRoleByEndpoint(t *testing.T) {
	f := newFixture(t)
	// One silence to expire, whoever is allowed to.
	if rec := f.do(t, req{method: "POST", path: "/api/v1/silences", role: auth.RoleOperator, body: live["POST /api/v1/silences"].body}); rec.Code != 201 {
		t.Fatalf("setup silence = %d %s", rec.Code, rec.Body)
	}
	seen := map[string]bool{}
	for _, rt := range httpapi.Routes() {
		k := rt.Method + " " + rt.Pattern
		want, ok := minRole[k]
		if !ok {
			t.Errorf("route %s is not classified in minRole", k)
			continue
		}
		seen[k] = true
		if got := rt.Perm.MinRole(); want == 0 && rt.Perm != auth.PermPublic || want != 0 && got != want {
			t.Errorf("route %s: table permission %s (min role %s), want min role %v", k, rt.Perm, got, want)
		}
		if (rt.Audit != "") != (rt.Method != http.MethodGet && k != "POST /api/v1/events/ticket") { // a ticket changes nothing
			t.Errorf("route %s: audit action %q: every write and only writes are audited", k, rt.Audit)
		}
		l, mounted := live[k]
		if !mounted {
			continue
		}
		t.Run(k+"/no token", func(t *testing.T) {
			rec := f.do(t, req{method: rt.Method, path: l.path, body: l.body})
			if want == 0 && rec.Code != l.code || want != 0 && rec.Code != http.StatusUnauthorized {
				t.Fatalf("= %d %s", rec.Code, rec.Body)
			}
		})
		t.Run(k+"/bad token", func(t *testing.T) {
			rec := f.do(t, req{method: rt.Method, path: l.path, body: l.body, authz: "Bearer rsl_not-a-token"})
			if want == 0 && rec.Code != l.code || want != 0 && rec.Code != http.StatusUnauthorized {
				t.Fatalf("= %d %s", rec.Code, rec.Body)
			}
		})
		for _, role := range auth.Roles() {
			code := l.code
			if role < want {
				code = http.StatusForbidden
			}
			t.Run(fmt.Sprintf("%s/%s", k, role), func(t *testing.T) {
				if rec := f.do(t, req{method: rt.Method, path: l.path, body: l.body, role: role}); rec.Code != code {
					t.Fatalf("= %d %s, want %d", rec.Code, rec.Body, code)
				}
			})
		}
	}
	for k := range minRole {
		if !seen[k] {
			t.Errorf("minRole has %s, which the route table does not", k)
		}
	}
	for k := range live {
		if _, ok := minRole[k]; !ok {
			t.Errorf("live has %s, which minRole does not", k)
		}
	}
}

// Health and metrics are open from loopback without a token, and need a
// viewer token from anywhere else.
func TestHealthOpenOnLoopbackOnly(t *testing.T) {
	f := newFixture(t)
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		for _, tc := range []struct {
			from string
			role auth.Role
			code int
		}{{"127.0.0.1:5000", 0, 200}, {"[::1]:5000", 0, 200}, {remoteAddr, 0, 401}, {remoteAddr, auth.RoleViewer, 200}} {
			if rec := f.do(t, req{path: p, from: tc.from, role: tc.role}); rec.Code != tc.code {
				t.Errorf("%s from %s with role %v = %d, want %d", p, tc.from, tc.role, rec.Code, tc.code)
			}
		}
	}
	// Loopback opens health only, not the API.
	if rec := f.do(t, req{path: "/api/v1/alerts", from: "127.0.0.1:5000"}); rec.Code != http.StatusUnauthorized {
		t.Errorf("/api/v1/alerts from loopback without a token = %d, want 401", rec.Code)
	}
}

// whoami names the token's holder and role.
func TestWhoami(t *testing.T) {
	f := newFixture(t)
	rec := f.do(t, req{path: "/api/v1/whoami", role: auth.RolePublisher})
	var got map[string]string
	decode(t, rec, &got)
	if got["name"] != "publisher-user" || got["role"] != "publisher" {
		t.Fatalf("whoami = %v", got)
	}
}

// Without an authenticator (nothing configured) only public routes and
// loopback health answer: secure by default.
func TestNoAuthConfiguredIsClosed(t *testing.T) {
	st, reg := testStations()
	h := httpapi.New(httpapi.Options{Stations: st, Registry: reg, Alerts: &fakeAlerts{alerts: testAlerts()}}).Handler()
	for _, p := range []string{"/api/v1/stations", "/api/v1/alerts"} {
		code, _, body := get(t, h, p)
		if code != http.StatusUnauthorized || !strings.Contains(body, "bearer token") {
			t.Errorf("%s without any token configured = %d %s, want 401", p, code, body)
		}
	}
}
