package compute

import "context"

// Role is a user's role, modelled on Azure ML's built-in roles.
type Role int

// The roles. They are not a ladder (Role.Includes, docs/design/security.md
// §5): DataScientist and ComputeOperator each include Reader but not each
// other, and Admin includes every role, so the numbers' order means nothing
// and roles are never compared with < or >. The numbers are stored
// (sessions, tokens): never renumber, only add.
const (
	RoleNone            Role = 0
	RoleReader          Role = 10 // sees everything, changes nothing
	RoleDataScientist   Role = 20 // submits and cancels runs, uses instances assigned to them
	RoleComputeOperator Role = 30 // creates, attaches, starts, stops and deletes compute
	RoleAdmin           Role = 40 // everything, including the audit log

	// RoleComputeUser is held by nobody: it is what a route needs when a
	// DataScientist (for their own instance) and a ComputeOperator (for any)
	// may both act, the handler checking the object.
	RoleComputeUser Role = 25
)

// String is the role's name as the token's roles claim spells it.
func (r Role) String() string {
	switch r {
	case RoleReader:
		return "Reader"
	case RoleDataScientist:
		return "DataScientist"
	case RoleComputeOperator:
		return "ComputeOperator"
	case RoleAdmin:
		return "Admin"
	case RoleComputeUser:
		return "DataScientist or ComputeOperator"
	}
	return "None"
}

// ParseRole reads a role name (as in the roles claim); unknown names are RoleNone.
func ParseRole(s string) Role {
	for _, r := range []Role{RoleReader, RoleDataScientist, RoleComputeOperator, RoleAdmin} {
		if r.String() == s {
			return r
		}
	}
	return RoleNone
}

// User is the signed-in person. ID is stable (tid/oid for Entra ID, "local"
// for the embedded login token); Name is for display only.
type User struct {
	ID   string
	Name string
	Role Role
	// RunID is set when the caller authenticated with a run's own tracking
	// token: it may then only make that run's tracking calls.
	RunID string
}

// Can reports whether the user's role includes want (see Role.Includes).
func (u *User) Can(want Role) bool { return u != nil && u.Role.Includes(want) }

// Includes reports whether a user with role r may do what a route or action
// that needs want allows. The roles are not a ladder (docs/design/security.md §5): a
// DataScientist and a ComputeOperator both include Reader, Admin includes
// everything, but neither of the two middle roles includes the other — an
// operator manages compute but submits no runs, a data scientist runs work
// but creates no compute.
func (r Role) Includes(want Role) bool {
	switch {
	case want == RoleNone || r == RoleAdmin:
		return true
	case want == RoleReader:
		return r == RoleReader || r == RoleDataScientist || r == RoleComputeOperator
	case want == RoleComputeUser:
		return r == RoleDataScientist || r == RoleComputeOperator
	}
	return r == want
}

type userKey struct{}

// WithUser returns a context carrying the signed-in user.
func WithUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFrom returns the signed-in user, or nil.
func UserFrom(ctx context.Context) *User {
	u, _ := ctx.Value(userKey{}).(*User)
	return u
}
