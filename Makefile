# Trainyard. `make run` starts the server on its embedded defaults; `make test` runs the whole suite.
# Both install what they need on a fresh Debian machine (Go modules, Chromium for the browser test).

GO      ?= go
# ADDR and DATA (make run ADDR=… DATA=…) have no defaults here: unset, `trainyard serve` takes
# TRAINYARD_ADDR / TRAINYARD_DATA from the environment, else 127.0.0.1:8080 and ./data.
export GOTOOLCHAIN ?= local
export BROWSERSLIST_IGNORE_OLD_DATA = 1

.PHONY: run build test test-go generate precompress css check bench deps chromium sklearn sshd slurm sandbox optuna fuzz screenshots clean instance-apps

## run: build and start `trainyard serve` on 127.0.0.1:8080 with data in ./data, or where TRAINYARD_ADDR /
## TRAINYARD_DATA (or make run ADDR=… DATA=…) say (generated files are committed, so no node needed)
run: sandbox
	@echo "building trainyard (the first time takes a few minutes)…"
	@$(GO) build -o bin/trainyard ./cmd/trainyard
	./bin/trainyard serve$(if $(ADDR), --addr $(ADDR))$(if $(DATA), --data $(DATA))

build:
	$(GO) build -o bin/trainyard ./cmd/trainyard

## test: everything CI runs: generated files fresh, gofmt, vet, staticcheck, deadcode, the race-enabled suite (incl. the Chromium
## browser tests: live pages, lists at 1280 px, axe-core accessibility in light and dark mode; the terminal; SSH with OpenSSH's
## client; Jupyter through the proxy)
test: chromium sklearn sshd slurm sandbox instance-apps node_modules/.stamp check test-go

# -p 4: four packages at once. Most tests wait on servers, sshd, Slurm and Chromium rather than
# compute, so two cores stay busy only with more packages under way than cores (README, "Two commands").
# checkptr off for modernc.org/...: -race turns on the compiler's unsafe.Pointer checks everywhere,
# and in the SQLite engine (C translated to Go, pointer arithmetic throughout) they were a third of
# the suite's CPU. Our own code keeps them, and the race detector stays on for every package.
test-go:
	$(GO) test -race -gcflags='modernc.org/...=-d=checkptr=0' -count=1 -p 4 -timeout 15m ./...

## generate: templ components and the Tailwind CSS (needs node/npm for the CSS)
generate: node_modules/.stamp
	$(GO) tool templ generate -log-level warn
	npx tailwindcss -i web/styles/input.css -o static/css/app.css --minify 2>/dev/null
	cp node_modules/htmx.org/dist/htmx.min.js static/js/htmx.min.js
	cp node_modules/htmx-ext-sse/dist/sse.min.js static/js/htmx-ext-sse.min.js
	cp node_modules/@xterm/xterm/lib/xterm.js static/js/xterm.js
	cp node_modules/@xterm/addon-fit/lib/addon-fit.js static/js/addon-fit.js
	cp node_modules/@xterm/xterm/css/xterm.css static/css/xterm.css
	$(MAKE) --no-print-directory precompress

## precompress: brotli and gzip variants of every static asset beside it (static/**/*.br, *.gz; committed),
## which the server sends to browsers that accept them (no node needed)
precompress:
	$(GO) run ./static/gen

## node_modules: the npm dev dependencies: Tailwind and the vendored htmx files for `make generate`,
## axe-core for the accessibility test (Debian's npm is installed if missing)
node_modules/.stamp: package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >/dev/null; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## check: generated files match their sources (templ, CSS, precompressed assets), gofmt clean, go vet, staticcheck and deadcode clean
## (both pinned in go.mod as tools, run with `go tool`)
check:
	$(GO) tool templ generate -check
	@if command -v npm >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory node_modules/.stamp && \
		npx tailwindcss -i web/styles/input.css -o /tmp/trainyard-app.css --minify 2>/dev/null && \
		cmp -s /tmp/trainyard-app.css static/css/app.css || { echo "static/css/app.css is stale: run make generate and commit"; exit 1; }; \
	else echo "npm not found: skipping the CSS freshness check"; fi
	@$(GO) run ./static/gen -check
	@test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '_templ.go$$'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
