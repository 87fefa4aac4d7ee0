"""Optuna baseline for the HyperDrive regret benchmark (make bench).

Reads a JSON config on stdin: {"functions": [names], "samplers": ["tpe", "random"],
"seeds": N, "trials": T, "checkpoints": [25, 50, ...]} and prints one JSON object:
{"optuna": version, "results": {sampler: {function: {checkpoint: [best-so-far per seed]}}},
"seconds": {sampler: {function: s}}}. The functions are the same as in the Go
benchmark (same boxes, same formulas); Optuna's defaults are used (TPESampler(seed=s),
RandomSampler(seed=s)), one trial at a time.
"""
import json
import math
import sys
import time

import optuna


def branin(x):
    x1, x2 = x
    a, b, c, r, s, t = 1, 5.1 / (4 * math.pi ** 2), 5 / math.pi, 6, 10, 1 / (8 * math.pi)
    return a * (x2 - b * x1 ** 2 + c * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s


ALPHA = [1.0, 1.2, 3.0, 3.2]
A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
P = [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
     [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]


def hartmann6(x):
    s = 0.0
    for i in range(4):
        inner = sum(A[i][j] * (x[j] - P[i][j] * 1e-4) ** 2 for j in range(6))
        s += ALPHA[i] * math.exp(-inner)
    return -s


def camel(x):
    x1, x2 = x
    return (4 - 2.1 * x1 ** 2 + x1 ** 4 / 3) * x1 ** 2 + x1 * x2 + (-4 + 4 * x2 ** 2) * x2 ** 2


def styblinski_tang4(x):
    return sum(v ** 4 - 16 * v ** 2 + 5 * v for v in x) / 2


FUNCS = {
    "branin": (branin, [(-5, 10), (0, 15)]),
    "hartmann6": (hartmann6, [(0, 1)] * 6),
    "camel": (camel, [(-3, 3), (-2, 2)]),
    "styblinski_tang4": (styblinski_tang4, [(-5, 5)] * 4),
}


def main():
    cfg = json.load(sys.stdin)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out = {"optuna": optuna.__version__, "results": {}, "seconds": {}}
    for sampler_name in cfg["samplers"]:
        out["results"][sampler_name] = {}
        out["seconds"][sampler_name] = {}
        for fname in cfg["functions"]:
            f, box = FUNCS[fname]
            per_cp = {str(c): [] for c in cfg["checkpoints"]}
            start = time.time()
            for seed in range(cfg["seeds"]):
                if sampler_name == "tpe":
                    sampler = optuna.samplers.TPESampler(seed=seed)
                else:
                    sampler = optuna.samplers.RandomSampler(seed=seed)
                study = optuna.create_study(direction="minimize", sampler=sampler)
                best = math.inf
                for i in range(1, cfg["trials"] + 1):
                    trial = study.ask()
                    x = [trial.suggest_float("x%d" % (d + 1), lo, hi) for d, (lo, hi) in enumerate(box)]
                    y = f(x)
                    study.tell(trial, y)
                    best = min(best, y)
                    if str(i) in per_cp:
                        per_cp[str(i)].append(best)
            out["results"][sampler_name][fname] = per_cp
            out["seconds"][sampler_name][fname] = time.time() - start
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
