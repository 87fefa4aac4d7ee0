package compute

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const (
	subA = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
	subB = "00000000-AAAA-bbbb-1111-FFFFFFFFFFFF" // GUIDs are hex, either case
)

func TestParseResourceIDValid(t *testing.T) {
	tests := []struct {
		in        string
		want      ResourceType
		canonical string // what String() renders
		sub, rg   string
		name      string
	}{
		{
			in:        "/subscriptions/" + subA + "/resourceGroups/rg-ml/providers/Microsoft.Compute/virtualMachines/gpu-vm1",
			want:      ResourceTypeVM,
			canonical: "/subscriptions/" + subA + "/resourceGroups/rg-ml/providers/Microsoft.Compute/virtualMachines/gpu-vm1",
			sub:       subA, rg: "rg-ml", name: "gpu-vm1",
		},
		{
			// ARM matches keywords regardless of case; String() spells them
			// canonically and keeps the user's names as typed.
			in:        "/SUBSCRIPTIONS/" + subB + "/resourcegroups/My_RG.(prod)/PROVIDERS/microsoft.compute/VIRTUALMACHINES/Box_01.a",
			want:      ResourceTypeVM,
			canonical: "/subscriptions/" + subB + "/resourceGroups/My_RG.(prod)/providers/Microsoft.Compute/virtualMachines/Box_01.a",
			sub:       subB, rg: "My_RG.(prod)", name: "Box_01.a",
		},
		{
			// A trailing slash (as pasted from some portals) is dropped.
			in:        "/subscriptions/" + subA + "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm/",
			want:      ResourceTypeVM,
			canonical: "/subscriptions/" + subA + "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm",
			sub:       subA, rg: "rg", name: "vm",
		},
		{
			in:        "/subscriptions/" + subA + "/resourceGroups/rg-hdi/providers/Microsoft.HDInsight/clusters/my-hdi",
			want:      ResourceTypeHDInsight,
			canonical: "/subscriptions/" + subA + "/resourceGroups/rg-hdi/providers/Microsoft.HDInsight/clusters/my-hdi",
			sub:       subA, rg: "rg-hdi", name: "my-hdi",
		},
		{
			in:        "/subscriptions/" + subA + "/ResourceGroups/rg-hdi/Providers/MICROSOFT.HDINSIGHT/Clusters/spark1",
			want:      ResourceTypeHDInsight,
			canonical: "/subscriptions/" + subA + "/resourceGroups/rg-hdi/providers/Microsoft.HDInsight/clusters/spark1",
			sub:       subA, rg: "rg-hdi", name: "spark1",
		},
		{
			// Resource group: 90 characters is the longest allowed.
			in:        "/subscriptions/" + subA + "/resourceGroups/" + strings.Repeat("r", 90) + "/providers/Microsoft.Compute/virtualMachines/vm",
			want:      ResourceTypeVM,
			canonical: "/subscriptions/" + subA + "/resourceGroups/" + strings.Repeat("r", 90) + "/providers/Microsoft.Compute/virtualMachines/vm",
			sub:       subA, rg: strings.Repeat("r", 90), name: "vm",
		},
	}
	for _, tt := range tests {
		id, err := ParseResourceID(tt.in, tt.want)
		if err != nil {
			t.Errorf("ParseResourceID(%q): %v", tt.in, err)
			continue
		}
		if got := id.String(); got != tt.canonical {
			t.Errorf("ParseResourceID(%q).String() = %q, want %q", tt.in, got, tt.canonical)
		}
		if id.Subscription != tt.sub || id.ResourceGroup != tt.rg || id.Name() != tt.name {
			t.Errorf("ParseResourceID(%q) = sub %q rg %q name %q, want %q %q %q",
				tt.in, id.Subscription, id.ResourceGroup, id.Name(), tt.sub, tt.rg, tt.name)
		}
		if id.Provider != tt.want.Provider || !reflect.DeepEqual(id.Types, tt.want.Types) {
			t.Errorf("ParseResourceID(%q) = provider %q types %q, want %q %q",
				tt.in, id.Provider, id.Types, tt.want.Provider, tt.want.Types)
		}
	}
}

