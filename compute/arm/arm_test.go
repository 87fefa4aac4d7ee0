package arm

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
)

const (
	testPassword   = "s3cret-Pa55word"
	testPrivateKey = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAAprivate\n-----END OPENSSH PRIVATE KEY-----\n"
	testPassphrase = "open-sesame-phrase"
	testToken      = "dapi0123456789abcdef-token"
	testJWTKey     = "and0LXNpZ25pbmcta2V5LW1hdGVyaWFs" // base64 of the key bytes
	testPublicKey  = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPublicKeyMaterial user@host"
	hdiResourceID  = "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg1/providers/Microsoft.HDInsight/clusters/myhdi"
)

// created is when every test target was made.
func created() time.Time { return time.Date(2026, 11, 27, 13, 39, 0, 0, time.UTC) }

// requests returns one valid create request per creatable kind, with every
// secret that kind takes.
func requests() []*compute.CreateRequest {
	return []*compute.CreateRequest{
		{Name: "cpu-cluster", Kind: compute.KindCluster, Description: "seed cluster", Location: "westeurope",
			Cluster: &compute.ClusterSpec{VMSize: "STANDARD_D2_V2", VMPriority: "lowpriority", MaxNodes: 4, MinNodes: 1,
				IdleSecondsBeforeScaleDown: 300, AdminUserName: "azureuser", SSHPublicKey: testPublicKey,
				IdentityType: "UserAssigned", UserAssignedIdentity: "/subscriptions/x/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/me"},
			Secrets: map[string]string{compute.SecretAdminPassword: testPassword}},
		{Name: "ci-alice", Kind: compute.KindInstance,
			Instance: &compute.InstanceSpec{VMSize: "Standard_DS3_v2", IdleShutdownMinutes: 30, SSHEnabled: true, SSHPublicKey: testPublicKey,
				Schedules: []compute.Schedule{{Action: "Stop", Time: "19:30", TimeZone: "Europe/Stockholm", Days: []string{"Monday", "Friday"}}}}},
		{Name: "dsvm", Kind: compute.KindVirtualMachine,
			Attach:  &compute.AttachSpec{Address: "10.0.0.4", SSHPort: 2222, UserName: "azureuser"},
			Secrets: map[string]string{compute.SecretPassword: testPassword, compute.SecretPrivateKey: testPrivateKey, compute.SecretPassphrase: testPassphrase}},
		{Name: "myhdi", Kind: compute.KindHDInsight, ResourceID: hdiResourceID,
			Attach:  &compute.AttachSpec{UserName: "sshuser"},
			Secrets: map[string]string{compute.SecretPassword: testPassword}},
		{Name: "dbx", Kind: compute.KindDatabricks,
			Attach:  &compute.AttachSpec{Workspace: "my-workspace", ResourceGroup: "rg-dbx"},
			Secrets: map[string]string{compute.SecretAccessToken: testToken}},
		{Name: "adla", Kind: compute.KindDataLakeAnalytics, Attach: &compute.AttachSpec{AccountName: "adlaaccount", ResourceGroup: "rg-adla"}},
		{Name: "batch", Kind: compute.KindBatch, Attach: &compute.AttachSpec{AccountName: "batchaccount", ResourceGroup: "rg-batch"}},
		{Name: "slurm", Kind: compute.KindSlurm,
			Attach:  &compute.AttachSpec{RESTURL: "http://slurm-head:6820", SlurmUser: "trainer", SlurmPartition: "gpu", SharedDir: "/shared/trainyard"},
			Secrets: map[string]string{compute.SecretSlurmToken: testToken, SecretSlurmJWTKey: testJWTKey}},
	}
}

