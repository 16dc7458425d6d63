package auth_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/resilience-project/resilience/internal/auth"
)

// Role × endpoint through a ServeMux wired the way the HTTP layer will
// wire it (every route of Routes behind Require(its permission)). The
// expected minimum role of each endpoint is written out here, independent
// of the table under test.
func TestRoutesRoleByEndpoint(t *testing.T) {
	secrets, toks := roleTokens(t)
	a := newAuth(t, toks, auth.Options{Rate: 1000, Burst: 1000})
	mux := http.NewServeMux()
	for _, r := range auth.Routes() {
		mux.Handle(r.Method+" "+r.Pattern, a.Require(r.Perm, echo))
	}
	tests := []struct {
		method, path string
		min          auth.Role
	}{
		{"GET", "/healthz", auth.RoleViewer},
		{"GET", "/readyz", auth.RoleViewer},
		{"GET", "/metrics", auth.RoleViewer},
		{"GET", "/api/v1/stations", auth.RoleViewer},
		{"GET", "/api/v1/readings", auth.RoleViewer},
		{"GET", "/api/v1/alerts", auth.RoleViewer},
		{"GET", "/api/v1/alerts/a1", auth.RoleViewer},
		{"POST", "/api/v1/alerts/a1/ack", auth.RoleOperator},
		{"POST", "/api/v1/alerts/a1/resolve", auth.RoleOperator},
		{"GET", "/api/v1/silences", auth.RoleViewer},
		{"POST", "/api/v1/silences", auth.RoleOperator},
		{"DELETE", "/api/v1/silences/s1", auth.RoleOperator},
		{"POST", "/api/v1/warnings", auth.RolePublisher},
		{"GET", "/api/v1/audit", auth.RoleAdmin},
		{"GET", "/api/v1/tokens", auth.RoleAdmin},
		{"POST", "/api/v1/tokens", auth.RoleAdmin},
		{"DELETE", "/api/v1/tokens/bob", auth.RoleAdmin},
	}
	if len(tests) != len(auth.Routes()) {
		t.Fatalf("%d endpoints tested, %d routes in the table: classify the new one here", len(tests), len(auth.Routes()))
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path+"/no token", func(t *testing.T) {
			if rec := do(mux, tt.method, tt.path, remote, ""); rec.Code != http.StatusUnauthorized {
				t.Fatalf("= %d, want 401", rec.Code)
			}
		})
		for _, role := range auth.Roles() {
			want := http.StatusOK
			if role < tt.min {
				want = http.StatusForbidden
			}
			t.Run(fmt.Sprintf("%s %s/%s", tt.method, tt.path, role), func(t *testing.T) {
				if rec := do(mux, tt.method, tt.path, remote, "Bearer "+secrets[role]); rec.Code != want {
					t.Fatalf("= %d %s, want %d", rec.Code, rec.Body, want)
				}
			})
		}
	}
}

func TestPermissionFor(t *testing.T) {
	tests := []struct {
		method, pattern string
		want            auth.Permission
		ok              bool
	}{
		{"POST", "/api/v1/alerts/{id}/ack", auth.PermOperate, true},
		{"", "POST /api/v1/alerts/{id}/ack", auth.PermOperate, true}, // http.Request.Pattern form
		{"GET", "/metrics", auth.PermHealth, true},
		{"GET", "/api/v1/alerts/{id}/ack", "", false},
		{"POST", "/api/v1/unknown", "", false},
	}
	for _, tt := range tests {
		p, ok := auth.PermissionFor(tt.method, tt.pattern)
		if p != tt.want || ok != tt.ok {
			t.Errorf("PermissionFor(%q, %q) = %q, %v; want %q, %v", tt.method, tt.pattern, p, ok, tt.want, tt.ok)
		}
	}
	seen := map[string]bool{}
	for _, r := range auth.Routes() {
		k := r.Method + " " + r.Pattern
		if seen[k] {
			t.Errorf("route %s twice in the table", k)
		}
		seen[k] = true
		if r.Perm.MinRole() == 0 {
			t.Errorf("route %s: unknown permission %q", k, r.Perm)
		}
	}
	if auth.RoleAdmin.Allows(auth.Permission("nonsense")) {
		t.Error("an unknown permission is allowed")
	}
}

func TestParseRole(t *testing.T) {
	for i, r := range auth.Roles() {
		got, err := auth.ParseRole(r.String())
		if err != nil || got != r {
			t.Errorf("ParseRole(%s) = %v, %v", r, got, err)
		}
		if i > 0 && !(auth.Roles()[i-1] < r) {
			t.Errorf("roles not ordered at %s", r)
		}
	}
	if _, err := auth.ParseRole("Admin"); err == nil {
		t.Error("ParseRole(Admin) accepted")
	}
}
