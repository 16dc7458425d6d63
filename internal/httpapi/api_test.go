package httpapi_test

import (
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/resilience-project/resilience/internal/audit"
	"github.com/resilience-project/resilience/internal/auth"
	"github.com/resilience-project/resilience/internal/httpapi"
)

// Every write is in the audit log, with who, role, action, target,
// outcome and request id, by the time its answer arrives; a forbidden
// write of a known token is recorded too; reads and 401s are not.
func TestWritesAreAudited(t *testing.T) {
	f := newFixture(t)
	steps := []struct {
		r      req
		code   int
		action string
		target string
		actor  string
		detail map[string]string
	}{
		{req{method: "POST", path: "/api/v1/alerts/A1/ack", body: `{"note":"on my way"}`, role: auth.RoleOperator, hdr: map[string]string{"X-Request-Id": "req-1"}},
			202, "alert.ack", "A1", "operator-user", map[string]string{"note": "on my way", "request_id": "req-1", "outcome": "202 Accepted"}},
		{req{method: "POST", path: "/api/v1/alerts/NOPE/resolve", body: `{"reason":"x"}`, role: auth.RoleAdmin},
			404, "alert.resolve", "NOPE", "admin-user", map[string]string{"outcome": "404 Not Found"}},
		{req{method: "POST", path: "/api/v1/alerts/A1/ack", body: `{}`, role: auth.RoleViewer},
			403, "alert.ack", "/api/v1/alerts/A1/ack", "viewer-user", map[string]string{"outcome": "403 Forbidden"}},
		{req{method: "GET", path: "/api/v1/alerts", role: auth.RoleViewer}, 200, "", "", "", nil},
		{req{method: "POST", path: "/api/v1/alerts/A1/ack", body: `{}`}, 401, "", "", "", nil},
		{req{method: "POST", path: "/api/v1/silences", role: auth.RoleOperator,
			body: `{"matchers":{"station":["VG-AINGHIA"]},"comment":"gauge maintenance","ends_at":"2026-10-28T05:00:00Z"}`},
			201, "silence.create", "s1", "operator-user", map[string]string{"comment": "gauge maintenance", "outcome": "201 Created",
				"matchers": `{"station":["VG-AINGHIA"]}`, "starts_at": "2026-10-28T03:00:00Z", "ends_at": "2026-10-28T05:00:00Z"}},
		{req{method: "DELETE", path: "/api/v1/silences/s1", role: auth.RoleOperator}, 200, "silence.expire", "s1", "operator-user", map[string]string{"outcome": "200 OK"}},
	}
	want := 0
	for _, s := range steps {
		rec := f.do(t, s.r)
		if rec.Code != s.code {
			t.Fatalf("%s %s = %d %s, want %d", s.r.method, s.r.path, rec.Code, rec.Body, s.code)
		}
		es := f.auditEntries() // read right after the answer: already there
		if s.action != "" {
			want++
		}
		if len(es) != want {
			t.Fatalf("after %s %s (%d): %d audit entries, want %d", s.r.method, s.r.path, rec.Code, len(es), want)
		}
		if s.action == "" {
			continue
		}
		e := es[len(es)-1]
		if e.Action != s.action || e.Target != s.target || e.Actor != s.actor || e.Role != strings.TrimSuffix(s.actor, "-user") {
			t.Errorf("entry %+v, want action %s target %s actor %s", e, s.action, s.target, s.actor)
		}
		if e.Detail["request_id"] == "" || e.Detail["request_id"] != rec.Header().Get(httpapi.RequestIDHeader) {
			t.Errorf("entry request_id %q, answer's %q", e.Detail["request_id"], rec.Header().Get(httpapi.RequestIDHeader))
		}
		for k, v := range s.detail {
			if e.Detail[k] != v {
				t.Errorf("entry detail[%s] = %q, want %q", k, e.Detail[k], v)
			}
		}
	}
	// The acting user is the token's; the audit chain verifies.
	if calls := f.actor.list(); len(calls) != 1 || calls[0] != (actCall{"A1", "ack", "operator-user", "on my way"}) {
		t.Errorf("actor calls %+v", calls)
	}
	if _, err := verifyPath(f.logPath); err != nil {
		t.Errorf("audit log chain: %v", err)
	}
	// GET /api/v1/audit serves them, newest first, paginated.
	rec := f.do(t, req{path: "/api/v1/audit?limit=2", role: auth.RoleAdmin})
	var page struct {
		Entries []audit.Entry `json:"entries"`
		Head    audit.Head    `json:"head"`
		Next    string        `json:"next_cursor"`
	}
	decode(t, rec, &page)
	if len(page.Entries) != 2 || page.Entries[0].Seq != 5 || page.Head.Seq != 5 || page.Next == "" {
		t.Fatalf("audit page 1 = %+v", page)
	}
	rec = f.do(t, req{path: "/api/v1/audit?limit=2&cursor=" + page.Next, role: auth.RoleAdmin})
	page.Next = ""
	decode(t, rec, &page)
	if len(page.Entries) != 2 || page.Entries[0].Seq != 3 || page.Entries[1].Seq != 2 {
		t.Fatalf("audit page 2 = %+v", page.Entries)
	}
}

