package auth

import (
	"fmt"
	"net/http"
	"strings"
)

// Role is an operator's role; roles are ordered, a higher one has every
// permission of a lower one.
type Role int

// The roles, lowest first. The zero Role is none (no permission).
const (
	RoleViewer Role = iota + 1
	RoleOperator
	RolePublisher
	RoleAdmin
)

// Roles lists the roles, lowest first.
func Roles() []Role { return []Role{RoleViewer, RoleOperator, RolePublisher, RoleAdmin} }

func (r Role) String() string {
	switch r {
	case RoleViewer:
		return "viewer"
	case RoleOperator:
		return "operator"
	case RolePublisher:
		return "publisher"
	case RoleAdmin:
		return "admin"
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// ParseRole reads a role name.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles() {
		if s == r.String() {
			return r, nil
		}
	}
	return 0, fmt.Errorf("%q is not a role (viewer, operator, publisher, admin)", s)
}

// Permission is what a route needs.
type Permission string

// The permissions.
const (
	// PermHealth: health and metrics; open on loopback, viewer elsewhere.
	PermHealth Permission = "health"
	// PermRead: read stations, readings, alerts.
	PermRead Permission = "read"
	// PermOperate: act on alerts (ack, resolve), silences.
	PermOperate Permission = "operate"
	// PermPublish: publish public warnings.
	PermPublish Permission = "publish"
	// PermAdmin: tokens, the audit log, configuration.
	PermAdmin Permission = "admin"
)

// Permissions lists every permission, from the least privileged.
func Permissions() []Permission {
	return []Permission{PermHealth, PermRead, PermOperate, PermPublish, PermAdmin}
}

// MinRole is the lowest role that has p; 0 for an unknown permission
// (which Allows refuses to every role).
func (p Permission) MinRole() Role {
	switch p {
	case PermHealth, PermRead:
		return RoleViewer
	case PermOperate:
		return RoleOperator
	case PermPublish:
		return RolePublisher
	case PermAdmin:
		return RoleAdmin
	}
	return 0
}

// Allows reports whether role r has permission p.
func (r Role) Allows(p Permission) bool {
	min := p.MinRole()
	return min != 0 && r >= min
}

// Route is one line of the permission table.
type Route struct {
	Method  string
	Pattern string // as net/http.ServeMux spells it, e.g. /api/v1/alerts/{id}
	Perm    Permission
}

// Routes is the permission table of the HTTP API: every route it serves or
// is about to serve (operator console, issue 9). A route missing here is
// refused by PermissionFor, so a new endpoint must be classified.
func Routes() []Route {
	return []Route{
		{http.MethodGet, "/healthz", PermHealth},
		{http.MethodGet, "/readyz", PermHealth},
		{http.MethodGet, "/metrics", PermHealth},
		{http.MethodGet, "/api/v1/stations", PermRead},
		{http.MethodGet, "/api/v1/readings", PermRead},
		{http.MethodGet, "/api/v1/alerts", PermRead},
		{http.MethodGet, "/api/v1/alerts/{id}", PermRead},
		{http.MethodPost, "/api/v1/alerts/{id}/ack", PermOperate},
		{http.MethodPost, "/api/v1/alerts/{id}/resolve", PermOperate},
		{http.MethodGet, "/api/v1/silences", PermRead},
		{http.MethodPost, "/api/v1/silences", PermOperate},
		{http.MethodDelete, "/api/v1/silences/{id}", PermOperate},
		{http.MethodPost, "/api/v1/warnings", PermPublish},
		{http.MethodGet, "/api/v1/audit", PermAdmin},
		{http.MethodGet, "/api/v1/tokens", PermAdmin},
		{http.MethodPost, "/api/v1/tokens", PermAdmin},
		{http.MethodDelete, "/api/v1/tokens/{name}", PermAdmin},
	}
}

// PermissionFor is the permission of (method, pattern) in Routes; ok is
// false for a route the table does not classify. pattern may also be a
// full ServeMux pattern "METHOD /path" (what http.Request.Pattern holds),
// in which case method is ignored.
func PermissionFor(method, pattern string) (p Permission, ok bool) {
	if m, path, found := strings.Cut(pattern, " "); found {
		method, pattern = m, path
	}
	for _, r := range Routes() {
		if r.Method == method && r.Pattern == pattern {
			return r.Perm, true
		}
	}
	return "", false
}
