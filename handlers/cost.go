package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/views/pages"
)

// What a compute has cost, on every details page, in the API
// (properties.trainyardCost of GET …/computes/{name}) and in the CLI's
// `computetarget show`: the same compute.Cost (store.CostOf) everywhere.
// The price per node-hour of a target the size catalogue cannot price is
// the Admin's to set: from the details page's form, the API
// (POST …/computes/{name}/updateNodeHourPrice) and the CLI
// (`computetarget update --price-per-node-hour`), each audited.

// costAttributes are the Price, Node hours and Accrued cost lines of a
// compute's Details tab, for a local target (workspace "") or a registered
// workspace's compute alike.
func (h *Handlers) costAttributes(ctx context.Context, workspace string, t *compute.Target) []pages.AttrVM {
	c, err := h.cfg.Store.CostOf(ctx, costWorkspace(workspace), t)
	if err != nil {
		return []pages.AttrVM{{Label: "Accrued cost", Value: "Not known: " + err.Error()}}
	}
	price := fmt.Sprintf("$%.2f a node-hour", c.PricePerNodeHour)
	switch {
	case c.Source == compute.PriceAdmin:
		price += " (set by an Admin)"
	case t.Kind.IsAttached() || workspace != "":
		price += " (estimate: Trainyard's size catalogue, Linux)"
	default:
		// A local cluster or instance runs on this machine: the price is
		// what the same size would cost in Azure, for comparison.
		price += " (estimate: the equivalent Azure size in Trainyard's catalogue)"
	}
	out := []pages.AttrVM{{Label: "Price", Value: price}}
	if c.Since.IsZero() {
		return append(out, pages.AttrVM{Label: "Accrued cost", Value: "No node hours recorded yet."})
	}
	accrued := fmt.Sprintf("$%.2f", c.Accrued)
	if c.Source == compute.PriceCatalogue {
		accrued += " (estimate)"
	}
	return append(out,
		pages.AttrVM{Label: "Node hours", Value: fmt.Sprintf("%.2f since %s", c.NodeHours, formatTime(c.Since))},
		pages.AttrVM{Label: "Accrued cost", Value: accrued})
}

// costWorkspace is the store's name of a workspace: "" is the local one.
func costWorkspace(alias string) string {
	if alias == "" {
		return compute.LocalWorkspace
	}
	return alias
}

// priceForm is the Admin's "Price per node-hour" form for a target the
// catalogue cannot price; nil for everyone else and for priced sizes.
func (h *Handlers) priceForm(r *http.Request, workspace string, t *compute.Target) *pages.PriceFormVM {
	if !compute.UserFrom(r.Context()).Can(compute.RoleAdmin) {
		return nil
	}
	if _, ok := compute.CataloguePrice(t); ok {
		return nil
	}
	c, err := h.cfg.Store.CostOf(r.Context(), costWorkspace(workspace), t)
	if err != nil {
		return nil
	}
	return &pages.PriceFormVM{Action: withWorkspace("/computes/"+url.PathEscape(t.Name)+"/node-hour-price", workspace),
		Value: strconv.FormatFloat(c.PricePerNodeHour, 'f', -1, 64)}
}

// costTarget reads the compute whose price is being set: a local target,
// or (workspace set) what ARM last said of a workspace's compute.
func (h *Handlers) costTarget(r *http.Request, workspace, name string) (*compute.Target, error) {
	if workspace == "" {
		return h.cfg.Store.GetTarget(r.Context(), name)
	}
	ws, err := h.workspaceOfAlias(r.Context(), workspace)
	if err != nil {
		return nil, err
	}
	return h.azureTarget(r, ws, h.azureCredential(r), name)
}