// targetFrom builds a target from a validated request the way a store does:
// specs copied, secrets kept apart with only their names on the target.
func targetFrom(t *testing.T, req *compute.CreateRequest) *compute.Target {
	t.Helper()
	if err := req.Validate(); err != nil {
		t.Fatalf("request %s does not validate: %v", req.Name, err)
	}
	tg := &compute.Target{
		Name: req.Name, Kind: req.Kind, Description: req.Description, Location: req.Location,
		ProvisioningState: compute.ProvisioningSucceeded, CreatedAt: created(), ModifiedAt: created(),
		ResourceID: req.ResourceID, Cluster: req.Cluster, Instance: req.Instance, Attach: req.Attach,
	}
	for k := range req.Secrets {
		tg.SecretsSet = append(tg.SecretsSet, k)
	}
	if tg.Kind == compute.KindInstance {
		tg.Instance.State = compute.InstanceRunning
	}
	return tg
}

// get reads a dotted path out of JSON.
func get(t *testing.T, data []byte, path string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func TestNoSecretIsRendered(t *testing.T) {
	secrets := []string{testPassword, testPrivateKey, "OPENSSH PRIVATE", testPassphrase, testToken, testJWTKey, "PublicKeyMaterial"}
	for _, req := range requests() {
		t.Run(string(req.Kind), func(t *testing.T) {
			data, err := json.Marshal(FromTarget(targetFrom(t, req), ""))
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range secrets {
				if strings.Contains(string(data), s) {
					t.Errorf("rendered JSON contains secret %q: %s", s, data)
				}
			}
			for _, key := range []string{`"password"`, `"privateKeyData"`, `"privateKeyPassphrase"`, `"databricksAccessToken"`, `"token"`, `"jwtKey"`, `"adminUserPassword"`, `"adminUserSshPublicKey"`, `"adminPublicKey"`} {
				if strings.Contains(string(data), key) {
					t.Errorf("rendered JSON has secret field %s: %s", key, data)
				}
			}
		})
	}
}

// TestRoundTrip renders each kind, decodes the JSON as a PUT body and checks
// that the request carries the same spec (less what is write-only).
func TestRoundTrip(t *testing.T) {
	for _, req := range requests() {
		t.Run(string(req.Kind), func(t *testing.T) {
			tg := targetFrom(t, req)
			data, err := json.Marshal(FromTarget(tg, DefaultIDPrefix))
			if err != nil {
				t.Fatal(err)
			}
			c, err := DecodeCompute(strings.NewReader(string(data)))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			back, err := ToCreateRequest(req.Name, c)
			if tg.Kind.IsAttached() || tg.Kind == compute.KindCluster && req.Secrets != nil {
				// Write-only secrets are not rendered, so validation must miss them.
				if back == nil {
					t.Fatalf("no request back: %v", err)
				}
			} else if err != nil {
				t.Fatalf("ToCreateRequest: %v", err)
			}
			if back.Kind != req.Kind || back.Name != req.Name || back.Description != req.Description || back.Location != req.Location || back.ResourceID != req.ResourceID {
				t.Errorf("base fields: got %+v, want %+v", back, req)
			}
			if len(back.Secrets) != 0 {
				t.Errorf("secrets came back from rendered JSON: %v", back.Secrets)
			}
			switch {
			case req.Cluster != nil:
				want := *req.Cluster
				want.SSHPublicKey = "" // write-only
				if !reflect.DeepEqual(*back.Cluster, want) {
					t.Errorf("cluster:\n got %+v\nwant %+v", *back.Cluster, want)
				}
			case req.Instance != nil:
				want := *req.Instance
				want.SSHPublicKey, want.State = "", "" // write-only, read-only
				if !reflect.DeepEqual(*back.Instance, want) {
					t.Errorf("instance:\n got %+v\nwant %+v", *back.Instance, want)
				}
			case req.Attach != nil:
				if !reflect.DeepEqual(*back.Attach, *req.Attach) {
					t.Errorf("attach:\n got %+v\nwant %+v", *back.Attach, *req.Attach)
				}
			}
		})
	}
}

func TestFromTargetShape(t *testing.T) {
	req := requests()[0]
	tg := targetFrom(t, req)
	tg.Nodes = compute.NodeCounts{Current: 3, Idle: 1, Running: 2}
	tg.ProvisioningErrors = []string{"OutOfQuota: Not enough cluster CPU quota.", "something broke"}
	data, err := json.Marshal(FromTarget(tg, DefaultIDPrefix+"/"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"id":                                  DefaultIDPrefix + "/cpu-cluster",
		"name":                                "cpu-cluster",
		"type":                                ResourceType,
		"location":                            "westeurope",
		"identity.type":                       "UserAssigned",
		"properties.computeType":              "AmlCompute",
		"properties.provisioningState":        "Succeeded",
		"properties.createdOn":                "2026-11-27T13:39:00Z",
		"properties.isAttachedCompute":        false,
		"properties.provisioningErrors":       []any{map[string]any{"error": map[string]any{"code": "OutOfQuota", "message": "OutOfQuota: Not enough cluster CPU quota."}}, map[string]any{"error": map[string]any{"code": "ProvisioningFailed", "message": "something broke"}}},
		"properties.properties.vmSize":        "Standard_D2_v2",
		"properties.properties.vmPriority":    "LowPriority",
		"properties.properties.osType":        "Linux",
		"properties.properties.scaleSettings": map[string]any{"maxNodeCount": 4.0, "minNodeCount": 1.0, "nodeIdleTimeBeforeScaleDown": "PT300S"},
		"properties.properties.userAccountCredentials":           map[string]any{"adminUserName": "azureuser"},
		"properties.properties.currentNodeCount":                 3.0,
		"properties.properties.nodeStateCounts.runningNodeCount": 2.0,
	}
	for path, w := range want {
		if got := get(t, data, path); !reflect.DeepEqual(got, w) {
			t.Errorf("%s = %#v, want %#v", path, got, w)
		}
	}

	// Attached and local kinds.
	for _, tc := range []struct {
		tg   *compute.Target
		want map[string]any
	}{
		{&compute.Target{Name: "local", Kind: compute.KindLocal, ProvisioningState: compute.ProvisioningSucceeded},
			map[string]any{"properties.computeType": "Local", "properties.properties": nil, "properties.createdOn": nil}},
		{&compute.Target{Name: "vm", Kind: compute.KindVirtualMachine, Attach: &compute.AttachSpec{Address: "vm.example.com", SSHPort: 22, UserName: "u", StatusMessage: "host key pinned", Checked: true}},
			map[string]any{"properties.isAttachedCompute": true, "properties.properties.address": "vm.example.com",
				"properties.properties.administratorAccount": map[string]any{"username": "u"}, "properties.properties.checked": true,
				"properties.properties.statusMessage": "host key pinned"}},
		{&compute.Target{Name: "dbx", Kind: compute.KindDatabricks, Attach: &compute.AttachSpec{Workspace: "ws", ResourceGroup: "rg"}},
			map[string]any{"properties.properties.workspaceName": "ws", "properties.properties.checked": false}},
		{&compute.Target{Name: "ci", Kind: compute.KindInstance, Instance: &compute.InstanceSpec{VMSize: "Standard_DS3_v2", State: compute.InstanceStopped, IdleShutdownMinutes: 30, AssignedUser: "tid-1/oid-2"},
			LastOperation: compute.Operation{Name: "Stop", Status: "Succeeded", Trigger: "IdleShutdown", Time: created()}},
			map[string]any{"properties.properties.state": "Stopped", "properties.properties.idleTimeBeforeShutdown": "PT30M",
				"properties.properties.sshSettings.sshPublicAccess":                  "Disabled",
				"properties.properties.lastOperation.operationTrigger":               "IdleShutdown",
				"properties.properties.personalComputeInstanceSettings.assignedUser": map[string]any{"objectId": "oid-2", "tenantId": "tid-1"},
				"properties.properties.computeInstanceAuthorizationType":             "personal"}},
	} {
		data, err := json.Marshal(FromTarget(tc.tg, ""))
		if err != nil {
			t.Fatal(err)
		}
		for path, w := range tc.want {
			if got := get(t, data, path); !reflect.DeepEqual(got, w) {
				t.Errorf("%s: %s = %#v, want %#v", tc.tg.Kind, path, got, w)
			}
		}
	}
}

// TestToCreateRequestBodies decodes hand-written PUT bodies, secrets included.
func TestToCreateRequestBodies(t *testing.T) {
	tests := []struct {
		name string
		body string
		want *compute.CreateRequest
	}{
		{"seed cluster", `{"properties":{"computeType":"AmlCompute","properties":{"vmSize":"STANDARD_D2_V2","vmPriority":"LowPriority","scaleSettings":{"maxNodeCount":4,"minNodeCount":0,"nodeIdleTimeBeforeScaleDown":"PT2M"},"userAccountCredentials":{"adminUserName":"azureuser","adminUserPassword":"` + testPassword + `"}}},"identity":{"type":"SystemAssigned"}}`,
			&compute.CreateRequest{Name: "cpu-cluster", Kind: compute.KindCluster,
				Cluster: &compute.ClusterSpec{VMSize: "Standard_D2_v2", VMPriority: compute.LowPriority, VMType: "CPU", MaxNodes: 4, IdleSecondsBeforeScaleDown: 120, AdminUserName: "azureuser", IdentityType: "SystemAssigned"},
				Secrets: map[string]string{compute.SecretAdminPassword: testPassword}}},
		{"cluster defaults, lower-case type", `{"location":"eastus","properties":{"computeType":"amlcompute","properties":{"vmSize":"Standard_NC6","scaleSettings":{"maxNodeCount":2}}}}`,
			&compute.CreateRequest{Name: "cpu-cluster", Kind: compute.KindCluster, Location: "eastus",
				Cluster: &compute.ClusterSpec{VMSize: "Standard_NC6", VMPriority: compute.Dedicated, VMType: "GPU", MaxNodes: 2, IdleSecondsBeforeScaleDown: 120}}},
		{"instance for another user", `{"properties":{"computeType":"ComputeInstance","properties":{"vmSize":"Standard_DS3_v2","idleTimeBeforeShutdown":"PT1H","sshSettings":{"sshPublicAccess":"Enabled"},"personalComputeInstanceSettings":{"assignedUser":{"objectId":"oid","tenantId":"tid"}},"schedules":{"computeStartStop":[{"action":"Start","triggerType":"Recurrence","recurrence":{"frequency":"Day","interval":1,"schedule":{"hours":[8],"minutes":[5]}}}]}}}}`,
			&compute.CreateRequest{Name: "cpu-cluster", Kind: compute.KindInstance,
				Instance: &compute.InstanceSpec{VMSize: "Standard_DS3_v2", VMType: "", IdleShutdownMinutes: 60, SSHEnabled: true, AdminUserName: "azureuser", AssignedUser: "tid/oid",
					Schedules: []compute.Schedule{{Action: "Start", Time: "08:05", Days: []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}}}}}},
		{"vm with key", `{"properties":{"computeType":"VirtualMachine","resourceId":"","properties":{"address":"vm.example.com","administratorAccount":{"username":"azureuser","privateKeyData":` + mustJSON(testPrivateKey) + `,"privateKeyPassphrase":"` + testPassphrase + `"}}}}`,
			&compute.CreateRequest{Name: "cpu-cluster", Kind: compute.KindVirtualMachine,
				Attach:  &compute.AttachSpec{Address: "vm.example.com", SSHPort: 22, UserName: "azureuser"},
				Secrets: map[string]string{compute.SecretPrivateKey: testPrivateKey, compute.SecretPassphrase: testPassphrase}}},
		{"hdinsight by resource id", `{"properties":{"computeType":"HDInsight","resourceId":"` + hdiResourceID + `","properties":{"sshPort":22,"administratorAccount":{"username":"sshuser","password":"` + testPassword + `"}}}}`,
			&compute.CreateRequest{Name: "cpu-cluster", Kind: compute.KindHDInsight, ResourceID: hdiResourceID,
				Attach:  &compute.AttachSpec{Address: "myhdi-ssh.azurehdinsight.net", SSHPort: 22, UserName: "sshuser"},
				Secrets: map[string]string{compute.SecretPassword: testPassword}}},
		{"databricks", `{"properties":{"computeType":"Databricks","properties":{"workspaceName":"ws","resourceGroup":"rg","databricksAccessToken":"` + testToken + `"}}}`,
			&compute.CreateRequest{Name: "cpu-cluster", Kind: compute.KindDatabricks, Attach: &compute.AttachSpec{Workspace: "ws", ResourceGroup: "rg"},
				Secrets: map[string]string{compute.SecretAccessToken: testToken}}},
		{"adla", `{"properties":{"computeType":"DataLakeAnalytics","properties":{"dataLakeStoreAccountName":"adla1","resourceGroup":"rg"}}}`,
			&compute.CreateRequest{Name: "cpu-cluster", Kind: compute.KindDataLakeAnalytics, Attach: &compute.AttachSpec{AccountName: "adla1", ResourceGroup: "rg"}}},
		{"batch", `{"properties":{"computeType":"AzureBatch","properties":{"accountName":"batch1","resourceGroup":"rg"}}}`,
			&compute.CreateRequest{Name: "cpu-cluster", Kind: compute.KindBatch, Attach: &compute.AttachSpec{AccountName: "batch1", ResourceGroup: "rg"}}},
		{"slurm", `{"properties":{"computeType":"Slurm","properties":{"restUrl":"https://slurm:6820","user":"u","token":"` + testToken + `","jwtKey":"` + testJWTKey + `"}}}`,
			&compute.CreateRequest{Name: "cpu-cluster", Kind: compute.KindSlurm, Attach: &compute.AttachSpec{RESTURL: "https://slurm:6820", SlurmUser: "u"},
				Secrets: map[string]string{compute.SecretSlurmToken: testToken, SecretSlurmJWTKey: testJWTKey}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := DecodeCompute(strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			got, err := ToCreateRequest("cpu-cluster", c)
			if err != nil {
				t.Fatalf("ToCreateRequest: %v", err)
			}
			if tc.want.Instance != nil && got.Instance != nil {
				tc.want.Instance.VMType = got.Instance.VMType // derived by Validate
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", describe(got), describe(tc.want))
			}
		})
	}
}

func mustJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func describe(r *compute.CreateRequest) string {
	b, _ := json.Marshal(r)
	return string(b)
}

// TestToCreateRequestErrors checks which field each broken body is blamed on.
func TestToCreateRequestErrors(t *testing.T) {
	tests := []struct {
		name, body string
		wantFields []string // field errors, in order
		wantTarget string   // for a *RequestError instead
	}{
		{"no compute type", `{"properties":{}}`, []string{FieldComputeType}, ""},
		{"unknown compute type", `{"properties":{"computeType":"AKS","properties":{"agentCount":3}}}`, []string{FieldComputeType}, ""},
		{"local", `{"properties":{"computeType":"Local"}}`, []string{FieldComputeType}, ""},
		{"name mismatch", `{"name":"other","properties":{"computeType":"AmlCompute","properties":{"vmSize":"Standard_D2_v2","scaleSettings":{"maxNodeCount":1}}}}`, []string{compute.FieldName}, ""},
		{"negative max nodes", `{"properties":{"computeType":"AmlCompute","properties":{"vmSize":"STANDARD_D2_V2","scaleSettings":{"maxNodeCount":-1}}}}`, []string{compute.FieldMaxNodes}, ""},
		{"missing everything", `{"properties":{"computeType":"AmlCompute"}}`, []string{compute.FieldVMSize, compute.FieldMaxNodes}, ""},
		{"bad duration reported once", `{"properties":{"computeType":"AmlCompute","properties":{"vmSize":"Standard_D2_v2","scaleSettings":{"maxNodeCount":1,"nodeIdleTimeBeforeScaleDown":"2 minutes"}}}}`, []string{compute.FieldIdleSeconds}, ""},
		{"fractional seconds", `{"properties":{"computeType":"AmlCompute","properties":{"vmSize":"Standard_D2_v2","scaleSettings":{"maxNodeCount":1,"nodeIdleTimeBeforeScaleDown":"PT90.5S"}}}}`, []string{compute.FieldIdleSeconds}, ""},
		{"two identities", `{"identity":{"type":"UserAssigned","userAssignedIdentities":{"/a":{},"/b":{}}},"properties":{"computeType":"AmlCompute","properties":{"vmSize":"Standard_D2_v2","scaleSettings":{"maxNodeCount":1}}}}`, []string{compute.FieldUserIdentity}, ""},
		{"instance odd settings", `{"properties":{"computeType":"ComputeInstance","properties":{"vmSize":"Standard_DS3_v2","idleTimeBeforeShutdown":"PT90S","sshSettings":{"sshPublicAccess":"Maybe"},"schedules":{"computeStartStop":[{"action":"Stop","triggerType":"Cron","cron":{"expression":"0 18 * * *"}}]}}}}`,
			[]string{compute.FieldIdleShutdown, FieldSSHPublicAccess, compute.FieldSchedules}, ""},
		{"slurm key not base64", `{"properties":{"computeType":"Slurm","properties":{"restUrl":"http://slurm:6820","user":"u","token":"t","jwtKey":"not base64!"}}}`, []string{FieldJWTKey}, ""},
		{"attach missing secrets", `{"properties":{"computeType":"Databricks","properties":{"workspaceName":"ws","resourceGroup":"rg"}}}`, []string{compute.FieldToken}, ""},
		{"wrong JSON type", `{"properties":{"computeType":"AmlCompute","properties":{"scaleSettings":{"maxNodeCount":"four"}}}}`, nil, "properties.properties.scaleSettings.maxNodeCount"},
		{"fractional node count", `{"properties":{"computeType":"AmlCompute","properties":{"scaleSettings":{"maxNodeCount":4.5}}}}`, nil, "properties.properties.scaleSettings.maxNodeCount"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := DecodeCompute(strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			_, err = ToCreateRequest("good-name", c)
			if tc.wantTarget != "" {
				var re *RequestError
				if !errors.As(err, &re) || re.Target != tc.wantTarget {
					t.Fatalf("err = %#v, want RequestError at %s", err, tc.wantTarget)
				}
				if status, _ := FromError(err); status != 400 {
					t.Errorf("status %d, want 400", status)
				}
				return
			}
			var v *compute.ValidationError
			if !errors.As(err, &v) {
				t.Fatalf("err = %v, want a ValidationError", err)
			}
			var got []string
			for _, f := range v.Fields {
				got = append(got, f.Field)
			}
			if !reflect.DeepEqual(got, tc.wantFields) {
				t.Errorf("fields %v, want %v (%v)", got, tc.wantFields, err)
			}
		})
	}
}

func TestDecodeCompute(t *testing.T) {
	tests := []struct {
		name, body, wantTarget, wantMsg string
	}{
		{"empty", "", "", "empty"},
		{"malformed", `{"properties":`, "", "malformed JSON"},
		{"syntax", `{"properties" 1}`, "", "malformed JSON at byte"},
		{"two values", `{} {}`, "", "more than one JSON value"},
		{"tags not a map", `{"tags":["a"]}`, "tags", "expected an object, got array"},
		{"computeType number", `{"properties":{"computeType":5}}`, "properties.computeType", "expected a string, got number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeCompute(strings.NewReader(tc.body))
			var re *RequestError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want *RequestError", err)
			}
			if re.Target != tc.wantTarget || !strings.Contains(re.Message, tc.wantMsg) {
				t.Errorf("got target %q message %q, want %q / %q", re.Target, re.Message, tc.wantTarget, tc.wantMsg)
			}
			if !errors.Is(err, compute.ErrInvalid) {
				t.Error("RequestError does not match compute.ErrInvalid")
			}
		})
	}
}

func TestFromNodes(t *testing.T) {
	l := FromNodes([]compute.Node{{ID: "n1", State: compute.NodeRunning, PrivateIP: "10.0.0.5", Port: 50000, RunID: "run-1"}})
	data, _ := json.Marshal(l)
	want := `{"nodes":[{"nodeId":"n1","privateIpAddress":"10.0.0.5","port":50000,"nodeState":"running","runId":"run-1"}]}`
	if string(data) != want {
		t.Errorf("got %s\nwant %s", data, want)
	}
	if data, _ := json.Marshal(FromNodes(nil)); string(data) != `{"nodes":[]}` {
		t.Errorf("empty list renders as %s", data)
	}
}
