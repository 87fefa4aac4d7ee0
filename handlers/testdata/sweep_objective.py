"""A sweep trial for the HyperDrive benchmark: evaluates a test function at
--x1 .. --xn (--fn NAME) and logs it once as the metric "value" through the
tracking API (MLflow REST, as mlflow.log_metric does). With --fn noop it
does nothing (the throughput benchmark)."""
import json
import math
import os
import sys
import time
import urllib.request

a = dict(zip(sys.argv[1::2], sys.argv[2::2]))
fn = a.get("--fn", "noop")
if fn == "noop":
    sys.exit(0)
x = [float(a["--x%d" % (i + 1)]) for i in range(len([k for k in a if k.startswith("--x")]))]


def branin(x):
    x1, x2 = x
    b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1 ** 2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


ALPHA = [1.0, 1.2, 3.0, 3.2]
A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
P = [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
     [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]


def hartmann6(x):
    return -sum(ALPHA[i] * math.exp(-sum(A[i][j] * (x[j] - P[i][j] * 1e-4) ** 2 for j in range(6))) for i in range(4))


def camel(x):
    x1, x2 = x
    return (4 - 2.1 * x1 ** 2 + x1 ** 4 / 3) * x1 ** 2 + x1 * x2 + (-4 + 4 * x2 ** 2) * x2 ** 2


def styblinski_tang4(x):
    return sum(v ** 4 - 16 * v ** 2 + 5 * v for v in x) / 2


y = {"branin": branin, "hartmann6": hartmann6, "camel": camel, "styblinski_tang4": styblinski_tang4}[fn](x)
body = {"run_id": os.environ["MLFLOW_RUN_ID"], "key": "value", "value": y, "timestamp": int(time.time() * 1000), "step": 0}
req = urllib.request.Request(os.environ["MLFLOW_TRACKING_URI"].rstrip("/") + "/api/2.0/mlflow/runs/log-metric",
                             data=json.dumps(body).encode(), method="POST",
                             headers={"Content-Type": "application/json",
                                      "Authorization": "Bearer " + os.environ["MLFLOW_TRACKING_TOKEN"]})
urllib.request.urlopen(req, timeout=30).read()
