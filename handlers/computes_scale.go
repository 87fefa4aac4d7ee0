package handlers

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/arm"
	"github.com/trainyard/trainyard/views/pages"
)

// Scale settings of a Slurm partition of power-saving (CLOUD) nodes: shown
// on the details page, edited by compute operators from its form, the API
// (POST /api/v1/computes/{name}/updateScaleSettings) and the CLI
// (trainyard computetarget update). The backend (compute/slurm/power.go)
// maps them onto SuspendTime, SuspendExcNodes and drained nodes.

// scaleSettingsJSON is Azure's ScaleSettings.
type scaleSettingsJSON struct {
	MinNodeCount                *int   `json:"minNodeCount,omitempty"`
	MaxNodeCount                *int   `json:"maxNodeCount,omitempty"`
	NodeIdleTimeBeforeScaleDown string `json:"nodeIdleTimeBeforeScaleDown,omitempty"`
}

// updateScaleRequest is the body of POST .../updateScaleSettings.
type updateScaleRequest struct {
	ScaleSettings *scaleSettingsJSON `json:"scaleSettings"`
}

// powerNodesJSON is the partition's power-saving nodes by state.
type powerNodesJSON struct {
	CloudNodes   int `json:"cloudNodeCount"`
	PoweredUp    int `json:"poweredUpNodeCount"`
	Busy         int `json:"busyNodeCount"`
	PoweringUp   int `json:"poweringUpNodeCount"`
	PoweredDown  int `json:"poweredDownNodeCount"`
	PoweringDown int `json:"poweringDownNodeCount"`
	AboveMax     int `json:"aboveMaxNodeCount"`
}

// scaleAnswer is the answer of updateScaleSettings: the settings as read
// back from the cluster after applying them, and its nodes.
type scaleAnswer struct {
	Name          string         `json:"name"`
	ScaleSettings scaleOut       `json:"scaleSettings"`
	Nodes         powerNodesJSON `json:"nodes"`
	Editable      bool           `json:"editable"`
	Note          string         `json:"note,omitempty"`
}

type scaleOut struct {
	MinNodeCount                int    `json:"minNodeCount"`
	MaxNodeCount                int    `json:"maxNodeCount"`
	NodeIdleTimeBeforeScaleDown string `json:"nodeIdleTimeBeforeScaleDown,omitempty"`
}

// apiScaleField is where a settings field sits in the API body.
var apiScaleField = map[string]string{
	compute.FieldMinNodes:    "scaleSettings.minNodeCount",
	compute.FieldMaxNodes:    "scaleSettings.maxNodeCount",
	compute.FieldIdleSeconds: "scaleSettings.nodeIdleTimeBeforeScaleDown",
}

// APIUpdateScaleSettings handles POST /api/v1/computes/{name}/updateScaleSettings
// {"scaleSettings":{"minNodeCount":0,"maxNodeCount":2,"nodeIdleTimeBeforeScaleDown":"PT120S"}}.
// Each field is optional: a missing one keeps the value in force.
func (h *Handlers) APIUpdateScaleSettings(w http.ResponseWriter, r *http.Request) error {
	var req updateScaleRequest
	if err := decodeJSON(w, r, maxBodyBytes, &req); err != nil {
		return err
	}
	name := chi.URLParam(r, "name")
	v := &compute.ValidationError{}
	s := compute.ScaleSettings{MinNodes: keep, MaxNodes: keep, IdleSeconds: keep}
	switch ss := req.ScaleSettings; {
	case ss == nil || (ss.MinNodeCount == nil && ss.MaxNodeCount == nil && ss.NodeIdleTimeBeforeScaleDown == ""):
		v.Add("scaleSettings", "Give scaleSettings with minNodeCount, maxNodeCount or nodeIdleTimeBeforeScaleDown.")
	default:
		if ss.MaxNodeCount != nil {
			s.MaxNodes = *ss.MaxNodeCount
		}
		if ss.MinNodeCount != nil {
			s.MinNodes = *ss.MinNodeCount
		}
		if ss.NodeIdleTimeBeforeScaleDown != "" {
			d, err := arm.ParseDuration(ss.NodeIdleTimeBeforeScaleDown)
			switch {
			case err != nil:
				v.Add(apiScaleField[compute.FieldIdleSeconds], "%v", err)
			case d%time.Second != 0:
				v.Add(apiScaleField[compute.FieldIdleSeconds], "nodeIdleTimeBeforeScaleDown must be whole seconds, e.g. PT120S.")
			default:
				s.IdleSeconds = int(d / time.Second)
			}
		}
	}
	if err := v.Err(); err != nil {
		h.audit(r, "updateScaleSettings", auditObject("compute", name), err)
		return err
	}
	ps, err := h.updateScale(r, name, s)
	if ve := asValidation(err); ve != nil {
		out := &compute.ValidationError{}
		for _, f := range ve.Fields {
			field := f.Field
			if p, ok := apiScaleField[field]; ok {
				field = p
			}
			out.Add(field, "%s", f.Message)
		}
		return out
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, scaleAnswerOf(name, ps))
	return nil
}

