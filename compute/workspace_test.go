package compute

import "testing"

func TestWorkspaceCheck(t *testing.T) {
	ok := Workspace{Alias: "prod-ml", SubscriptionID: "34adfa4f-cedf-4dc0-ba29-b6d1a69ab345", ResourceGroup: "testrg123", Name: "workspaces123"}
	if err := ok.Check(); err != nil {
		t.Fatalf("a valid workspace: %v", err)
	}
	tests := []struct {
		field string
		edit  func(w *Workspace)
	}{
		{"alias", func(w *Workspace) { w.Alias = LocalWorkspace }},
		{"alias", func(w *Workspace) { w.Alias = "Has Space" }},
		{"alias", func(w *Workspace) { w.Alias = "../x" }},
		{"subscriptionId", func(w *Workspace) { w.SubscriptionID = "not-a-guid" }},
		{"resourceGroup", func(w *Workspace) { w.ResourceGroup = "ends." }},
		{"resourceGroup", func(w *Workspace) { w.ResourceGroup = "a/b" }},
		{"workspaceName", func(w *Workspace) { w.Name = "ab" }},
		{"workspaceName", func(w *Workspace) { w.Name = "x?y=1" }},
	}
	for _, tc := range tests {
		w := ok
		tc.edit(&w)
		var v *ValidationError
		if err := w.Check(); err == nil || !asValidation(err, &v) || v.For(tc.field) == "" {
			t.Errorf("%+v: err = %v, want a rule broken on %s", w, err, tc.field)
		}
	}
	if got, want := ok.ComputesID(), "/subscriptions/34adfa4f-cedf-4dc0-ba29-b6d1a69ab345/resourceGroups/testrg123/providers/Microsoft.MachineLearningServices/workspaces/workspaces123/computes"; got != want {
		t.Errorf("ComputesID = %q, want %q", got, want)
	}
}

func asValidation(err error, v **ValidationError) bool {
	ve, ok := err.(*ValidationError)
	*v = ve
	return ok
}
