package handlers_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/web/webtest"
)

// formFile is one file part of a multipart form; Name is sent as the
// browser sends it (a folder upload names the path inside the folder).
type formFile struct {
	Field, Name string
	Content     []byte
}

func multipartBody(t testing.TB, fields url.Values, files []formFile) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, vs := range fields {
		for _, v := range vs {
			if err := mw.WriteField(k, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, f := range files {
		w, err := mw.CreateFormFile(f.Field, f.Name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(f.Content); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), mw.FormDataContentType()
}

// postMultipart sends a multipart form like a browser (same-origin headers).
func postMultipart(t testing.TB, c *http.Client, rawURL string, fields url.Values, files []formFile, header map[string]string) (int, string, http.Header) {
	t.Helper()
	body, ct := multipartBody(t, fields, files)
	req, err := http.NewRequest("POST", rawURL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(rawURL)
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Origin", u.Scheme+"://"+u.Host)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

type formZipEntry struct {
	Name, Content string
	Link          bool // a symbolic link to Content
}

func formZip(t testing.TB, entries ...formZipEntry) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.Name, Method: zip.Deflate}
		h.SetMode(0o644)
		if e.Link {
			h.SetMode(fs.ModeSymlink | 0o777)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(e.Content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func formTarGz(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	gz := gzip.NewWriter(&b)
	tw := tar.NewWriter(gz)
	for _, name := range slices.Sorted(mapKeys(files)) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[name])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[name])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// submitFields are a valid form's fields.
func submitFields(extra map[string]string) url.Values {
	v := url.Values{"experiment": {"formtest"}, "script": {"train.py"}, "target": {"local"}, "envType": {"python"}, "nodeCount": {"1"}}
	for k, val := range extra {
		v.Set(k, val)
	}
	return v
}

func goodZipFile(t testing.TB) formFile {
	return formFile{"archive", "src.zip", formZip(t, formZipEntry{Name: "train.py", Content: "print('hi')\n"}, formZipEntry{Name: "util.py", Content: "X = 1\n"})}
}

func TestSubmitFormFieldErrors(t *testing.T) {
	t.Parallel()
	env := webtest.New(t, webtest.Options{NoDispatcher: true})
	c := env.Browser(t)
	many := map[string]string{}
	var manyFolder []formFile
	for i := range compute.SnapshotMaxFiles + 1 {
		many[fmt.Sprintf("f%04d.py", i)] = "x"
		manyFolder = append(manyFolder, formFile{"folder", fmt.Sprintf("proj/f%04d.py", i), []byte("x")})
	}
	tests := []struct {
		name   string
		fields url.Values
		files  []formFile
		field  string // the field whose error must show
		want   string // a piece of its message
	}{
		{"no source", submitFields(nil), nil, "source", "Upload the source folder"},
		{"bad experiment name", submitFields(map[string]string{"experiment": "9 bad!"}), []formFile{goodZipFile(t)}, "experiment", "only letters, digits"},
		{"path traversal in a zip", submitFields(nil), []formFile{{"archive", "src.zip", formZip(t, formZipEntry{Name: "train.py", Content: "x"}, formZipEntry{Name: "../evil.py", Content: "x"})}}, "source", ".."},
		{"symbolic link out of the tree", submitFields(nil), []formFile{{"archive", "src.zip", formZip(t, formZipEntry{Name: "train.py", Content: "x"}, formZipEntry{Name: "passwd", Content: "/etc/passwd", Link: true})}}, "source", "link"},
		{"too many files in a tar.gz", submitFields(nil), []formFile{{"archive", "src.tar.gz", formTarGz(t, many)}}, "source", "2000"},
		{"too many files in a folder", submitFields(nil), manyFolder, "source", "2000"},
		{"not an archive", submitFields(nil), []formFile{{"archive", "src.zip", []byte("hello, not a zip")}}, "source", "archive"},
		{"traversal in a folder upload", submitFields(nil), []formFile{{"folder", "proj/train.py", []byte("x")}, {"folder", "proj/../../evil.py", []byte("x")}}, "source", "proj/../../evil.py"},
		{"folder and archive", submitFields(nil), []formFile{goodZipFile(t), {"folder", "proj/train.py", []byte("x")}}, "source", "not both"},
		{"script not in the snapshot", submitFields(map[string]string{"script": "missing.py"}), []formFile{goodZipFile(t)}, "script", "not in the snapshot"},
		{"unknown target", submitFields(map[string]string{"target": "nope"}), []formFile{goodZipFile(t)}, "target", "nope"},
		{"node count", submitFields(map[string]string{"nodeCount": "0"}), []formFile{goodZipFile(t)}, "nodeCount", "1 to 100"},
		{"duration", submitFields(map[string]string{"maxRunDuration": "soon"}), []formFile{goodZipFile(t)}, "maxRunDuration", "90m"},
		{"environment variable line", submitFields(map[string]string{"envVars": "A=1\nJUSTNAME"}), []formFile{goodZipFile(t)}, "envVars", "Line 2"},
		{"reserved environment variable", submitFields(map[string]string{"envVars": "MLFLOW_RUN_ID=x"}), []formFile{goodZipFile(t)}, "envVars", "set by Trainyard"},
		{"conda without dependencies", submitFields(map[string]string{"envType": "conda"}), []formFile{goodZipFile(t)}, "condaDependencies", "pip requirements"},
		{"docker without an image", submitFields(map[string]string{"envType": "docker"}), []formFile{goodZipFile(t)}, "dockerImage", "Docker image"},
		{"broken runconfig", submitFields(nil), []formFile{goodZipFile(t), {"runconfig", "broken.runconfig", []byte("script: train.py\ntarget: [unclosed\n")}}, "runconfig", "broken.runconfig:"},
		{"runconfig with an unknown target", submitFields(nil), []formFile{goodZipFile(t), {"runconfig", "gpu.runconfig", []byte("script: train.py\ntarget: gpu-cluster\n")}}, "target", "gpu-cluster"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := postMultipart(t, c, env.URL+"/runs/new", tc.fields, tc.files, nil)
			if status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422: %.500s", status, body)
			}
			d := doc(t, body)
			if got := d.Find("#err-" + tc.field).Text(); !strings.Contains(got, tc.want) {
				t.Fatalf("error under %s is %q, want it to say %q; all errors: %q", tc.field, got, tc.want, d.Find(".field-error").Text())
			} else {
				t.Logf("%s: %s", tc.field, got)
			}
			if d.Find(`[data-testid=form-errors]`).Length() != 1 {
				t.Errorf("no error summary")
			}
			// Values typed are kept.
			if got := d.Find("#experiment").AttrOr("value", ""); got != tc.fields.Get("experiment") {
				t.Errorf("experiment field %q, want %q kept", got, tc.fields.Get("experiment"))
			}
			if tc.fields.Get("maxRunDuration") != "" && d.Find("#maxRunDuration").AttrOr("value", "") != tc.fields.Get("maxRunDuration") {
				t.Errorf("max duration not kept")
			}
			if d.Find("#"+tc.field).AttrOr("aria-invalid", "") != "true" && tc.field != "source" && tc.field != "runconfig" {
				t.Errorf("%s is not marked aria-invalid", tc.field)
			}
			// A good upload is kept for the next try (no second upload).
			if tc.field != "source" && len(tc.files) > 0 && d.Find(`input[name=snapshotId]`).AttrOr("value", "") == "" {
				t.Errorf("the uploaded snapshot was not kept")
			}
		})
	}
	// Nothing was half-created: no run, no experiment.
	ps, _ := env.Store.CountRuns(context.Background(), compute.RunFilter{})
	if ps != 0 {
		t.Errorf("%d runs were created by failed submits", ps)
	}
	if _, err := env.Store.GetExperimentByName(context.Background(), "formtest"); err == nil {
		t.Errorf("a failed submit created the experiment")
	}
}

func TestSubmitFormCreatesRuns(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoDispatcher: true})
	c := env.Browser(t)
	ctx := context.Background()
	created := func(t *testing.T, status int, body string, h http.Header) *compute.Run {
		t.Helper()
		loc := h.Get("Location")
		if status != http.StatusSeeOther || !strings.HasPrefix(loc, "/runs/") {
			t.Fatalf("status %d Location %q: %.600s", status, loc, body)
		}
		run, err := env.Store.GetRun(ctx, strings.TrimPrefix(loc, "/runs/"))
		if err != nil {
			t.Fatal(err)
		}
		return run
	}
	snapFiles := func(t *testing.T, id string) []string {
		t.Helper()
		s, err := env.Store.GetSnapshot(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, f := range s.Files {
			out = append(out, f.Path)
		}
		return out
	}

	t.Run("a folder", func(t *testing.T) {
		files := []formFile{
			{"folder", "proj/train.py", []byte("print('hi')\n")},
			{"folder", "proj/lib/util.py", []byte("X = 1\n")},
			{"folder", "proj/.amlignore", []byte("data/\n")},
			{"folder", "proj/data/big.bin", []byte("ignored")},
			{"folder", "proj/.git/HEAD", []byte("ref: refs/heads/main\n")},
		}
		status, body, h := postMultipart(t, c, env.URL+"/runs/new", submitFields(map[string]string{
			"arguments": "--lr\n0.1\r\n\n--msg\nit's $(not) a shell", "envVars": "A=1\n# a comment\nB = two",
			"maxRunDuration": "90m", "interpreterPath": "/usr/bin/python3"}), files, nil)
		run := created(t, status, body, h)
		if got := snapFiles(t, run.SnapshotID); !slices.Equal(got, []string{".amlignore", "lib/util.py", "train.py"}) {
			t.Errorf("snapshot files %v", got)
		}
		if !slices.Equal(run.Arguments, []string{"--lr", "0.1", "--msg", "it's $(not) a shell"}) {
			t.Errorf("arguments %q", run.Arguments)
		}
		if run.Environment.Variables["A"] != "1" || run.Environment.Variables["B"] != " two" || run.Environment.InterpreterPath != "/usr/bin/python3" || !run.Environment.UserManagedDependencies {
			t.Errorf("environment %+v", run.Environment)
		}
		if run.MaxRunDuration.Minutes() != 90 || run.SubmittedBy != "local" || run.Status != compute.RunNotStarted || run.ExperimentName != "formtest" {
			t.Errorf("run %+v", run)
		}
	})

	t.Run("arguments typed as a command line", func(t *testing.T) {
		files := []formFile{{"folder", "proj/train.py", []byte("print('hi')\n")}}
		status, body, h := postMultipart(t, c, env.URL+"/runs/new", submitFields(map[string]string{
			"arguments": `--lr 0.3 --name "my run" --note it\'s`}), files, nil)
		run := created(t, status, body, h)
		if !slices.Equal(run.Arguments, []string{"--lr", "0.3", "--name", "my run", "--note", "it's"}) {
			t.Errorf("arguments %q", run.Arguments)
		}
		// A line a shell would act on is refused with the reason, and no run.
		status, body, _ = postMultipart(t, c, env.URL+"/runs/new", submitFields(map[string]string{
			"arguments": "--lr 0.3 > out.txt"}), files, nil)
		if status != http.StatusUnprocessableEntity || !strings.Contains(doc(t, body).Find("#err-arguments").Text(), "not through a shell") {
			t.Errorf("a redirection: status %d, error %q", status, doc(t, body).Find("#err-arguments").Text())
		}
	})

	t.Run("the argument list is previewed as it is typed", func(t *testing.T) {
		status, body, _ := webtest.Do(t, c, "POST", env.URL+"/runs/new/arguments", url.Values{"arguments": {`--lr 0.3 --name "a b"`}}, htmxTo("arguments-preview"))
		var got []string
		doc(t, body).Find(`[data-testid=argument]`).Each(func(_ int, s *goquery.Selection) { got = append(got, s.Text()) })
		if status != 200 || !slices.Equal(got, []string{"--lr", "0.3", "--name", "a b"}) {
			t.Errorf("preview: %d %q", status, got)
		}
		_, body, _ = webtest.Do(t, c, "POST", env.URL+"/runs/new/arguments", url.Values{"arguments": {`--name "open`}}, htmxTo("arguments-preview"))
		if !strings.Contains(body, "unclosed &#34; quote") && !strings.Contains(body, `unclosed " quote`) {
			t.Errorf("preview of an unclosed quote: %.300s", body)
		}
	})

	t.Run("upload first, then submit", func(t *testing.T) {
		status, body, _ := postMultipart(t, c, env.URL+"/runs/new/upload", url.Values{"script": {""}}, []formFile{goodZipFile(t)}, htmxTo("source-section"))
		if status != 200 || strings.Contains(body, "<html") {
			t.Fatalf("upload: %d %.300s", status, body)
		}
		d := doc(t, body)
		snap := d.Find(`input[name=snapshotId]`).AttrOr("value", "")
		if snap == "" || d.Find(`select#script option[selected]`).AttrOr("value", "") != "train.py" || d.Find(`select#script option`).Length() != 3 {
			t.Fatalf("upload answer: snapshot %q, script options %q", snap, d.Find(`select#script`).Text())
		}
		if d.Find(`#folder`).AttrOr("hx-post", "") != "/runs/new/upload" || d.Find(`#archive`).AttrOr("hx-encoding", "") != "" {
			t.Errorf("the pickers in the answer do not upload again")
		}
		status, body, h := webtest.Do(t, c, "POST", env.URL+"/runs/new", submitFields(map[string]string{"snapshotId": snap, "script": "util.py"}), nil)
		if run := created(t, status, body, h); run.SnapshotID != snap || run.Script != "util.py" {
			t.Errorf("run %s script %s", run.SnapshotID, run.Script)
		}
		// A bad archive answers 200 with the message in the part (htmx swaps 2xx only).
		status, body, _ = postMultipart(t, c, env.URL+"/runs/new/upload", nil, []formFile{{"archive", "x.zip", []byte("nope")}}, htmxTo("source-section"))
		if status != 200 || !strings.Contains(doc(t, body).Find("#err-source").Text(), "archive") {
			t.Errorf("bad upload: %d %.300s", status, body)
		}
	})

	t.Run("a runconfig", func(t *testing.T) {
		rc := "script: train.py\narguments: [--epochs, '2']\ntarget: local\nnodeCount: 1\nmaxRunDurationSeconds: 600\nenvironment:\n  environmentVariables:\n    FROM_RC: 'yes'\n  python:\n    userManagedDependencies: true\n    interpreterPath: python3\n"
		status, body, h := postMultipart(t, c, env.URL+"/runs/new", submitFields(map[string]string{"script": "", "arguments": "ignored"}),
			[]formFile{goodZipFile(t), {"runconfig", ".azureml/local.runconfig", []byte(rc)}}, nil)
		run := created(t, status, body, h)
		if !slices.Equal(run.Arguments, []string{"--epochs", "2"}) || run.MaxRunDuration.Seconds() != 600 || run.Environment.Variables["FROM_RC"] != "yes" {
			t.Errorf("run from runconfig: args %q, max %v, env %v", run.Arguments, run.MaxRunDuration, run.Environment.Variables)
		}
		var cfg map[string]any
		if err := json.Unmarshal(run.RunConfiguration, &cfg); err != nil || cfg["script"] != "train.py" {
			t.Errorf("run configuration kept as %s (%v)", run.RunConfiguration, err)
		}
	})

	t.Run("conda and docker are recorded", func(t *testing.T) {
		status, body, h := postMultipart(t, c, env.URL+"/runs/new", submitFields(map[string]string{"envType": "conda", "condaDependencies": "numpy==1.26\nscikit-learn"}), []formFile{goodZipFile(t)}, nil)
		run := created(t, status, body, h)
		var deps string
		if err := json.Unmarshal(run.Environment.CondaDependencies, &deps); err != nil || deps != "numpy==1.26\nscikit-learn" || run.Environment.UserManagedDependencies {
			t.Errorf("conda: %s %v", run.Environment.CondaDependencies, run.Environment.UserManagedDependencies)
		}
		status, body, h = postMultipart(t, c, env.URL+"/runs/new", submitFields(map[string]string{"envType": "docker", "dockerImage": "python:3.12"}), []formFile{goodZipFile(t)}, nil)
		if run := created(t, status, body, h); !run.Environment.DockerEnabled || run.Environment.DockerBaseImage != "python:3.12" {
			t.Errorf("docker: %+v", run.Environment)
		}
	})
}

func TestSubmitFormPageAndRoles(t *testing.T) {
	env := webtest.New(t, webtest.Options{NoDispatcher: true})
	c := env.Browser(t)
	status, d, _ := getPage(t, c, env.URL+"/runs/new?experiment=exp1", nil)
	if status != 200 {
		t.Fatal(status)
	}
	if d.Find("#experiment").AttrOr("value", "") != "exp1" || d.Find(`#target option[selected]`).AttrOr("value", "") != "local" {
		t.Errorf("prefill: experiment %q target %q", d.Find("#experiment").AttrOr("value", ""), d.Find(`#target option[selected]`).AttrOr("value", ""))
	}
	form := d.Find("form#submit-form")
	if form.AttrOr("enctype", "") != "multipart/form-data" || form.AttrOr("hx-encoding", "") != "multipart/form-data" {
		t.Errorf("the form cannot upload files")
	}
	if _, ok := d.Find("#folder").Attr("webkitdirectory"); !ok {
		t.Errorf("the folder picker is not a directory picker")
	}
	if d.Find(`progress#upload-progress`).Length() != 1 || d.Find(`script[src^="/static/js/runs.js?v="][nonce]`).Length() != 1 {
		t.Errorf("no upload progress bar or its script")
	}
	d.Find("input, select, textarea").Each(func(_ int, s *goquery.Selection) {
		id, _ := s.Attr("id")
		typ := s.AttrOr("type", "")
		if typ == "hidden" || s.AttrOr("name", "") == "runconfigClear" {
			return
		}
		if id == "" || d.Find(`label[for="`+id+`"]`).Length() == 0 {
			t.Errorf("input %s (%s) has no label", s.AttrOr("name", ""), id)
		}
	})
	reader := env.TokenFor(t, "rita", compute.RoleReader)
	for _, tc := range []struct{ method, path string }{{"GET", "/runs/new"}, {"POST", "/runs/new"}, {"POST", "/runs/new/upload"}} {
		status, _, _ := webtest.Do(t, http.DefaultClient, tc.method, env.URL+tc.path, url.Values{}, map[string]string{"Authorization": "Bearer " + reader})
		if status != http.StatusForbidden {
			t.Errorf("reader %s %s: %d, want 403", tc.method, tc.path, status)
		}
	}
	for _, p := range []string{"/runs", "/experiments"} {
		status, d, _ := getPage(t, http.DefaultClient, env.URL+p, map[string]string{"Authorization": "Bearer " + reader})
		if status != 200 || d.Find(`a[href^="/runs/new"]`).Length() != 0 {
			t.Errorf("reader %s: %d, submit offered %d times", p, status, d.Find(`a[href^="/runs/new"]`).Length())
		}
	}
	// Cross-site posts are refused before anything is read.
	status, _, _ = webtest.Do(t, c, "POST", env.URL+"/runs/new", submitFields(nil), map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"})
	if status != http.StatusForbidden {
		t.Errorf("cross-site submit: %d", status)
	}
}