// setNodeHourPrice sets the price per node-hour of a compute (Admins only,
// and only where the catalogue has no price), audited, and returns its cost.
func (h *Handlers) setNodeHourPrice(r *http.Request, workspace, name string, usd float64) (_ compute.Cost, err error) {
	object := name
	if workspace != "" {
		object = workspace + "/" + name
	}
	defer func() { h.audit(r, "updateNodeHourPrice", auditObject("compute", object), err) }()
	if err := require(r, compute.RoleAdmin); err != nil {
		return compute.Cost{}, err
	}
	t, err := h.costTarget(r, workspace, name)
	if err != nil {
		return compute.Cost{}, err
	}
	if _, ok := compute.CataloguePrice(t); ok {
		return compute.Cost{}, compute.Conflictf("PricedByCatalogue", "pricePerNodeHour",
			"%s is priced from the size catalogue (%s); only targets without a catalogue size take a price per node-hour.", t.Name, t.VMSizeName())
	}
	if err := compute.CheckNodeHourPrice(usd); err != nil {
		return compute.Cost{}, err
	}
	ws := costWorkspace(workspace)
	if err := h.cfg.Store.SetNodeHourPrice(r.Context(), ws, t.Name, usd, compute.UserFrom(r.Context()).ID); err != nil {
		return compute.Cost{}, err
	}
	return h.cfg.Store.CostOf(r.Context(), ws, t)
}

// nodeHourPriceRequest is the body of POST …/updateNodeHourPrice.
type nodeHourPriceRequest struct {
	PricePerNodeHour *float64 `json:"pricePerNodeHour"`
}

// APIUpdateNodeHourPrice handles POST /api/v1/computes/{name}/updateNodeHourPrice
// and POST /api/v1/workspaces/{alias}/computes/{name}/updateNodeHourPrice
// {"pricePerNodeHour": 0.42}: the answer is the compute's cost.
func (h *Handlers) APIUpdateNodeHourPrice(w http.ResponseWriter, r *http.Request) error {
	var req nodeHourPriceRequest
	if err := decodeJSON(w, r, maxBodyBytes, &req); err != nil {
		return err
	}
	if req.PricePerNodeHour == nil {
		return compute.Invalid("pricePerNodeHour", "Give pricePerNodeHour, in US dollars.")
	}
	c, err := h.setNodeHourPrice(r, chi.URLParam(r, "alias"), chi.URLParam(r, "name"), *req.PricePerNodeHour)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

// NodeHourPricePage handles POST /computes/{name}/node-hour-price
// [?workspace=ALIAS], the details page's form; the outcome is told on the
// details page.
func (h *Handlers) NodeHourPricePage(w http.ResponseWriter, r *http.Request) error {
	name, alias := chi.URLParam(r, "name"), workspaceParam(r)
	back := withWorkspace("/computes/"+url.PathEscape(name), alias)
	typed := strings.TrimSpace(r.PostFormValue("pricePerNodeHour"))
	usd, perr := strconv.ParseFloat(typed, 64)
	var err error
	if perr != nil {
		err = compute.Invalid("pricePerNodeHour", "Enter the price per node-hour as a number of US dollars, e.g. 0.42.")
	} else {
		_, err = h.setNodeHourPrice(r, alias, name, usd)
	}
	if ve := asValidation(err); ve != nil {
		setFlash(w, "Price not saved: "+ve.For("pricePerNodeHour"))
		http.Redirect(w, r, back, http.StatusSeeOther)
		return nil
	}
	if err != nil {
		return err
	}
	setFlash(w, fmt.Sprintf("Price of %s set to $%s a node-hour.", name, strconv.FormatFloat(usd, 'f', -1, 64)))
	http.Redirect(w, r, back, http.StatusSeeOther)
	return nil
}

// withCost adds properties.trainyardCost to an ARM compute body (a
// registered workspace's compute, as ARM said it); every other value is
// kept as ARM wrote it (the order of object keys is not). A body that is
// not an object is returned as is.
func withCost(body json.RawMessage, c compute.Cost) json.RawMessage {
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil || top == nil {
		return body
	}
	var props map[string]json.RawMessage
	if raw, ok := top["properties"]; ok && json.Unmarshal(raw, &props) != nil {
		return body
	}
	if props == nil {
		props = map[string]json.RawMessage{}
	}
	cost, err := json.Marshal(c)
	if err != nil {
		return body
	}
	props["trainyardCost"] = cost
	if top["properties"], err = json.Marshal(props); err != nil {
		return body
	}
	out, err := json.Marshal(top)
	if err != nil {
		return body
	}
	return out
}