# deadcode exits 0 even when it finds something, so the step fails on any output. -test makes the
# tests entry points too: a helper only tests call counts as used. Generated *_templ.go files are not
# filtered out: templ emits no helpers of its own into them (its runtime is another module, which
# deadcode's default -filter leaves out), only the components and the Go written in the .templ file,
# so a finding there is real: a component or helper nobody renders; delete it from the .templ file.
	@out="$$($(GO) tool deadcode -test ./...)" || exit 1; \
	test -z "$$out" || { echo "deadcode: unreachable functions (delete them):"; echo "$$out"; exit 1; }

## chromium: the browser test's real browser (Debian's package)
chromium:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

## sandbox: bubblewrap, which contains every run on this machine (`make run` needs it too: the server
## refuses to start without it unless --unsafe-no-sandbox); setpriv (util-linux) drops a run to its own uid
sandbox:
	@command -v bwrap >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bubblewrap >/dev/null; } \
		|| { echo "Runs are sandboxed with bubblewrap, which is not installed: sudo apt-get install bubblewrap"; exit 1; }

## sshd: OpenSSH's server for the SSH backend's tests (they start their own sshd on loopback)
sshd:
	@test -x /usr/sbin/sshd || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-server >/dev/null; }

## instance-apps: what compute instances' applications are tested with: OpenSSH's client (ssh, scp, sftp) against
## the embedded SSH server, whose sftp subsystem is the sftp-server of openssh-sftp-server, and Debian's classic
## Jupyter Notebook (jupyter-notebook) behind the Jupyter proxy
instance-apps:
	@{ command -v ssh >/dev/null 2>&1 && command -v scp >/dev/null 2>&1 && test -x /usr/lib/openssh/sftp-server && command -v jupyter-notebook >/dev/null 2>&1; } || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-client openssh-sftp-server jupyter-notebook >/dev/null; }