func TestParseResourceIDInvalid(t *testing.T) {
	vm := func(sub, rg, rest string) string {
		return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/" + rest
	}
	tests := []struct {
		in      string
		want    ResourceType
		message string // the part of the error that says what is wrong
	}{
		{"", ResourceTypeVM, "a resource ID starts with /subscriptions/"},
		{"subscriptions/" + subA + "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm", ResourceTypeVM, "a resource ID starts with /subscriptions/"},
		{"10.0.0.4", ResourceTypeVM, "a resource ID starts with /subscriptions/"},

		// Wrong provider: an HDInsight cluster offered as a VM and vice versa.
		{vm(subA, "rg", "Microsoft.HDInsight/clusters/hdi"), ResourceTypeVM, `provider is "Microsoft.HDInsight", not Microsoft.Compute`},
		{vm(subA, "rg", "Microsoft.Compute/virtualMachines/vm"), ResourceTypeHDInsight, `provider is "Microsoft.Compute", not Microsoft.HDInsight`},
		{vm(subA, "rg", "Microsoft.ClassicCompute/virtualMachines/vm"), ResourceTypeVM, `provider is "Microsoft.ClassicCompute", not Microsoft.Compute`},

		// Wrong type under the right provider.
		{vm(subA, "rg", "Microsoft.Compute/disks/osdisk"), ResourceTypeVM, `resource type is "disks", not virtualMachines`},
		{vm(subA, "rg", "Microsoft.Compute/virtualMachineScaleSets/vmss"), ResourceTypeVM, `resource type is "virtualMachineScaleSets", not virtualMachines`},
		{vm(subA, "rg", "Microsoft.HDInsight/applications/app"), ResourceTypeHDInsight, `resource type is "applications", not clusters`},

		// Subscription must be a GUID.
		{vm("my-subscription", "rg", "Microsoft.Compute/virtualMachines/vm"), ResourceTypeVM, `subscription "my-subscription" is not a GUID`},
		{vm("3fa85f64571745 62b3fc2c963f66afa6", "rg", "Microsoft.Compute/virtualMachines/vm"), ResourceTypeVM, "is not a GUID"},
		{vm("3fa85f6457174562b3fc2c963f66afa6", "rg", "Microsoft.Compute/virtualMachines/vm"), ResourceTypeVM, "is not a GUID"}, // no dashes
		{vm("{"+subA+"}", "rg", "Microsoft.Compute/virtualMachines/vm"), ResourceTypeVM, "is not a GUID"},
		{vm("3fa85f64-5717-4562-b3fc-2c963f66afag", "rg", "Microsoft.Compute/virtualMachines/vm"), ResourceTypeVM, "is not a GUID"},
		{vm("", "rg", "Microsoft.Compute/virtualMachines/vm"), ResourceTypeVM, `subscription "" is not a GUID`},

		// Segment counts.
		{vm(subA, "rg", "Microsoft.Compute/virtualMachines"), ResourceTypeVM, "the ID has 7 segments, not 8"},
		{"/subscriptions/" + subA + "/resourceGroups/rg", ResourceTypeVM, "the ID has 4 segments, not 8"},
		{vm(subA, "rg", "Microsoft.Compute/virtualMachines/vm/extensions/ext"), ResourceTypeVM, "the ID has 10 segments, not 8"},
		{vm(subA, "rg", "Microsoft.Compute/virtualMachines/vm//"), ResourceTypeVM, "the ID has 9 segments, not 8"}, // only one trailing slash is forgiven
		{"/subscriptions/" + subA + "//resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm", ResourceTypeVM, "the ID has 9 segments, not 8"},

		// Keywords in the wrong place or misspelt.
		{"/subscription/" + subA + "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm", ResourceTypeVM, "the ID must read /subscriptions/…/resourceGroups/…/providers/…"},
		{"/subscriptions/" + subA + "/resourceGroup/rg/providers/Microsoft.Compute/virtualMachines/vm", ResourceTypeVM, "the ID must read"},
		{"/subscriptions/" + subA + "/resourceGroups/rg/provider/Microsoft.Compute/virtualMachines/vm", ResourceTypeVM, "the ID must read"},

		// Resource group names.
		{vm(subA, "rg.", "Microsoft.Compute/virtualMachines/vm"), ResourceTypeVM, `resource group "rg." is not a valid name`},
		{vm(subA, "my rg", "Microsoft.Compute/virtualMachines/vm"), ResourceTypeVM, `resource group "my rg" is not a valid name`},
		{vm(subA, "rg#1", "Microsoft.Compute/virtualMachines/vm"), ResourceTypeVM, `resource group "rg#1" is not a valid name`},
		{vm(subA, "", "Microsoft.Compute/virtualMachines/vm"), ResourceTypeVM, `resource group "" is not a valid name`},
		{vm(subA, strings.Repeat("r", 91), "Microsoft.Compute/virtualMachines/vm"), ResourceTypeVM, "is not a valid name"},

		// Resource names.
		{vm(subA, "rg", "Microsoft.Compute/virtualMachines/-vm"), ResourceTypeVM, `resource name "-vm" is not valid`},
		{vm(subA, "rg", "Microsoft.Compute/virtualMachines/vm!"), ResourceTypeVM, `resource name "vm!" is not valid`},
		{vm(subA, "rg", "Microsoft.HDInsight/clusters/"+strings.Repeat("h", 65)), ResourceTypeHDInsight, "is not valid"},
	}
	for _, tt := range tests {
		id, err := ParseResourceID(tt.in, tt.want)
		if err == nil {
			t.Errorf("ParseResourceID(%q) = %v, want an error", tt.in, id)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseResourceID(%q): %v does not match ErrInvalid", tt.in, err)
		}
		msg := err.Error()
		if !strings.Contains(msg, tt.message) {
			t.Errorf("ParseResourceID(%q) error = %q, want it to say %q", tt.in, msg, tt.message)
		}
		// Every error shows the shape the user should paste.
		if !strings.Contains(msg, "expected "+tt.want.Example) {
			t.Errorf("ParseResourceID(%q) error = %q, want it to show %q", tt.in, msg, tt.want.Example)
		}
		if !reflect.DeepEqual(id, ResourceID{}) {
			t.Errorf("ParseResourceID(%q) returned %+v with its error, want the zero ResourceID", tt.in, id)
		}
	}
}

