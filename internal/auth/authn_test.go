package auth_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/resilience-project/resilience/internal/auth"
)

const remote = "192.0.2.10:40000" // not loopback

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// roleTokens is one token per role, named after it.
func roleTokens(t *testing.T) (map[auth.Role]string, []auth.Token) {
	t.Helper()
	secrets := map[auth.Role]string{}
	var yaml strings.Builder
	for _, r := range auth.Roles() {
		tok, hash, err := auth.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		secrets[r] = tok
		fmt.Fprintf(&yaml, "- {name: %s, role: %s, token_hash: %s, created: 2026-10-14T08:00:00Z}\n", r, r, hash)
	}
	toks, err := auth.Parse([]byte(yaml.String()), "tokens.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return secrets, toks
}

func newAuth(t *testing.T, toks []auth.Token, o auth.Options) *auth.Authenticator {
	t.Helper()
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := auth.New(toks, o)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// echo answers 200 with the principal's name.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	p, ok := auth.FromContext(r.Context())
	fmt.Fprintf(w, "%s %v", p.Name, ok)
})

func do(h http.Handler, method, path, from, authz string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	req.RemoteAddr = from
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// Every role against every permission, from a non-loopback client.
func TestRequireRoleByPermission(t *testing.T) {
	secrets, toks := roleTokens(t)
	a := newAuth(t, toks, auth.Options{Rate: 1000, Burst: 1000})
	allowed := map[auth.Role][]auth.Permission{
		auth.RoleViewer:    {auth.PermPublic, auth.PermHealth, auth.PermRead},
		auth.RoleOperator:  {auth.PermPublic, auth.PermHealth, auth.PermRead, auth.PermOperate},
		auth.RolePublisher: {auth.PermPublic, auth.PermHealth, auth.PermRead, auth.PermOperate, auth.PermPublish},
		auth.RoleAdmin:     {auth.PermPublic, auth.PermHealth, auth.PermRead, auth.PermOperate, auth.PermPublish, auth.PermAdmin},
	}
	for _, role := range auth.Roles() {
		for _, perm := range auth.Permissions() {
			want := http.StatusForbidden
			for _, p := range allowed[role] {
				if p == perm {
					want = http.StatusOK
				}
			}
			t.Run(fmt.Sprintf("%s/%s", role, perm), func(t *testing.T) {
				rec := do(a.Require(perm, echo), "GET", "/x", remote, "Bearer "+secrets[role])
				if rec.Code != want {
					t.Fatalf("%s with %s = %d %s, want %d", role, perm, rec.Code, rec.Body, want)
				}
				if want == http.StatusOK && perm != auth.PermPublic && rec.Body.String() != role.String()+" true" {
					t.Fatalf("handler saw principal %q, want %s", rec.Body, role)
				}
				if got := role.Allows(perm); got != (want == http.StatusOK) {
					t.Fatalf("Allows = %v, disagrees with the table", got)
				}
			})
		}
	}
}

// Unauthenticated requests against every permission.
func TestRequireUnauthenticated(t *testing.T) {
	secrets, toks := roleTokens(t)
	reg := prometheus.NewRegistry()
	a := newAuth(t, toks, auth.Options{Registerer: reg})
	tests := []struct {
		name      string
		from      string
		authz     string
		perm      auth.Permission
		wantCode  int
		wantChall string // WWW-Authenticate
	}{
		{"no token", remote, "", auth.PermRead, 401, `Bearer realm="resilience"`},
		{"no token, admin route", remote, "", auth.PermAdmin, 401, `Bearer realm="resilience"`},
		{"basic scheme", remote, "Basic YWxhZGRpbjpvcGVuc2VzYW1l", auth.PermRead, 401, `Bearer realm="resilience"`},
		{"empty bearer", remote, "Bearer ", auth.PermRead, 401, `Bearer realm="resilience"`},
		{"bad token", remote, "Bearer rsl_nope", auth.PermRead, 401, `Bearer realm="resilience", error="invalid_token"`},
		{"token hash as token", remote, "Bearer " + auth.HashToken(secrets[auth.RoleAdmin]), auth.PermRead, 401, `Bearer realm="resilience", error="invalid_token"`},
		{"huge token", remote, "Bearer " + strings.Repeat("a", 10000), auth.PermRead, 401, `Bearer realm="resilience", error="invalid_token"`},
		{"bad token, health from outside", remote, "Bearer rsl_nope", auth.PermHealth, 401, `Bearer realm="resilience", error="invalid_token"`},
		{"health from outside", remote, "", auth.PermHealth, 401, `Bearer realm="resilience"`},
		{"health from loopback", "127.0.0.1:5000", "", auth.PermHealth, 200, ""},
		{"health from IPv6 loopback", "[::1]:5000", "", auth.PermHealth, 200, ""},
		{"read from loopback", "127.0.0.1:5000", "", auth.PermRead, 401, `Bearer realm="resilience"`},
		{"lower-case scheme", remote, "bearer " + secrets[auth.RoleViewer], auth.PermRead, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(a.Require(tt.perm, echo), "GET", "/x", tt.from, tt.authz)
			if rec.Code != tt.wantCode || rec.Header().Get("WWW-Authenticate") != tt.wantChall {
				t.Fatalf("= %d WWW-Authenticate %q, want %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"), tt.wantCode, tt.wantChall)
			}
		})
	}
	for outcome, want := range map[string]float64{"open_loopback": 2, "no_token": 6, "invalid_token": 4, "ok": 1, "forbidden": 0} {
		if got := outcomeCount(t, reg, outcome); got != want {
			t.Errorf("resilience_auth_requests_total{outcome=%q} = %v, want %v", outcome, got, want)
		}
	}
}

