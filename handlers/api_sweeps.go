package handlers

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/hyperdrive"
	"github.com/trainyard/trainyard/compute/runconfig"
)

// sweepRequest is the body of POST /api/v1/sweeps (docs/API-runs.md): a
// run submit (the children's script, arguments, snapshot, target,
// environment) plus the sweep, as the hdconfig YAML text or its parsed form.
type sweepRequest struct {
	submitRequest
	// HyperdriveConfiguration is the hdconfig.yml text of az ml v1.
	HyperdriveConfiguration string `json:"hyperdriveConfiguration"`
	// Sweep is the hdconfig in its parsed (JSON) form, as runconfig.HDConfig.
	Sweep *runconfig.HDConfig `json:"sweep"`
	// Seed makes sampling reproducible; drawn at random when absent.
	Seed *uint64 `json:"seed"`
}

// APISubmitSweep handles POST /api/v1/sweeps: it checks the run part as
// POST /api/v1/runs does and the sweep as `az ml` would, and creates the
// parent run (kind hyperdrive, Running); the dispatcher's sweep driver
// submits the children. Answer: 201 with the parent run, plus warnings.
func (h *Handlers) APISubmitSweep(w http.ResponseWriter, r *http.Request) error {
	var req sweepRequest
	if err := decodeJSON(w, r, maxSubmitBody, &req); err != nil {
		return err
	}
	run, warnings, err := h.createSweep(r, &req)
	if err != nil {
		return err
	}
	full, err := h.cfg.Store.GetRun(r.Context(), run.ID)
	if err != nil {
		return err
	}
	out := toAPIRun(full, true)
	out.Warnings = warnings
	w.Header().Set("Location", "/api/v1/runs/"+run.ID)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// createSweep checks a sweep request and stores its parent run. It is the
// one code path of POST /api/v1/sweeps and the browser's HyperDrive form,
// so a sweep from either is held to the same rules.
func (h *Handlers) createSweep(r *http.Request, req *sweepRequest) (*compute.Run, []string, error) {
	hd := req.Sweep
	switch {
	case req.HyperdriveConfiguration != "" && hd != nil:
		return nil, nil, compute.Invalid("sweep", "Give the sweep once: hyperdriveConfiguration (YAML) or sweep (JSON), not both.")
	case req.HyperdriveConfiguration != "":
		var err error
		if hd, err = runconfig.ParseHDConfig("hdconfig", []byte(req.HyperdriveConfiguration)); err != nil {
			return nil, nil, compute.Invalid("hyperdriveConfiguration", "%s", err.Error())
		}
	case hd == nil:
		return nil, nil, compute.Invalid("hyperdriveConfiguration", "Give the sweep: the hdconfig YAML as hyperdriveConfiguration, or its parsed form as sweep.")
	}
	if hd.File == "" {
		hd.File = "hdconfig"
	}
	seed := uint64(0)
	if req.Seed != nil {
		seed = *req.Seed
	} else {
		var b [8]byte
		_, _ = rand.Read(b[:])
		seed = binary.LittleEndian.Uint64(b[:])
	}
	sw, warnings, err := hyperdrive.FromHDConfig(hd, seed)
	if err != nil {
		field := "sweep"
		var fe *hyperdrive.FieldError
		if errors.As(err, &fe) {
			field = "sweep." + fe.Field
		}
		return nil, nil, compute.Invalid(field, "%s", err.Error())
	}
	if req.ParentRunID != "" {
		return nil, nil, compute.Invalid("parentRunId", "A sweep cannot be the child of another run.")
	}
	run, err := h.newRun(r, &req.submitRequest)
	if err != nil {
		return nil, nil, err
	}
	run.Kind, run.Sweep = compute.RunKindHyperdrive, sw
	run.Status, run.StatusReason, run.StartedAt = compute.RunRunning, "the sweep is starting its children", time.Now()
	err = h.cfg.Store.CreateRun(r.Context(), run)
	h.audit(r, "submit", "run/"+run.ID, err)
	if err != nil {
		return nil, nil, err
	}
	h.kickRuns()
	return run, warnings, nil
}

// apiSweep is a sweep parent's definition in its run JSON.
type apiSweep struct {
	Sampling           string            `json:"sampling"`
	Seed               uint64            `json:"seed"`
	Parameters         []apiSweepParam   `json:"parameterSpace"`
	Policy             string            `json:"policy"`
	PolicySettings     hyperdrive.Policy `json:"policySettings"`
	PrimaryMetricName  string            `json:"primaryMetricName"`
	PrimaryMetricGoal  string            `json:"primaryMetricGoal"`
	MaxTotalRuns       int               `json:"maxTotalRuns"`
	MaxConcurrentRuns  int               `json:"maxConcurrentRuns"`
	MaxDurationMinutes int               `json:"maxDurationMinutes"`
}

type apiSweepParam struct {
	Name       string `json:"name"`
	Expression string `json:"expression"`
	Values     []any  `json:"values"`
}

func toAPISweep(s *hyperdrive.Sweep) *apiSweep {
	pk := string(s.Policy.Kind)
	if pk == "" {
		pk = string(hyperdrive.NoTermination)
	}
	out := &apiSweep{Sampling: string(s.Sampling), Seed: s.Seed, Policy: pk, PolicySettings: s.Policy,
		PrimaryMetricName: s.PrimaryMetric, PrimaryMetricGoal: s.Goal.String(), MaxTotalRuns: s.MaxTotalRuns,
		MaxConcurrentRuns: s.ConcurrentRuns(), MaxDurationMinutes: s.DurationMinutes(), Parameters: []apiSweepParam{}}
	for _, p := range s.Space {
		ap := apiSweepParam{Name: p.Name, Expression: string(p.Expr.Kind), Values: []any{}}
		for _, a := range p.Expr.Args {
			ap.Values = append(ap.Values, a)
		}
		for _, o := range p.Expr.Options {
			if o.IsString {
				ap.Values = append(ap.Values, o.Str)
			} else {
				ap.Values = append(ap.Values, json.Number(o.String()))
			}
		}
		out.Parameters = append(out.Parameters, ap)
	}
	return out
}