func scaleAnswerOf(name string, ps compute.PowerStatus) scaleAnswer {
	a := scaleAnswer{Name: name, Editable: ps.Editable, Note: ps.Why,
		ScaleSettings: scaleOut{MinNodeCount: ps.Settings.MinNodes, MaxNodeCount: ps.Settings.MaxNodes},
		Nodes: powerNodesJSON{CloudNodes: ps.CloudNodes, PoweredUp: ps.PoweredUp, Busy: ps.Busy, PoweringUp: ps.PoweringUp,
			PoweredDown: ps.PoweredDown, PoweringDown: ps.PoweringDown, AboveMax: ps.Excluded}}
	if ps.Settings.IdleSeconds >= 0 {
		a.ScaleSettings.NodeIdleTimeBeforeScaleDown = "PT" + strconv.Itoa(ps.Settings.IdleSeconds) + "S"
	}
	return a
}

// ScaleSettingsPage handles POST /computes/{name}/scale-settings, the
// details page's form. Refused values render the page again with each
// field's error under it and the values as typed.
func (h *Handlers) ScaleSettingsPage(w http.ResponseWriter, r *http.Request) error {
	name := chi.URLParam(r, "name")
	form := &pages.ScaleFormVM{Action: "/computes/" + url.PathEscape(name) + "/scale-settings",
		Min: trimmed(r.PostFormValue(compute.FieldMinNodes)), Max: trimmed(r.PostFormValue(compute.FieldMaxNodes)),
		Idle: trimmed(r.PostFormValue(compute.FieldIdleSeconds))}
	v := &compute.ValidationError{}
	num := func(field, label, s string) int {
		n, err := strconv.Atoi(s)
		if err != nil {
			v.Add(field, "Enter the %s as a whole number.", label)
		}
		return n
	}
	s := compute.ScaleSettings{MinNodes: num(compute.FieldMinNodes, "minimum number of nodes", form.Min),
		MaxNodes: num(compute.FieldMaxNodes, "maximum number of nodes", form.Max), IdleSeconds: num(compute.FieldIdleSeconds, "idle seconds", form.Idle)}
	var err error
	if len(v.Fields) > 0 {
		err = v
		h.audit(r, "updateScaleSettings", auditObject("compute", name), err)
	} else {
		_, err = h.updateScale(r, name, s)
	}
	if ve := asValidation(err); ve != nil {
		form.MinErr, form.MaxErr, form.IdleErr = ve.For(compute.FieldMinNodes), ve.For(compute.FieldMaxNodes), ve.For(compute.FieldIdleSeconds)
		for _, f := range ve.Fields {
			if f.Field != compute.FieldMinNodes && f.Field != compute.FieldMaxNodes && f.Field != compute.FieldIdleSeconds {
				form.Err = f.Message
			}
		}
		return h.renderDetails(w, r, name, "details", detailsExtras{scaleForm: form}, http.StatusUnprocessableEntity)
	}
	if err != nil {
		return err
	}
	setFlash(w, "Scale settings of "+name+" saved: min "+form.Min+", max "+form.Max+", idle "+form.Idle+" s.")
	http.Redirect(w, r, "/computes/"+url.PathEscape(name), http.StatusSeeOther)
	return nil
}

// keep marks a setting the request leaves as it is (real values are ≥ 0,
// and negative ones given by a user are refused before they get here).
const keep = math.MinInt