func TestResourceIDNameOfZeroValue(t *testing.T) {
	if got := (ResourceID{}).Name(); got != "" {
		t.Errorf("ResourceID{}.Name() = %q, want empty", got)
	}
}

func FuzzParseResourceID(f *testing.F) {
	for _, s := range []string{
		"/subscriptions/" + subA + "/resourceGroups/rg-ml/providers/Microsoft.Compute/virtualMachines/gpu-vm1",
		"/SUBSCRIPTIONS/" + subB + "/resourcegroups/My_RG.(prod)/PROVIDERS/microsoft.compute/VIRTUALMACHINES/Box_01.a/",
		"/subscriptions/" + subA + "/resourceGroups/rg-hdi/providers/Microsoft.HDInsight/clusters/my-hdi",
		"/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm",
		"/subscriptions/" + subA + "/resourceGroups/rg./providers/Microsoft.Compute/virtualMachines/vm",
		"/subscriptions/" + subA + "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm/extensions/e",
		"/", "//", "", "/subscriptions", "/subscriptions/" + subA + "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, hdi bool) {
		want := ResourceTypeVM
		if hdi {
			want = ResourceTypeHDInsight
		}
		id, err := ParseResourceID(s, want)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseResourceID(%q): %v does not match ErrInvalid", s, err)
			}
			return
		}
		if id.Name() == "" {
			t.Fatalf("ParseResourceID(%q) accepted an ID with no name: %+v", s, id)
		}
		canon := id.String()
		again, err := ParseResourceID(canon, want)
		if err != nil {
			t.Fatalf("ParseResourceID(%q).String() = %q does not parse again: %v", s, canon, err)
		}
		if !reflect.DeepEqual(again, id) {
			t.Fatalf("re-parsing %q gave %+v, want %+v", canon, again, id)
		}
		if again.String() != canon {
			t.Fatalf("String() is not stable: %q then %q", canon, again.String())
		}
		// Canonicalising changes only the spelling of keywords and drops a
		// trailing slash; it never changes which resource is meant.
		if !strings.EqualFold(canon, strings.TrimSuffix(s, "/")) {
			t.Fatalf("ParseResourceID(%q).String() = %q names a different resource", s, canon)
		}
		if id.Provider != want.Provider || !reflect.DeepEqual(id.Types, want.Types) {
			t.Fatalf("ParseResourceID(%q) = provider %q types %q, want %q %q", s, id.Provider, id.Types, want.Provider, want.Types)
		}
	})
}
