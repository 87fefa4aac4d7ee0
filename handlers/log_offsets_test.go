package handlers_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/store"
	"github.com/trainyard/trainyard/web/webtest"
)

// The largest offset there is, and one past it.
const (
	maxOffset  = "9223372036854775807" // 2^63-1
	overOffset = "9223372036854775808" // 2^63
)

// logGet reads a run's log from offset through the API and the run page's
// follower, returning each status, body and X-Log-Offset.
func logGet(t *testing.T, env *webtest.Env, id, offset string) (apiStatus int, apiBody, next string, pageStatus int, pageBody string) {
	t.Helper()
	st, b, h := apiDo(t, env, "GET", "/api/v1/runs/"+id+"/logs?offset="+offset, "", nil)
	pst, pb, _ := webtest.Do(t, env.Browser(t), "GET", env.URL+"/runs/"+id+"/log?offset="+offset, nil, nil)
	return st, string(b), h.Get("X-Log-Offset"), pst, pb
}

// TestLogOffsetsPastTheEnd: an offset past the end of a collected log, up
// to 2^63-1, reads nothing (200, empty, X-Log-Offset unchanged); 2^63, a
// negative or a non-number is a 400 naming the offset; a Range past the
// end of an output file is a 416. Never a 500.
func TestLogOffsetsPastTheEnd(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoController: true, NoDispatcher: true})
	snap := uploadFolder(t, env, map[string]string{"train.py": "print('hi')\n"})
	run := submit(t, env, "offsets", snap, "train.py", nil, nil)
	dir := env.Store.RunDir(run.RunID)
	for p, content := range map[string]string{store.RunLogPath: "hello log\n", "outputs/model.txt": "weights"} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	if st, body, next, pst, _ := logGet(t, env, run.RunID, "6"); st != 200 || body != "log\n" || next != "10" || pst != 200 {
		t.Fatalf("offset 6: %d %q next %s; page %d", st, body, next, pst)
	}
	for _, off := range []string{"10", "11", "4294967296", "17592186044416", maxOffset} {
		st, body, next, pst, pbody := logGet(t, env, run.RunID, off)
		if st != 200 || body != "" || next != off {
			t.Errorf("API offset %s: %d %q next %q, want 200, empty, next %s", off, st, body, next, off)
		}
		if pst != 200 && pst != 204 || strings.Contains(pbody, "hello") {
			t.Errorf("page offset %s: %d %.200s", off, pst, pbody)
		}
	}
	for _, off := range []string{overOffset, "-1", "99999999999999999999", "1e3", "0x10"} {
		st, body, _, pst, pbody := logGet(t, env, run.RunID, off)
		if st != 400 || !strings.Contains(body, `"code":"InvalidOffset"`) || !strings.Contains(body, "offset must be a whole number from 0 to "+maxOffset) {
			t.Errorf("API offset %s: %d %s, want 400 InvalidOffset", off, st, body)
		}
		if pst != 400 || !strings.Contains(pbody, "offset must be a whole number from 0 to "+maxOffset) {
			t.Errorf("page offset %s: %d %.300s, want 400", off, pst, pbody)
		}
	}

	for _, rng := range []string{"bytes=" + maxOffset + "-", "bytes=7-", "bytes=" + overOffset + "-"} {
		for _, p := range []string{"/api/v1/runs/" + run.RunID + "/outputs/outputs/model.txt", "/runs/" + run.RunID + "/outputs/outputs/model.txt"} {
			st, _, _ := webtest.Do(t, env.Browser(t), "GET", env.URL+p, nil, map[string]string{"Range": rng})
			if st != http.StatusRequestedRangeNotSatisfiable {
				t.Errorf("GET %s Range %s: %d, want 416", p, rng, st)
			}
		}
	}
}

// TestLiveLogOffsetsPastTheEnd: the same while the run is live and its log
// is read from the backend (the local one seeks to the offset it is given).
func TestLiveLogOffsetsPastTheEnd(t *testing.T) {
	needPython(t)
	env := webtest.New(t, webtest.Options{NoController: true})
	snap := uploadFolder(t, env, map[string]string{"train.py": "import time\nprint('started', flush=True)\ntime.sleep(60)\n"})
	run := submit(t, env, "offsets-live", snap, "train.py", nil, nil)
	defer apiDo(t, env, "POST", "/api/v1/runs/"+run.RunID+"/cancel", "", nil)
	webtest.WaitFor(t, 30*time.Second, "the run's first line", func() bool {
		_, b, _ := apiDo(t, env, "GET", "/api/v1/runs/"+run.RunID+"/logs?offset=0", "", nil)
		return strings.Contains(string(b), "started")
	})
	for _, off := range []string{"8", "1000", "17592186044416", maxOffset} {
		st, body, next, pst, _ := logGet(t, env, run.RunID, off)
		if st != 200 || body != "" || next != off || pst != 200 && pst != 204 {
			t.Errorf("live offset %s: API %d %q next %q; page %d", off, st, body, next, pst)
		}
	}
	if st, body, _, pst, _ := logGet(t, env, run.RunID, overOffset); st != 400 || pst != 400 {
		t.Errorf("live offset 2^63: API %d %s; page %d", st, body, pst)
	}
}
