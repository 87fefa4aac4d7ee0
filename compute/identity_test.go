package compute

import "testing"

// TestRoleIncludes pins the role matrix of docs/design/security.md §5: the two middle
// roles are not a ladder.
func TestRoleIncludes(t *testing.T) {
	roles := []Role{RoleReader, RoleDataScientist, RoleComputeOperator, RoleAdmin}
	want := map[Role][]Role{ // route requirement → roles that meet it
		RoleNone:            roles,
		RoleReader:          roles,
		RoleDataScientist:   {RoleDataScientist, RoleAdmin},
		RoleComputeOperator: {RoleComputeOperator, RoleAdmin},
		RoleComputeUser:     {RoleDataScientist, RoleComputeOperator, RoleAdmin},
		RoleAdmin:           {RoleAdmin},
	}
	for need, allowed := range want {
		for _, have := range roles {
			ok := false
			for _, a := range allowed {
				ok = ok || a == have
			}
			if got := have.Includes(need); got != ok {
				t.Errorf("%s.Includes(%s) = %v, want %v", have, need, got, ok)
			}
		}
	}
	if (*User)(nil).Can(RoleReader) {
		t.Error("no user can do anything")
	}
	if ParseRole("ComputeOperator") != RoleComputeOperator || ParseRole("Owner") != RoleNone {
		t.Error("ParseRole")
	}
}
