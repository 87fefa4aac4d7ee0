package handlers_test

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/web/webtest"
)

// debianPython is Debian's interpreter, where apt's python3-sklearn lives.
const debianPython = "/usr/bin/python3"

// digitsPy trains a linear classifier on scikit-learn's bundled digits data
// for a few epochs, logs the test accuracy of each epoch over the tracking
// API (plain HTTP, as a script without mlflow does) and saves the model.
const digitsPy = `import json, os, pickle, sys, time, urllib.request
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split

def post(path, body):
    req = urllib.request.Request(os.environ["MLFLOW_TRACKING_URI"] + "/api/2.0/mlflow/" + path,
        data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": "Bearer " + os.environ["MLFLOW_TRACKING_TOKEN"]})
    urllib.request.urlopen(req, timeout=10).read()

rid = os.environ["MLFLOW_RUN_ID"]
epochs = int(sys.argv[sys.argv.index("--epochs") + 1])
X, y = load_digits(return_X_y=True)
X = X / 16.0
Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=0)
clf = SGDClassifier(loss="log_loss", random_state=0)
post("runs/log-batch", {"run_id": rid, "params": [{"key": "epochs", "value": str(epochs)}, {"key": "model", "value": "SGDClassifier"}]})
for epoch in range(epochs):
    clf.partial_fit(Xtr, ytr, classes=list(range(10)))
    acc = float(clf.score(Xte, yte))
    print("epoch %d accuracy %.4f" % (epoch, acc), flush=True)
    post("runs/log-metric", {"run_id": rid, "key": "accuracy", "value": acc, "timestamp": int(time.time() * 1000), "step": epoch})
os.makedirs("outputs", exist_ok=True)
pickle.dump(clf, open("outputs/model.pkl", "wb"))
print("saved outputs/model.pkl", flush=True)
`

// TestRunSklearnDigits trains on sklearn's digits with Debian's python3 and
// python3-sklearn (make test installs it; outside CI the test is skipped
// when it is missing) and checks the metric history, the outputs and the
// log.
func TestRunSklearnDigits(t *testing.T) {
	if err := exec.Command(debianPython, "-c", "import sklearn").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("python3-sklearn is missing in CI (make test installs it): %v", err)
		}
		t.Skip("Debian's python3-sklearn is not installed (apt-get install python3-sklearn)")
	}
	t.Parallel()
	env := webtest.New(t, webtest.Options{})
	snap := uploadFolder(t, env, map[string]string{"train.py": digitsPy})
	const epochs = 5
	run := submit(t, env, "digits", snap, "train.py", []string{"--epochs", "5"}, map[string]any{
		"environment": map[string]any{"python": map[string]any{"userManagedDependencies": true, "interpreterPath": debianPython}},
	})
	log := readLog(t, env, run.RunID)
	got := waitStatus(t, env, run.RunID, 60*time.Second, "to end", terminal)
	if got.Status != "Completed" {
		t.Fatalf("run %s (%s); log:\n%s", got.Status, got.Error, log)
	}
	var hist struct {
		Value []struct {
			Step  int64   `json:"step"`
			Value float64 `json:"value"`
		} `json:"value"`
	}
	apiJSON(t, env, "GET", "/api/v1/runs/"+run.RunID+"/metrics/accuracy", nil, 200, &hist)
	if len(hist.Value) != epochs {
		t.Fatalf("accuracy history has %d points, want %d", len(hist.Value), epochs)
	}
	for i, p := range hist.Value {
		if p.Step != int64(i) || p.Value <= 0.5 || p.Value > 1 {
			t.Fatalf("point %d: %+v", i, p)
		}
	}
	if acc := got.Metrics["accuracy"]; acc == nil || *acc < 0.85 || *acc != hist.Value[epochs-1].Value {
		t.Fatalf("final accuracy %v (history %+v)", acc, hist.Value)
	}
	if got.Params["epochs"] != "5" || got.Params["model"] != "SGDClassifier" {
		t.Fatalf("params %v", got.Params)
	}
	if !strings.Contains(log, "epoch 4 accuracy") || !strings.Contains(log, "saved outputs/model.pkl") {
		t.Fatalf("log:\n%s", log)
	}
	var outs struct {
		Value []struct {
			Path string `json:"path"`
			Size int64  `json:"size"`
		} `json:"value"`
	}
	apiJSON(t, env, "GET", "/api/v1/runs/"+run.RunID+"/outputs", nil, 200, &outs)
	i := slices.IndexFunc(outs.Value, func(o struct {
		Path string `json:"path"`
		Size int64  `json:"size"`
	}) bool {
		return o.Path == "outputs/model.pkl"
	})
	if i < 0 || outs.Value[i].Size < 1000 {
		t.Fatalf("outputs %+v", outs.Value)
	}
}
