package compute

import "context"

// Role is a user's role, modelled on Azure ML's built-in roles.
type Role int

// The roles, each allowed everything the ones before it may do. The numbers
// are stored (sessions, tokens): never renumber, only add.
const (
	RoleNone            Role = 0
	RoleReader          Role = 10 // sees everything, changes nothing
	RoleDataScientist   Role = 20 // submits and cancels runs, uses instances assigned to them
	RoleComputeOperator Role = 30 // creates, attaches, starts, stops and deletes compute
	RoleAdmin           Role = 40 // everything, including the audit log
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

// Can reports whether the user's role is at least want.
func (u *User) Can(want Role) bool { return u != nil && u.Role >= want }

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