func TestRequireRateLimit(t *testing.T) {
	secrets, toks := roleTokens(t)
	clock := &fakeClock{t: time.Date(2026, 10, 14, 8, 0, 0, 0, time.UTC)}
	reg := prometheus.NewRegistry()
	a := newAuth(t, toks, auth.Options{Rate: 0.5, Burst: 2, Now: clock.Now, Registerer: reg})
	h := a.Require(auth.PermRead, echo)
	viewer := "Bearer " + secrets[auth.RoleViewer]
	for i := range 2 {
		if rec := do(h, "GET", "/x", remote, viewer); rec.Code != 200 {
			t.Fatalf("request %d within the burst = %d", i+1, rec.Code)
		}
	}
	rec := do(h, "GET", "/x", remote, viewer)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "2" {
		t.Fatalf("over the burst = %d Retry-After %q, want 429 and 2 (one request per 2 s)", rec.Code, rec.Header().Get("Retry-After"))
	}
	// Another token has its own bucket.
	if rec := do(h, "GET", "/x", remote, "Bearer "+secrets[auth.RoleAdmin]); rec.Code != 200 {
		t.Fatalf("another token = %d, want 200", rec.Code)
	}
	// A forbidden request of a limited token is still limited (the limit
	// comes before the role check).
	if rec := do(a.Require(auth.PermAdmin, echo), "GET", "/x", remote, viewer); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("limited token on a forbidden route = %d, want 429", rec.Code)
	}
	clock.Add(1500 * time.Millisecond)
	rec = do(h, "GET", "/x", remote, viewer)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("after 1.5 s = %d Retry-After %q, want 429 and 1 (0.5 s left, rounded up)", rec.Code, rec.Header().Get("Retry-After"))
	}
	clock.Add(500 * time.Millisecond)
	if rec := do(h, "GET", "/x", remote, viewer); rec.Code != 200 {
		t.Fatalf("after the refill = %d, want 200", rec.Code)
	}
	if got := outcomeCount(t, reg, "rate_limited"); got != 3 {
		t.Errorf("rate_limited = %v, want 3", got)
	}
}

func TestNewRejectsBadRate(t *testing.T) {
	for _, o := range []auth.Options{{Rate: -1}, {Burst: -1}} {
		if _, err := auth.New(nil, o); err == nil {
			t.Errorf("New(%+v) = nil error", o)
		}
	}
}

// outcomeCount reads resilience_auth_requests_total{outcome} from reg.
func outcomeCount(t *testing.T, reg *prometheus.Registry, outcome string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "resilience_auth_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == outcome {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no resilience_auth_requests_total{outcome=%q} in the registry", outcome)
	return 0
}
