package auth

import "fmt"

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
	// PermPublic: no token at all (the dashboard's assets, the public
	// warnings feed, the OpenAPI document).
	PermPublic Permission = "public"
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
	return []Permission{PermPublic, PermHealth, PermRead, PermOperate, PermPublish, PermAdmin}
}

// MinRole is the lowest role that has p; 0 for an unknown permission
// (which Allows refuses to every role).
func (p Permission) MinRole() Role {
	switch p {
	case PermPublic, PermHealth, PermRead:
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
