package slurm

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/trainyard/trainyard/compute"
)

func TestExpandHostlist(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		bad  bool
	}{
		{in: "", want: nil},
		{in: "(null)", want: nil},
		{in: "node1", want: []string{"node1"}},
		{in: "node[1-3]", want: []string{"node1", "node2", "node3"}},
		{in: "node[1-3,5]", want: []string{"node1", "node2", "node3", "node5"}},
		{in: "node[08-10]", want: []string{"node08", "node09", "node10"}},
		{in: "gpu[1-2]-ib,login", want: []string{"gpu1-ib", "gpu2-ib", "login"}},
		{in: "r[1-2]n[1-2]", want: []string{"r1n1", "r1n2", "r2n1", "r2n2"}},
		{in: "a1,b[7],c", want: []string{"a1", "b7", "c"}},
		{in: "node[1-3", bad: true},
		{in: "node1-3]", bad: true},
		{in: "node[3-1]", bad: true},
		{in: "node[]", bad: true},
		{in: "node[a-b]", bad: true},
		{in: "node[1-9999999999]", bad: true},
		{in: "n[0-99999],m[0-99999]", bad: true},
	} {
		got, err := expandHostlist(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("expandHostlist(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("expandHostlist(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestGresGPUs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		bad  bool
	}{
		{"", 0, false},
		{"(null)", 0, false},
		{"gpu:2", 2, false},
		{"gpu:a100:4(S:0)", 4, false},
		{"gpu:a100:2(S:0-1),gpu:v100:1", 3, false},
		{"gpu:tesla:2,mps:100", 2, false},
		{"mps:100,shard:4", 0, false},
		{"gpu", 1, false},
		{"gpu:a100", 1, false},
		{"gres/gpu:3", 3, false},
		{"gpu:2(S:0,1)", 2, false},
		{"gpu:a100:x", 0, true},
		{"gpu:a:b:c", 0, true},
	} {
		got, err := gresGPUs(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("gresGPUs(%q) = %d, %v; want %d (error %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func TestNodeState(t *testing.T) {
	for _, tc := range []struct {
		state, flags []string
		reason       string
		want         compute.NodeState
		why          string
		listed       bool
	}{
		{[]string{"idle"}, nil, "", compute.NodeIdle, "", true},
		{[]string{"allocated"}, nil, "", compute.NodeRunning, "", true},
		{[]string{"mixed"}, nil, "", compute.NodeRunning, "", true},
		{[]string{"ALLOCATED"}, nil, "", compute.NodeRunning, "", true}, // v0.0.39+
		{[]string{"down"}, []string{"NOT_RESPONDING"}, "Not responding", compute.NodeUnusable, "down, not responding: Not responding", true},
		{[]string{"idle"}, []string{"DRAIN"}, "disk full", compute.NodeUnusable, "drain: disk full", true},
		{[]string{"IDLE", "DRAIN"}, nil, "x", compute.NodeUnusable, "drain: x", true},
		{[]string{"allocated"}, []string{"DRAIN"}, "", compute.NodeUnusable, "drain", true},
		{[]string{"idle"}, []string{"CLOUD", "POWERED_DOWN"}, "", "", "", false},
		{[]string{"mixed"}, []string{"CLOUD", "POWERING_UP"}, "", compute.NodePreparing, "powering up", true},
		{[]string{"mixed"}, []string{"CLOUD", "NOT_RESPONDING", "POWERING_UP"}, "", compute.NodePreparing, "powering up", true},
		{[]string{"down"}, []string{"CLOUD", "POWERING_UP"}, "boot failed", compute.NodeUnusable, "down: boot failed", true},
		{[]string{"allocated"}, []string{"CLOUD", "POWERED_DOWN"}, "", compute.NodePreparing, "powering up for a job", true},
		{[]string{"idle"}, []string{"CLOUD", "POWERING_DOWN"}, "", compute.NodeLeaving, "powering down", true},
		{[]string{"idle~"}, nil, "", "", "", false},
		{[]string{"mixed#"}, nil, "", compute.NodePreparing, "powering up", true},
		{[]string{"idle"}, []string{"COMPLETING"}, "", compute.NodeLeaving, "a job is finishing", true},
		{[]string{"down"}, []string{"CLOUD", "POWERED_DOWN"}, "ResumeTimeout reached", compute.NodeUnusable, "down: ResumeTimeout reached", true},
		{[]string{"unknown"}, nil, "", compute.NodePreparing, "not registered with slurmctld yet", true},
		{[]string{"future"}, nil, "", "", "", false},
		{[]string{"error"}, nil, "", compute.NodeUnusable, "error", true},
		{[]string{"weird"}, nil, "", compute.NodeUnusable, "unknown Slurm state weird", true},
	} {
		got, why, listed := nodeState(tc.state, tc.flags, tc.reason)
		if got != tc.want || why != tc.why || listed != tc.listed {
			t.Errorf("nodeState(%v, %v, %q) = %q, %q, %v; want %q, %q, %v", tc.state, tc.flags, tc.reason, got, why, listed, tc.want, tc.why, tc.listed)
		}
	}
}

func job(state string, mod func(*jobInfo)) jobInfo {
	j := jobInfo{JobState: flexStrings{state}, TimeLimit: flexInt{Value: 5, Set: true}}
	if mod != nil {
		mod(&j)
	}
	return j
}

func TestJobState(t *testing.T) {
	three := 3
	zero := 0
	for _, tc := range []struct {
		name   string
		j      jobInfo
		m      markers
		phase  compute.JobPhase
		code   int
		reason string // substring
		giveUp bool
	}{
		{"pending resources", job("PENDING", func(j *jobInfo) { j.StateReason = "Resources" }), markers{}, compute.JobQueued, 0, "Resources: waiting for nodes to be free", false},
		{"pending priority", job("PENDING", func(j *jobInfo) { j.StateReason = "Priority" }), markers{}, compute.JobQueued, 0, "Priority", false},
		{"pending none", job("PENDING", func(j *jobInfo) { j.StateReason = "None" }), markers{}, compute.JobQueued, 0, "", false},
		{"pending unavailable nodes", job("PENDING", func(j *jobInfo) {
			j.StateReason, j.StateDescription = "ReqNodeNotAvail", "UnavailableNodes:node3"
		}), markers{}, compute.JobQueued, 0, "ReqNodeNotAvail: the nodes it needs are not available (UnavailableNodes:node3)", false},
		{"configuring", job("CONFIGURING", nil), markers{}, compute.JobStarting, 0, "powering", false},
		{"running", job("RUNNING", nil), markers{}, compute.JobRunning, 0, "", false},
		{"running attempt 2", job("RUNNING", func(j *jobInfo) { j.RestartCnt = flexInt{Value: 1, Set: true} }), markers{}, compute.JobRunning, 0, "attempt 2", false},
		{"completing", job("COMPLETING", nil), markers{}, compute.JobFinalizing, 0, "", false},
		{"cancelled+completing (v0.0.39)", jobInfo{JobState: flexStrings{"CANCELLED", "COMPLETING"}}, markers{}, compute.JobFinalizing, 0, "", false},
		{"completed", job("COMPLETED", nil), markers{}, compute.JobCompleted, 0, "", false},
		{"failed exit 3", job("FAILED", func(j *jobInfo) { j.ExitCode = decodeWaitStatus(768) }), markers{}, compute.JobFailed, 3, "exit code 3", false},
		{"failed signal 9", job("FAILED", func(j *jobInfo) { j.ExitCode = decodeWaitStatus(9) }), markers{}, compute.JobFailed, 137, "killed by signal 9", false},
		{"failed rank", job("FAILED", func(j *jobInfo) { j.ExitCode = decodeWaitStatus(768) }), markers{exit: &three, rank: "2"}, compute.JobFailed, 3, "rank 2: exit code 3", false},
		{"failed wrapper exit wins", job("FAILED", func(j *jobInfo) { j.ExitCode = decodeWaitStatus(768) }), markers{exit: &three}, compute.JobFailed, 3, "exit code 3", false},
		{"failed 137 from the wrapper", job("FAILED", func(j *jobInfo) { j.ExitCode = decodeWaitStatus(137 << 8) }), markers{}, compute.JobFailed, 137, "killed by signal 9", false},
		{"failed to launch", job("FAILED", func(j *jobInfo) { j.StateReason = "JobLaunchFailure" }), markers{}, compute.JobFailed, -1, "JobLaunchFailure", false},
		{"max duration", job("FAILED", func(j *jobInfo) { j.ExitCode = decodeWaitStatus(143 << 8) }), markers{timeout: "300ms"}, compute.JobFailed, 124, "exceeded the maximum run duration of 300ms", false},
		{"slurm timeout", job("TIMEOUT", func(j *jobInfo) { j.ExitCode = decodeWaitStatus(15) }), markers{}, compute.JobFailed, 143, "exceeded its Slurm time limit of 5 minutes", false},
		{"node fail", job("NODE_FAIL", nil), markers{}, compute.JobFailed, -1, "NODE_FAIL", false},
		{"out of memory", job("OUT_OF_MEMORY", nil), markers{}, compute.JobFailed, -1, "ran out of memory", false},
		{"boot fail", job("BOOT_FAIL", nil), markers{}, compute.JobFailed, -1, "failed to boot", false},
		{"deadline", job("DEADLINE", nil), markers{}, compute.JobFailed, -1, "deadline", false},
		{"cancelled on request", job("CANCELLED", func(j *jobInfo) { j.ExitCode = decodeWaitStatus(15) }), markers{canceled: true}, compute.JobCanceled, 143, "canceled on request", false},
		{"cancelled by admin", job("CANCELLED", nil), markers{}, compute.JobCanceled, 0, "canceled in Slurm", false},
		{"requeued pending", job("PENDING", func(j *jobInfo) {
			j.RestartCnt, j.StateReason = flexInt{Value: 1, Set: true}, "BeginTime"
		}), markers{}, compute.JobQueued, 0, "attempt 2: requeued by Slurm", false},
		{"preempted", job("PREEMPTED", func(j *jobInfo) { j.RestartCnt = flexInt{Value: 2, Set: true} }), markers{}, compute.JobQueued, 0, "attempt 3", false},
		{"requeue hold", job("REQUEUE_HOLD", func(j *jobInfo) { j.RestartCnt = flexInt{Value: 1, Set: true} }), markers{}, compute.JobQueued, 0, "attempt 2", false},
		{"configuring attempt 3", job("CONFIGURING", func(j *jobInfo) { j.RestartCnt = flexInt{Value: 2, Set: true} }), markers{}, compute.JobStarting, 0, "attempt 3", false},
		{"requeued too often", job("PENDING", func(j *jobInfo) { j.RestartCnt = flexInt{Value: maxRequeues, Set: true} }), markers{}, compute.JobFailed, -1, "requeued the job 3 times", true},
		{"requeued, still allowed", job("PENDING", func(j *jobInfo) { j.RestartCnt = flexInt{Value: maxRequeues - 1, Set: true} }), markers{}, compute.JobQueued, 0, "attempt 3", false},
		{"gave up before", job("CANCELLED", nil), markers{gaveUp: "gave up"}, compute.JobFailed, -1, "gave up", false},
		{"finished job requeued before is not given up", job("COMPLETED", func(j *jobInfo) { j.RestartCnt = flexInt{Value: 9, Set: true} }), markers{exit: &zero}, compute.JobCompleted, 0, "", false},
	} {
		st, giveUp := jobState(tc.j, tc.m)
		if want := tc.j.RestartCnt.Int() + 1; st.Attempt != want {
			t.Errorf("%s: Attempt = %d, want %d (restart_cnt + 1)", tc.name, st.Attempt, want)
		}
		if st.Phase != tc.phase || st.ExitCode != tc.code || !strings.Contains(st.Reason, tc.reason) || giveUp != tc.giveUp || (tc.reason == "" && st.Reason != "") {
			t.Errorf("%s: jobState = %+v, giveUp %v; want %s, code %d, reason ~%q, giveUp %v", tc.name, st, giveUp, tc.phase, tc.code, tc.reason, tc.giveUp)
		}
	}
}

func TestForgottenState(t *testing.T) {
	zero, five := 0, 5
	for _, tc := range []struct {
		m      markers
		dir    bool
		phase  compute.JobPhase
		reason string
	}{
		{markers{exit: &zero}, true, compute.JobCompleted, ""},
		{markers{exit: &five}, true, compute.JobFailed, "exit code 5"},
		{markers{canceled: true}, true, compute.JobCanceled, "canceled on request"},
		{markers{timeout: "1m", exit: &five}, true, compute.JobFailed, "maximum run duration of 1m"},
		{markers{}, true, compute.JobFailed, "left no exit status"},
		{markers{}, false, compute.JobFailed, "run folder"},
		{markers{gaveUp: "too often"}, true, compute.JobFailed, "too often"},
	} {
		st := forgottenState("42", tc.m, tc.dir)
		if st.Phase != tc.phase || !strings.Contains(st.Reason, tc.reason) {
			t.Errorf("forgottenState(%+v, %v) = %+v; want %s ~%q", tc.m, tc.dir, st, tc.phase, tc.reason)
		}
	}
}

func TestDecodeWaitStatus(t *testing.T) {
	for _, tc := range []struct {
		raw          int
		code, signal int
	}{{0, 0, 0}, {768, 3, 0}, {15, 0, 15}, {9, 0, 9}, {256 * 127, 127, 0}, {0x8b, 0, 11}} {
		got := decodeWaitStatus(tc.raw)
		if got.Code != tc.code || got.Signal != tc.signal {
			t.Errorf("decodeWaitStatus(%d) = %+v; want code %d signal %d", tc.raw, got, tc.code, tc.signal)
		}
	}
}

func TestFlexibleJSON(t *testing.T) {
	var j struct {
		A, B, C, D flexInt
		E, F       exitStatus
		G, H       flexStrings
		I, K       flexString
	}
	in := `{"A": 5, "B": {"set": true, "infinite": false, "number": 7}, "C": null, "D": {"set": false, "number": 0},
		"E": 768, "F": {"status": ["EXITED"], "return_code": {"set": true, "number": 2}, "signal": {"id": {"set": false, "number": 0}}},
		"G": "RUNNING", "H": ["CANCELLED", "COMPLETING"], "I": "x", "K": {"job": "trainyard run 1"}}`
	if err := json.Unmarshal([]byte(in), &j); err != nil {
		t.Fatal(err)
	}
	if j.A.Int() != 5 || j.B.Int() != 7 || j.C.Set || j.D.Set || j.E.Code != 3 || j.F.Code != 2 || j.F.Signal != 0 ||
		!slices.Equal(j.G, []string{"RUNNING"}) || len(j.H) != 2 || j.I != "x" || j.K != "trainyard run 1" {
		t.Errorf("decoded %+v", j)
	}
}

func TestReadableReason(t *testing.T) {
	for in, want := range map[[2]string]string{
		{"None", ""}:             "",
		{"Resources", ""}:        "Resources: waiting for nodes to be free",
		{"SomethingNew", ""}:     "SomethingNew",
		{"Priority", "Priority"}: "Priority: other jobs come first",
		{"None", "held"}:         "held",
	} {
		if got := readableReason(in[0], in[1]); got != want {
			t.Errorf("readableReason(%q, %q) = %q, want %q", in[0], in[1], got, want)
		}
	}
}

func TestBatchScriptQuotesOnce(t *testing.T) {
	s := batchScript("/shared/trainyard/runs/r1", "0", "", 5, 1, []string{"python3", "$(touch x)", "it's", ""})
	line := strings.Split(s, "\n")[2]
	want := `set -- /shared/trainyard/runs/r1 0 '' 5 1 python3 '$(touch x)' 'it'"'"'s' ''`
	if line != want {
		t.Errorf("values line = %s\nwant          %s", line, want)
	}
	if !strings.HasSuffix(s, jobScript) {
		t.Error("the fixed body is not the script's tail")
	}
}

func TestSubmitBodyV38(t *testing.T) {
	b := submitBody("v0.0.38", submitSpec{name: "trainyard-r", partition: "debug", nodes: 3, cwd: "/s/work", output: "/s/output.log",
		env: map[string]string{"A": "1"}, minutes: 2, comment: "c", script: "#!/bin/bash\n"})
	data, _ := json.Marshal(b)
	for _, want := range []string{`"nodes":"3"`, `"tasks":3`, `"tasks_per_node":1`, `"environment":{"A":"1"}`, `"time_limit":2`, `"script":"#!/bin/bash\n"`, `"standard_error":"/s/output.log"`, `"requeue":true`, `"exclusive":"exclusive"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("submit body %s lacks %s", data, want)
		}
	}
	b = submitBody("v0.0.41", submitSpec{nodes: 1, env: map[string]string{"B": "2", "A": "1"}, minutes: 0, script: "x"})
	data, _ = json.Marshal(b)
	if !strings.Contains(string(data), `"environment":["A=1","B=2"]`) || strings.Contains(string(data), "time_limit") || !strings.Contains(string(data), `"script":"x"`) {
		t.Errorf("v0.0.41 body %s", data)
	}
}

func TestJobEnv(t *testing.T) {
	env := jobEnv(map[string]string{"SLURM_JWT": "secret", "X": "1"})
	if _, ok := env["SLURM_JWT"]; ok || env["X"] != "1" || env["PATH"] != "/usr/local/bin:/usr/bin:/bin" {
		t.Errorf("jobEnv = %v", env)
	}
	if env := jobEnv(map[string]string{"PATH": "/opt/bin"}); env["PATH"] != "/opt/bin" {
		t.Errorf("the run's PATH was replaced: %v", env)
	}
}

func TestHandleRoundTrip(t *testing.T) {
	h := encodeHandle(handleData{Job: "12", Target: "t", URL: "http://x", User: "u", Dir: "/s/r", Run: "r"})
	if id, err := JobID(h); err != nil || id != "12" {
		t.Errorf("JobID = %q, %v", id, err)
	}
	for _, bad := range []compute.Handle{
		{Backend: "ssh", ID: h.ID},
		{Backend: BackendName, ID: "12"},
		{Backend: BackendName, ID: `{"job":"x","url":"http://x","dir":"/s"}`},
		{Backend: BackendName, ID: `{"job":"1","url":"http://x","dir":"relative"}`},
	} {
		if _, err := decodeHandle(bad); !errors.Is(err, compute.ErrInvalid) {
			t.Errorf("decodeHandle(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestMintedTokens(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	calls := 0
	c := &client{creds: func(context.Context, string) (string, string, error) {
		calls++
		return "", "0123456789abcdef0123456789abcdef", nil
	}, now: func() time.Time { return now }, versions: map[string]versionInfo{}, tokens: map[string]mintedToken{}}
	ep := endpoint{target: "t", url: "http://x", user: "alice"}
	tok1, err := c.token(context.Background(), ep)
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(tok1, claims, func(*jwt.Token) (any, error) { return []byte("0123456789abcdef0123456789abcdef"), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(func() time.Time { return now })); err != nil {
		t.Fatalf("minted token does not verify: %v", err)
	}
	if claims["sun"] != "alice" || claims["exp"].(float64) != float64(now.Add(tokenLife).Unix()) || claims["iat"].(float64) != float64(now.Unix()) {
		t.Errorf("claims = %v", claims)
	}
	now = now.Add(time.Minute)
	if tok2, _ := c.token(context.Background(), ep); tok2 != tok1 {
		t.Error("a fresh token was minted although the cached one has long to live")
	}
	now = now.Add(tokenLife - tokenRenew)
	if tok3, _ := c.token(context.Background(), ep); tok3 == tok1 {
		t.Error("the token was not re-minted before it expires")
	}
	c.creds = func(context.Context, string) (string, string, error) { return "SLURM_JWT=abc\n", "", nil }
	if tok, _ := c.token(context.Background(), ep); tok != "abc" {
		t.Errorf("stored token = %q", tok)
	}
	c.creds = func(context.Context, string) (string, string, error) { return "", "", nil }
	if _, err := c.token(context.Background(), ep); !errors.Is(err, compute.ErrInvalid) {
		t.Errorf("no secrets: %v", err)
	}
}

func TestErrorsArray(t *testing.T) {
	err := decodeAnswer(500, []byte(`{"errors":[{"description":"Unable to find JobId=9","error_number":2017,"error":"Invalid job id specified","source":"slurm_load_job"}]}`), nil)
	if !isUnknownJob(err) || err.Error() != "slurmrestd: Unable to find JobId=9 (Invalid job id specified)" {
		t.Errorf("err = %v", err)
	}
	err = decodeAnswer(400, []byte(`{"errors":[{"error":"environment must be set","error_code":2127},{"error_code":9001,"error":"Failure during parsing"}]}`), nil)
	if err == nil || err.Error() != "slurmrestd: environment must be set; Failure during parsing" {
		t.Errorf("err = %v", err)
	}
	if err := decodeAnswer(502, []byte("bad gateway"), nil); err == nil || !strings.Contains(err.Error(), "HTTP 502: bad gateway") {
		t.Errorf("err = %v", err)
	}
	if err := decodeAnswer(200, []byte(`{"errors":[]}`), nil); err != nil {
		t.Errorf("err = %v", err)
	}
}

func FuzzExpandHostlist(f *testing.F) {
	for _, s := range []string{"node[1-3,5]", "a,b", "r[1-2]n[01-03]", "x[", "]", "n[0-99999]", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		hosts, err := expandHostlist(s)
		if err != nil {
			return
		}
		if len(hosts) > maxHosts {
			t.Fatalf("%d hosts from %q", len(hosts), s)
		}
		for _, h := range hosts {
			if strings.ContainsAny(h, "[]") {
				t.Fatalf("host %q from %q still has brackets", h, s)
			}
		}
	})
}

func FuzzGresGPUs(f *testing.F) {
	for _, s := range []string{"gpu:2", "gpu:a100:4(S:0)", "gpu:tesla:2,mps:100", "gpu", "(null)", "gpu:1G"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := gresGPUs(s)
		if err == nil && (n < 0 || n > 1<<20) {
			t.Fatalf("gresGPUs(%q) = %d", s, n)
		}
	})
}

func FuzzJobJSON(f *testing.F) {
	f.Add(`{"job_id": 5, "job_state": "RUNNING", "exit_code": 768, "restart_cnt": 1}`)
	f.Add(`{"job_id": {"set": true, "number": 5}, "job_state": ["CANCELLED","COMPLETING"], "exit_code": {"return_code": {"number": 1}}}`)
	f.Fuzz(func(t *testing.T, s string) {
		var j jobInfo
		if json.Unmarshal([]byte(s), &j) != nil {
			return
		}
		st, _ := jobState(j, markers{})
		if st.Phase == "" {
			t.Fatalf("no phase for %q", s)
		}
	})
}