## slurm: Slurm 22.05 with slurmrestd and its JWT plugin for the Slurm backend's tests (they start their own
## munged, slurmctld, slurmd and slurmrestd on loopback; auth_jwt.so is only in slurm-wlm-jwt-plugin)
slurm:
	@{ test -x /usr/sbin/slurmctld && test -x /usr/sbin/slurmrestd && ls /usr/lib/*/slurm-wlm/auth_jwt.so >/dev/null 2>&1; } || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm slurmrestd munge slurm-wlm-jwt-plugin >/dev/null; }

## sklearn: Debian's scikit-learn for the real training test (TestRunSklearnDigits runs /usr/bin/python3)
sklearn:
	@/usr/bin/python3 -c 'import sklearn' >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-sklearn >/dev/null; }

## optuna: Debian's python3-optuna 3.1 for the HyperDrive benchmark's baseline (TPE and random, run with /usr/bin/python3)
optuna:
	@/usr/bin/python3 -c 'import optuna' >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-optuna >/dev/null; }

## bench: the compute list with 1,000 targets and the runs list with 100,000 runs under concurrent load,
## change → screen in real Chromium,
## submit→Running on the local target against a bare fork/exec, and HyperDrive: regret against Optuna (20 seeds ×
## 200 trials; BENCH_SEEDS / BENCH_MAX_TRIALS to shorten), sweeps of real child runs, 1,000-child throughput, one
## dispatcher pass with 100,000 ended runs against an empty history,
## submit→RUNNING on a real Slurm cluster through Trainyard against raw sbatch, the Bayesian sampler 8 at a time and
## with early termination, the server's memory with 100,000 runs under load, and a 500-child sweep's submissions to
## Slurm against sbatch in a loop (results: docs/BENCHMARKS.md).
## The whole set takes about 2 h on a 2-core machine, most of it the 20-seed sweeps.
bench: optuna slurm
	$(GO) test -run '^$$' -bench 'ComputeList' -benchtime 2000x -cpu 2 ./handlers/
	$(GO) test -run '^$$' -bench 'PageWeight' -benchtime 1x -cpu 2 ./handlers/
	$(GO) test -run '^$$' -bench 'ChangeToScreen' -benchtime 40x -cpu 2 ./web/
	$(GO) test -run '^$$' -bench 'PagesUnderLoad' -benchtime 1x -cpu 2 ./handlers/
	$(GO) test -run '^$$' -bench 'RunsList100k' -benchtime 2000x -cpu 2 ./handlers/
	$(GO) test -run '^$$' -bench 'RunsPages100k' -benchtime 2000x -cpu 2 ./handlers/
	$(GO) test -run '^$$' -bench 'SubmitToRunning' -benchtime 50x -cpu 2 ./handlers/
	$(GO) test -run '^$$' -bench 'SweepRegret' -benchtime 1x -cpu 2 -timeout 120m ./compute/hyperdrive/
	$(GO) test -run '^$$' -bench 'SweepRealRuns|SweepThroughput' -benchtime 1x -cpu 2 -timeout 120m ./handlers/
	$(GO) test -run '^$$' -bench 'DispatchPass' -benchtime 100x -cpu 2 ./compute/orchestrate/
	$(GO) test -run '^$$' -bench 'SlurmSubmitToRunning' -benchtime 30x -cpu 2 -timeout 30m ./cmd/trainyard/
	$(GO) test -run '^$$' -bench 'BayesianBatch|BayesianEarlyTermination' -benchtime 1x -cpu 2 -timeout 120m ./compute/hyperdrive/
	$(GO) test -run '^$$' -bench 'ServerMemory' -benchtime 1x -cpu 2 -timeout 60m ./cmd/trainyard/
	$(GO) test -run '^$$' -bench 'SlurmSweepBurst' -benchtime 1x -cpu 2 -timeout 60m ./cmd/trainyard/

## screenshots: drive Chromium through the main journeys (the browser tests) and keep the pictures the
## README shows in docs/screenshots/: the compute list, the cluster wizard, a run page, a sweep dashboard
screenshots: chromium sklearn
	@mkdir -p docs/screenshots && rm -f docs/screenshots/*.png
	TRAINYARD_SCREENSHOTS=$(CURDIR)/docs/screenshots $(GO) test -count=1 -run 'TestBrowserCreateClusterWizard|TestBrowserSubmitRunAndWatchIt|TestBrowserHyperdriveSweep' ./web/
	cd docs/screenshots && find . -name '*.png' ! -name compute-list.png ! -name cluster-wizard.png ! -name run-completed.png ! -name sweep-completed.png -delete

## fuzz: a short run of every fuzz target
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzValidateName -fuzztime 20s ./compute/
	$(GO) test -run '^$$' -fuzz FuzzParseResourceID -fuzztime 20s ./compute/
	$(GO) test -run '^$$' -fuzz FuzzParseDuration -fuzztime 20s ./compute/arm/
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 20s -fuzzminimizetime 1s ./compute/runconfig/
	$(GO) test -run '^$$' -fuzz FuzzCheck -fuzztime 20s -fuzzminimizetime 1s ./compute/runconfig/
	$(GO) test -run '^$$' -fuzz FuzzSplitCommand -fuzztime 20s -fuzzminimizetime 1s ./compute/runconfig/
	$(GO) test -run '^$$' -fuzz FuzzUnpack -fuzztime 20s -fuzzminimizetime 1s ./compute/snapshot/
	$(GO) test -run '^$$' -fuzz FuzzParseExit -fuzztime 20s -fuzzminimizetime 1s ./compute/local/
	$(GO) test -run '^$$' -fuzz FuzzSnapshotPath -fuzztime 20s ./store/
	$(GO) test -run '^$$' -fuzz FuzzSetupScripts -fuzztime 20s ./compute/arm/
	$(GO) test -run '^$$' -fuzz FuzzSameOrigin -fuzztime 20s ./handlers/
	$(GO) test -run '^$$' -fuzz FuzzGzipAssembly -fuzztime 20s ./web/pagecache/
	$(GO) test -run '^$$' -fuzz FuzzAcceptsGzip -fuzztime 10s ./web/pagecache/

clean:
	rm -rf bin
