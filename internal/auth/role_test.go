package auth_test

import (
	"net/http"
	"testing"

	"github.com/resilience-project/resilience/internal/auth"
)

// PermPublic needs no token, and an unknown permission is refused to
// every role.
func TestPermPublicAndUnknown(t *testing.T) {
	_, toks := roleTokens(t)
	a := newAuth(t, toks, auth.Options{Rate: 1000, Burst: 1000})
	for _, authz := range []string{"", "Bearer rsl_nope"} {
		if rec := do(a.Require(auth.PermPublic, echo), "GET", "/x", remote, authz); rec.Code != http.StatusOK || rec.Body.String() != " false" {
			t.Errorf("public route with authorization %q = %d %q, want 200 unauthenticated", authz, rec.Code, rec.Body)
		}
	}
	if auth.RoleAdmin.Allows(auth.Permission("nonsense")) {
		t.Error("an unknown permission is allowed")
	}
	for _, r := range auth.Roles() {
		if !r.Allows(auth.PermPublic) {
			t.Errorf("%s lacks PermPublic", r)
		}
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