// When the audit log cannot record a write, the write is not acknowledged:
// 503, and the answer says what happened.
func TestWriteRefusedWhenAuditFails(t *testing.T) {
	f := newFixtureWith(t, fixtureOpts{audit: func(l *audit.Log) httpapi.AuditLog { return failingAudit{l} }})
	rec := f.do(t, req{method: "POST", path: "/api/v1/alerts/A1/ack", body: `{}`, role: auth.RoleOperator})
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "audit log could not record") {
		t.Fatalf("= %d %s, want 503 naming the audit log", rec.Code, rec.Body)
	}
	// Without any audit log, writes are off.
	st, reg := testStations()
	authn, _ := auth.New(nil, auth.Options{})
	h := httpapi.New(httpapi.Options{Stations: st, Registry: reg, Alerts: f.alerts, Actions: f.actor, Auth: authn}).Handler()
	code, _, _ := get(t, h, "/api/v1/alerts/A1/ack")
	if code != http.StatusMethodNotAllowed {
		t.Fatalf("GET on a write route = %d", code)
	}
}

func TestAlertActions(t *testing.T) {
	tests := []struct {
		name, path, body string
		code             int
		want             *actCall
	}{
		{"ack", "/api/v1/alerts/A1/ack", `{"note":"on my way"}`, 202, &actCall{"A1", "ack", "operator-user", "on my way"}},
		{"ack, empty body", "/api/v1/alerts/A1/ack", ``, 202, &actCall{"A1", "ack", "operator-user", ""}},
		{"unack", "/api/v1/alerts/A1/unack", `{"note":"wrong station"}`, 202, &actCall{"A1", "unack", "operator-user", "wrong station"}},
		{"resolve", "/api/v1/alerts/A1/resolve", `{"reason":"water receded"}`, 202, &actCall{"A1", "resolve", "operator-user", "water receded"}},
		{"resolve needs a reason", "/api/v1/alerts/A1/resolve", `{}`, 400, nil},
		{"assign", "/api/v1/alerts/A1/assign", `{"to":"lan"}`, 202, &actCall{"A1", "assign", "operator-user", "lan"}},
		{"assign needs to", "/api/v1/alerts/A1/assign", `{"to":""}`, 400, nil},
		{"comment", "/api/v1/alerts/A1/comment", `{"text":"team on site"}`, 202, &actCall{"A1", "comment", "operator-user", "team on site"}},
		{"by is the token's, never the body's", "/api/v1/alerts/A1/ack", `{"by":"someone-else"}`, 400, nil},
		{"not JSON", "/api/v1/alerts/A1/ack", `note=x`, 400, nil},
		{"two values", "/api/v1/alerts/A1/ack", `{} {}`, 400, nil},
		{"too large", "/api/v1/alerts/A1/ack", `{"note":"` + strings.Repeat("x", httpapi.MaxBody) + `"}`, 413, nil},
		{"unknown alert", "/api/v1/alerts/NOPE/ack", `{}`, 404, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			rec := f.do(t, req{method: "POST", path: tc.path, body: tc.body, role: auth.RoleOperator})
			if rec.Code != tc.code {
				t.Fatalf("= %d %s, want %d", rec.Code, rec.Body, tc.code)
			}
			calls := f.actor.list()
			switch {
			case tc.want == nil && len(calls) != 0:
				t.Errorf("actor called %+v", calls)
			case tc.want != nil && (len(calls) != 1 || calls[0] != *tc.want):
				t.Errorf("actor calls %+v, want %+v", calls, *tc.want)
			}
		})
	}
	// The actor failing: 400 for a bad action, 503 for Kafka.
	for _, tc := range []struct {
		err  error
		code int
	}{{errors.New("x: " + httpapi.ErrBadAction.Error()), 503}, {errors.Join(httpapi.ErrBadAction), 400}} {
		f := newFixture(t)
		f.actor.err = tc.err
		if rec := f.do(t, req{method: "POST", path: "/api/v1/alerts/A1/ack", body: `{}`, role: auth.RoleOperator}); rec.Code != tc.code {
			t.Errorf("actor error %v = %d, want %d", tc.err, rec.Code, tc.code)
		}
	}
}

// Per-token rate limit: 429 with Retry-After once the burst is spent, for
// reads and writes alike; another token is unaffected.
func TestRateLimit(t *testing.T) {
	f := newFixtureWith(t, fixtureOpts{rate: 1, burst: 3})
	for i := range 3 {
		if rec := f.do(t, req{path: "/api/v1/stations", role: auth.RoleViewer}); rec.Code != 200 {
			t.Fatalf("request %d = %d", i+1, rec.Code)
		}
	}
	rec := f.do(t, req{path: "/api/v1/stations", role: auth.RoleViewer})
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("over the burst = %d Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	if rec := f.do(t, req{path: "/api/v1/stations", role: auth.RoleOperator}); rec.Code != 200 {
		t.Fatalf("another token = %d", rec.Code)
	}
	if n := len(f.auditEntries()); n != 0 {
		t.Fatalf("%d audit entries for reads", n)
	}
}

func verifyPath(path string) (audit.Head, error) {
	l, err := audit.Open(path, audit.Options{})
	if err != nil {
		return audit.Head{}, err
	}
	defer l.Close()
	return l.Head(), nil
}

// An entry edited in the file shows at GET /api/v1/audit as a broken chain
// (503 naming the line), never as a page that looks intact.
func TestAuditEditedEntryShows(t *testing.T) {
	f := newFixture(t)
	for range 2 {
		if rec := f.do(t, req{method: "POST", path: "/api/v1/alerts/A1/ack", body: `{"note":"x"}`, role: auth.RoleOperator}); rec.Code != 202 {
			t.Fatalf("ack = %d", rec.Code)
		}
	}
	b, err := os.ReadFile(f.logPath)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(b), `"actor":"operator-user"`, `"actor":"someone-else"`, 1)
	if err := os.WriteFile(f.logPath, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	rec := f.do(t, req{path: "/api/v1/audit", role: auth.RoleAdmin})
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "broken at line 1") {
		t.Fatalf("= %d %s, want 503 naming line 1", rec.Code, rec.Body)
	}
}