// updateScale applies scale settings to a Slurm target (compute
// operators), audited, and returns the state read back. A setting that is
// keep stays as it is.
func (h *Handlers) updateScale(r *http.Request, name string, s compute.ScaleSettings) (_ compute.PowerStatus, err error) {
	defer func() { h.audit(r, "updateScaleSettings", auditObject("compute", name), err) }()
	if err := require(r, compute.RoleComputeOperator); err != nil {
		return compute.PowerStatus{}, err
	}
	ctx := r.Context()
	t, err := h.cfg.Store.GetTarget(ctx, name)
	if err != nil {
		return compute.PowerStatus{}, err
	}
	pm := h.cfg.Backends.Capabilities(t.Kind).ScaleSettings
	if pm == nil {
		return compute.PowerStatus{}, compute.Conflictf("OperationNotSupported", "name", "%s is a %s; scale settings here apply to Slurm partitions of power-saving nodes.", name, t.Kind.Label())
	}
	if t.ProvisioningState != compute.ProvisioningSucceeded {
		return compute.PowerStatus{}, compute.Conflictf("OperationNotAllowed", "state", "%s is %s; scale settings can be changed once it is attached.", name, t.ProvisioningState)
	}
	if s.MinNodes == keep || s.MaxNodes == keep || s.IdleSeconds == keep {
		cur, err := pm.PowerStatus(ctx, t)
		if err != nil {
			return compute.PowerStatus{}, err
		}
		fill := func(p *int, v, def int) {
			if *p == keep {
				*p = v
				if v < 0 { // not readable: power saving off, or no slurm.conf
					*p = def
				}
			}
		}
		fill(&s.MinNodes, cur.Settings.MinNodes, 0)
		fill(&s.MaxNodes, cur.Settings.MaxNodes, cur.CloudNodes)
		fill(&s.IdleSeconds, cur.Settings.IdleSeconds, compute.DefaultIdleSeconds)
	}
	if err := pm.UpdateScale(ctx, t, s); err != nil {
		return compute.PowerStatus{}, err
	}
	if h.cfg.Clusters != nil {
		h.cfg.Clusters.Kick()
	}
	return pm.PowerStatus(ctx, t)
}

// scaleVM is the Scale settings section of a Slurm target's Details tab;
// nil for other kinds and for partitions without power-saving nodes. form
// carries refused values back.
func (h *Handlers) scaleVM(ctx context.Context, t *compute.Target, form *pages.ScaleFormVM) *pages.ScaleVM {
	pm := h.cfg.Backends.Capabilities(t.Kind).ScaleSettings
	if pm == nil || t.ProvisioningState != compute.ProvisioningSucceeded {
		return nil
	}
	ps, err := pm.PowerStatus(ctx, t)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			h.cfg.Logger.WarnContext(ctx, "reading power-saving settings", "target", t.Name, "err", err)
		}
		return nil
	}
	if ps.CloudNodes == 0 {
		return nil
	}
	known := func(n int, unit string) string {
		if n < 0 {
			return "unknown"
		}
		return strings.TrimSpace(strconv.Itoa(n) + " " + unit)
	}
	vm := &pages.ScaleVM{CloudNodes: ps.CloudNodes, Min: known(ps.Settings.MinNodes, ""), Max: strconv.Itoa(ps.Settings.MaxNodes),
		Idle: known(ps.Settings.IdleSeconds, ""), PoweredUp: ps.PoweredUp, PoweringUp: ps.PoweringUp, PoweredDown: ps.PoweredDown,
		Busy: ps.Busy, Excluded: ps.Excluded, Note: ps.Why}
	if ps.Settings.IdleSeconds < 0 && ps.Why == "" {
		vm.Idle = "never (power saving is off)"
	}
	if !ps.Editable || !compute.UserFrom(ctx).Can(compute.RoleComputeOperator) {
		return vm
	}
	if form == nil {
		form = &pages.ScaleFormVM{Action: "/computes/" + url.PathEscape(t.Name) + "/scale-settings",
			Min: strconv.Itoa(max(ps.Settings.MinNodes, 0)), Max: strconv.Itoa(ps.Settings.MaxNodes), Idle: strconv.Itoa(max(ps.Settings.IdleSeconds, compute.DefaultIdleSeconds))}
		if ps.Settings.IdleSeconds >= 0 {
			form.Idle = strconv.Itoa(ps.Settings.IdleSeconds)
		}
	}
	vm.Form = form
	return vm
}
