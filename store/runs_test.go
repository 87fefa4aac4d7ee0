package store

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"math"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/compute"
)

func mustRun(tb testing.TB, s *Store, r *compute.Run) *compute.Run {
	tb.Helper()
	if err := s.CreateRun(context.Background(), r); err != nil {
		tb.Fatalf("CreateRun: %v", err)
	}
	return r
}

func TestRunLifecycle(t *testing.T) {
	s := MustOpen(t)
	c := newClock(s)
	ctx := context.Background()
	r := mustRun(t, s, &compute.Run{ExperimentName: "exp", Target: "local", Script: "train.py", Arguments: []string{"--lr", "0.1"},
		Git: &compute.GitInfo{Branch: "main", Dirty: true}, Environment: compute.RunEnvironment{Variables: map[string]string{"K": "V"}},
		RunConfiguration: []byte(`{"script":"train.py"}`), SubmittedBy: "alice", SubmittedByID: "alice-oid", MaxRunDuration: time.Hour})
	if !strings.HasPrefix(r.ID, "exp_") || r.Status != compute.RunNotStarted || r.NodeCount != 1 {
		t.Fatalf("created %+v", r)
	}
	if err := s.CreateRun(ctx, &compute.Run{ID: r.ID, ExperimentName: "exp"}); !errors.Is(err, compute.ErrConflict) {
		t.Fatalf("duplicate ID: %v", err)
	}
	steps := []compute.RunStatus{compute.RunQueued, compute.RunPreparing, compute.RunStarting, compute.RunRunning, compute.RunFinalizing, compute.RunCompleted}
	for _, st := range steps {
		c.Advance(time.Second)
		if _, err := s.UpdateRun(ctx, r.ID, func(r *compute.Run) error {
			r.Status, r.StatusReason = st, "to "+string(st)
			if st == compute.RunStarting {
				r.Handle = compute.Handle{Backend: "local", ID: "1.2:" + r.ID}
			}
			return nil
		}); err != nil {
			t.Fatalf("to %s: %v", st, err)
		}
	}
	got, err := s.GetRun(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != compute.RunCompleted || got.StartedAt.IsZero() || got.EndedAt.Sub(got.StartedAt) != 2*time.Second ||
		got.Handle.ID != "1.2:"+r.ID || got.Git == nil || !got.Git.Dirty || got.Environment.Variables["K"] != "V" ||
		!slices.Equal(got.Arguments, []string{"--lr", "0.1"}) || got.MaxRunDuration != time.Hour || got.ExperimentName != "exp" {
		t.Fatalf("after the run: %+v", got)
	}
	if len(got.History) != 7 || got.History[6].Reason != "to Completed" || got.History[0].Status != compute.RunNotStarted {
		t.Fatalf("history %+v", got.History)
	}
	// Terminal runs do not move.
	_, err = s.UpdateRun(ctx, r.ID, func(r *compute.Run) error { r.Status = compute.RunRunning; return nil })
	if !errors.Is(err, compute.ErrConflict) {
		t.Fatalf("Completed → Running: %v", err)
	}
	e, err := s.GetExperimentByName(ctx, "EXP")
	if err != nil || e.RunCount != 1 || e.LastRunAt.IsZero() {
		t.Fatalf("experiment %+v %v", e, err)
	}
	if _, err := s.CreateExperiment(ctx, "exp"); !errors.Is(err, compute.ErrConflict) {
		t.Fatalf("create existing experiment: %v", err)
	}
	def, err := s.GetExperiment(ctx, compute.DefaultExperimentID)
	if err != nil || def.Name != compute.DefaultExperimentName {
		t.Fatalf("Default experiment %+v %v", def, err)
	}
}

// TestActiveTermMatchesDomain keeps the SQL term for "not ended" (and the
// partial index runs_active) in step with compute.RunStatus.Terminal.
func TestActiveTermMatchesDomain(t *testing.T) {
	for _, st := range compute.RunStatuses() {
		inTerm := !strings.Contains(activeTerm, "'"+string(st)+"'")
		if inTerm != st.Active() {
			t.Errorf("activeTerm and Active disagree on %s", st)
		}
	}
}

func TestMetricsLatestAndHistory(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	r := mustRun(t, s, &compute.Run{ExperimentName: "m", Status: compute.RunRunning})
	at := func(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
	logs := [][]compute.Metric{
		{{Key: "acc", Value: 0.5, Step: 1, Time: at(1000)}},
		{{Key: "acc", Value: 0.7, Step: 2, Time: at(900)}},  // greater step wins over an older time
		{{Key: "acc", Value: 0.1, Step: 0, Time: at(5000)}}, // a smaller step never becomes latest
		{{Key: "acc", Value: 0.8, Step: 2, Time: at(900)}},  // same step and time: the later call wins
		{{Key: "nan", Value: math.NaN(), Step: 0, Time: at(1)}, {Key: "inf", Value: math.Inf(1), Step: 0, Time: at(1)}},
	}
	for _, m := range logs {
		if err := s.LogBatch(ctx, r.ID, m, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetRun(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Metrics["acc"] != 0.8 || !math.IsNaN(got.Metrics["nan"]) || got.Metrics["inf"] != math.MaxFloat64 {
		t.Fatalf("latest %v", got.Metrics)
	}
	hist, err := s.MetricHistory(ctx, r.ID, "acc")
	if err != nil || len(hist) != 4 || hist[0].Value != 0.1 || hist[3].Value != 0.8 {
		t.Fatalf("history %+v %v", hist, err)
	}
	all, err := s.MetricHistories(ctx, r.ID)
	if err != nil || len(all) != 3 || len(all["acc"]) != 4 {
		t.Fatalf("histories %v %v", all, err)
	}
	// Params are write-once; tags are replaced.
	kv := func(k, v string) []compute.KeyValue { return []compute.KeyValue{{Key: k, Value: v}} }
	if err := s.LogBatch(ctx, r.ID, nil, kv("lr", "0.1"), kv("t", "1")); err != nil {
		t.Fatal(err)
	}
	if err := s.LogBatch(ctx, r.ID, nil, kv("lr", "0.1"), kv("t", "2")); err != nil {
		t.Fatalf("same param again: %v", err)
	}
	if err := s.LogBatch(ctx, r.ID, nil, kv("lr", "0.2"), nil); !errors.Is(err, compute.ErrInvalid) {
		t.Fatalf("changed param: %v", err)
	}
	got, _ = s.GetRun(ctx, r.ID)
	if got.Params["lr"] != "0.1" || got.Tags["t"] != "2" {
		t.Fatalf("params %v tags %v", got.Params, got.Tags)
	}
	if err := s.LogBatch(ctx, "missing_1_2", nil, kv("a", "b"), nil); !errors.Is(err, compute.ErrNotFound) {
		t.Fatalf("missing run: %v", err)
	}
	if err := s.LogBatch(ctx, r.ID, make([]compute.Metric, MaxBatchMetrics+1), nil, nil); !errors.Is(err, compute.ErrInvalid) {
		t.Fatalf("oversized batch: %v", err)
	}
}

func TestRunListPaging(t *testing.T) {
	s := MustOpen(t)
	c := newClock(s)
	ctx := context.Background()
	var runs []*compute.Run
	for i := range 250 {
		st := compute.RunCompleted
		if i%10 == 0 {
			st = compute.RunFailed
		}
		runs = append(runs, &compute.Run{ExperimentName: fmt.Sprintf("e%d", i%3), Status: st, Target: []string{"local", "gpu"}[i%2],
			SubmittedBy: "bob", CreatedAt: c.Now().Add(time.Duration(i) * time.Minute)})
	}
	if err := s.CreateRuns(ctx, runs); err != nil {
		t.Fatal(err)
	}
	var seen []string
	f := compute.RunFilter{Limit: 100}
	for pages := 0; ; pages++ {
		page, err := s.ListRuns(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Runs {
			seen = append(seen, r.ID)
		}
		if page.Next == 0 {
			break
		}
		f.After = page.Next
	}
	if len(seen) != 250 || seen[0] != runs[249].ID || seen[249] != runs[0].ID {
		t.Fatalf("paged %d runs, first %s", len(seen), seen[0])
	}
	count := func(f compute.RunFilter) int {
		n, err := s.CountRuns(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(compute.RunFilter{Experiment: "e1"}); n != 83 {
		t.Errorf("experiment filter: %d", n)
	}
	if n := count(compute.RunFilter{Statuses: []compute.RunStatus{compute.RunFailed}, Target: "local"}); n != 25 {
		t.Errorf("status+target: %d", n)
	}
	if n := count(compute.RunFilter{Since: c.Now().Add(200 * time.Minute)}); n != 50 {
		t.Errorf("since: %d", n)
	}
	if n := count(compute.RunFilter{Experiment: "nope"}); n != 0 {
		t.Errorf("unknown experiment: %d", n)
	}
	if _, err := s.ListRuns(ctx, compute.RunFilter{Statuses: []compute.RunStatus{"Bogus"}}); !errors.Is(err, compute.ErrInvalid) {
		t.Errorf("bad status: %v", err)
	}
	page, err := s.ListRuns(ctx, compute.RunFilter{Offset: 240, Limit: 100})
	if err != nil || len(page.Runs) != 10 || page.Next != 0 {
		t.Errorf("offset page: %d %d %v", len(page.Runs), page.Next, err)
	}
}

// TestRunQueriesUseIndexes keeps the list and the dispatcher's queries on
// their indexes (a scan would not stay fast at 100,000 runs).
func TestRunQueriesUseIndexes(t *testing.T) {
	s := MustOpen(t)
	plan := func(q string, args ...any) string {
		rows, err := s.reader.Query(`EXPLAIN QUERY PLAN `+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			out = append(out, detail)
		}
		return strings.Join(out, "; ")
	}
	for q, want := range map[string]string{
		`SELECT r.id FROM runs r WHERE ` + activeTerm + ` AND r.kind = 'script'`: "runs_active",
		// ActiveRuns and the sweep driver's sweeps, in their order: not a
		// walk of every run in seq order (issue 16).
		`SELECT r.id` + runFrom + ` WHERE ` + activeTerm + ` AND r.kind = 'script' ORDER BY r.seq`:                  "runs_active_by_kind",
		`SELECT r.id` + runFrom + ` WHERE ` + activeTerm + ` AND r.kind = 'hyperdrive' ORDER BY r.seq DESC LIMIT 9`: "runs_active_by_kind",
		`SELECT r.id` + runFrom + ` WHERE r.parent_id = 'p' AND ` + activeTerm:                                      "runs_active_by_parent",
		`SELECT 1 FROM runs r WHERE r.target = 'x' AND r.kind = 'script' AND ` + activeTerm:                         "runs_active",
		`SELECT r.id FROM runs r WHERE r.experiment_id = 1 ORDER BY r.seq DESC LIMIT 10`:                            "runs_by_experiment",
		`SELECT r.id FROM runs r WHERE r.status IN ('Failed') ORDER BY r.seq DESC LIMIT 10`:                         "runs_by_status",
	} {
		if p := plan(q); !strings.Contains(p, want) || strings.Contains(p, "TEMP B-TREE") {
			t.Errorf("%s\n  plan: %s (want %s, no sort)", q, p, want)
		}
	}
}

func TestRunTokens(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	r := mustRun(t, s, &compute.Run{ExperimentName: "tok", Status: compute.RunRunning, SubmittedBy: "alice"})
	tok, err := s.IssueRunToken(ctx, r.ID)
	if err != nil || !strings.HasPrefix(tok, RunTokenPrefix) {
		t.Fatalf("token %q %v", tok, err)
	}
	u, err := s.ResolveRunToken(ctx, tok)
	if err != nil || u.RunID != r.ID || u.ID != "run:"+r.ID || u.Name != "alice" || u.Role != compute.RoleDataScientist {
		t.Fatalf("resolved %+v %v", u, err)
	}
	for _, bad := range []string{"", "tya_x", RunTokenPrefix + "nope", tok + "x"} {
		if _, err := s.ResolveRunToken(ctx, bad); !errors.Is(err, compute.ErrUnauthenticated) {
			t.Errorf("token %q: %v", bad, err)
		}
	}
	if _, err := s.UpdateRun(ctx, r.ID, func(r *compute.Run) error { r.Status = compute.RunCompleted; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ResolveRunToken(ctx, tok); !errors.Is(err, compute.ErrUnauthenticated) {
		t.Fatalf("token of an ended run: %v", err)
	}
	var stored int
	if err := s.reader.QueryRow(`SELECT COUNT(*) FROM run_tokens WHERE hash = ?`, []byte(tok)).Scan(&stored); err != nil || stored != 0 {
		t.Fatalf("the token itself is stored: %d %v", stored, err)
	}
}

func tgz(tb testing.TB, files map[string]string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range files {
			if !yield(k) {
				return
			}
		}
	}) {
		body := files[name]
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			tb.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			tb.Fatal(err)
		}
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func TestImportArchiveLimits(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	big := strings.Repeat("x", 1600)
	// Too many bytes after ignore rules.
	_, err := s.ImportArchive(ctx, bytes.NewReader(tgz(t, map[string]string{"a": big, "b": big})), ArchiveOptions{MaxBytes: 3000})
	if !errors.Is(err, compute.ErrInvalid) || !strings.Contains(err.Error(), "exceeds the limit") {
		t.Fatalf("too large: %v", err)
	}
	// Ignored bytes do not count toward the snapshot, within the raw budget.
	snap, err := s.ImportArchive(ctx, bytes.NewReader(tgz(t, map[string]string{"a": big, "b": big, ".amlignore": "b\n"})), ArchiveOptions{MaxBytes: 3000})
	if err != nil || snap.FileCount != 2 {
		t.Fatalf("ignored bytes: %+v %v", snap, err)
	}
	// A bomb: more decompressed bytes than 4 × the limit stops the import.
	_, err = s.ImportArchive(ctx, bytes.NewReader(tgz(t, map[string]string{"a": strings.Repeat("y", 20000), ".amlignore": "a\n"})), ArchiveOptions{MaxBytes: 3000})
	if !errors.Is(err, compute.ErrInvalid) {
		t.Fatalf("bomb: %v", err)
	}
	// Too many files.
	many := map[string]string{}
	for i := range 4 {
		many[fmt.Sprintf("%d.txt", i)] = "x"
	}
	if _, err = s.ImportArchive(ctx, bytes.NewReader(tgz(t, many)), ArchiveOptions{MaxFiles: 3}); !errors.Is(err, compute.ErrInvalid) {
		t.Fatalf("too many files: %v", err)
	}
	// Spooled uploads are gone.
	if staged, _ := filepath.Glob(filepath.Join(s.blobDir(), ".tmp", "*")); len(staged) != 0 {
		t.Fatalf("left in staging: %v", staged)
	}
	// Materialise, then the files are there and plain copies.
	dir := filepath.Join(t.TempDir(), "work")
	if err := s.MaterializeSnapshot(ctx, snap.ID, dir); err != nil {
		t.Fatal(err)
	}
	if got, _ := filepath.Glob(filepath.Join(dir, "*")); len(got) != 2 || path.Base(got[1]) != "a" {
		t.Fatalf("materialised %v", got)
	}
}

// FuzzSnapshotPath checks the server's path checker for manifest entries,
// materialised files and uploaded artifacts (archive entry names are
// checked by compute/snapshot, which has its own fuzz test): whatever it
// accepts stays inside the folder it is joined to.
func FuzzSnapshotPath(f *testing.F) {
	for _, s := range []string{"./a/b", "a/../b", "../x", "/etc/x", `a\b`, "a//b", "./", ".", "..", "a/./b", "a/b/", "./.././x",
		"\x00", "a\nb", "ok.py", "./././a", ".//a", "a/..", "…/ü.txt", "C:/x", "a/b/c.txt"} {
		f.Add(s)
	}
	base := filepath.Join(string(filepath.Separator), "srv", "work")
	f.Fuzz(func(t *testing.T, p string) {
		if CheckSnapshotPath(p) != "" {
			return
		}
		if !filepath.IsLocal(p) || strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\\\x00") || path.Clean(p) != p {
			t.Fatalf("accepted unsafe %q", p)
		}
		for _, el := range strings.Split(p, "/") {
			if el == ".." || el == "." || el == "" {
				t.Fatalf("accepted %q with element %q", p, el)
			}
		}
		if j := filepath.Join(base, p); !strings.HasPrefix(j, base+string(filepath.Separator)) {
			t.Fatalf("accepted %q, which leaves the tree: %s", p, j)
		}
	})
}
