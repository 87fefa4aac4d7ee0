package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/a-h/templ"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/views/components"
	"github.com/trainyard/trainyard/views/layout"
	"github.com/trainyard/trainyard/views/pages"
)

// formSpec describes one create wizard or attach form; wizard.go runs them all.
type formSpec struct {
	id         string // URL segment: cluster, instance, virtualmachine, ...
	path       string // where the form posts
	heading    string
	intro      string
	crumbTab   string
	steps      []string   // empty: a one-page form
	stepFields [][]string // the fields each step owns (for errors and hidden carry-over)
	secrets    []string   // fields that hold secrets: never rendered back
	pickerStep int        // step with the VM size picker, -1 for none
	// build turns form values into a request; parse problems are field errors.
	build func(v url.Values, secrets map[string]string, user string) (*compute.CreateRequest, *compute.ValidationError)
	// inputs are the fields of one step.
	inputs  func(step int, v url.Values) []components.Input
	review  func(req *compute.CreateRequest) []pages.AttrVM
	choices []pages.TabVM
}

// fieldsOf returns every field the form owns, in step order.
func (f *formSpec) fieldsOf() []string {
	var all []string
	for _, s := range f.stepFields {
		all = append(all, s...)
	}
	return all
}

func (f *formSpec) stepOf(field string) int {
	for i, fs := range f.stepFields {
		if slices.Contains(fs, field) {
			return i
		}
	}
	return 0
}

// showForm handles GET of a form: step 1 with defaults.
func (h *Handlers) showForm(f *formSpec) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := require(r, compute.RoleComputeOperator); err != nil {
			return err
		}
		return h.renderForm(w, r, f, 0, r.URL.Query(), "", nil, http.StatusOK)
	}
}

// postForm handles POST of a form: Back, Next (validates the step) or Create.
func (h *Handlers) postForm(f *formSpec) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := require(r, compute.RoleComputeOperator); err != nil {
			return err
		}
		if err := r.ParseForm(); err != nil {
			return compute.Invalid("form", "the form could not be read: %v", err)
		}
		v := r.PostForm
		owner := compute.UserFrom(r.Context()).ID
		draftID := h.drafts.put(owner, v.Get("draft"), pick(v, f.secrets))
		secrets := h.drafts.get(owner, draftID)
		step, _ := strconv.Atoi(v.Get("step"))
		step = max(0, min(step, max(len(f.steps)-1, 0)))

		switch v.Get("nav") {
		case "back":
			return h.renderForm(w, r, f, max(step-1, 0), v, draftID, nil, http.StatusOK)
		case "next":
			errs, err := h.checkForm(r, f, v, secrets)
			if err != nil {
				return err
			}
			if mine := errs.only(f.stepFields[step]); mine != nil {
				return h.renderForm(w, r, f, step, v, draftID, mine, http.StatusUnprocessableEntity)
			}
			return h.renderForm(w, r, f, step+1, v, draftID, nil, http.StatusOK)
		}
		req, verrs := f.build(v, secrets, actor(r))
		if verrs != nil {
			return h.renderForm(w, r, f, f.stepOf(verrs.Fields[0].Field), v, draftID, verrs, http.StatusUnprocessableEntity)
		}
		if alias := workspaceParam(r); alias != "" {
			err := h.createInWorkspace(r, alias, req)
			if verrs := asValidation(err); verrs != nil {
				return h.renderForm(w, r, f, f.stepOf(verrs.Fields[0].Field), v, draftID, verrs, http.StatusUnprocessableEntity)
			}
			if err != nil {
				return err
			}
			h.drafts.drop(draftID)
			setFlash(w, req.Name+" is being created in "+alias+".")
			http.Redirect(w, r, withWorkspace("/computes/"+url.PathEscape(req.Name), alias), http.StatusSeeOther)
			return nil
		}
		t, err := h.createTarget(r.Context(), req)
		if verrs := asValidation(err); verrs != nil {
			return h.renderForm(w, r, f, f.stepOf(verrs.Fields[0].Field), v, draftID, verrs, http.StatusUnprocessableEntity)
		}
		var coded *compute.CodedError
		if errors.As(err, &coded) && (coded.Target == compute.FieldName || coded.Code == "AlreadyAttached") {
			ve := &compute.ValidationError{}
			ve.Add(coded.Target, "%s", coded.Message)
			return h.renderForm(w, r, f, f.stepOf(coded.Target), v, draftID, ve, http.StatusConflict)
		}
		if err != nil {
			return err
		}
		h.drafts.drop(draftID)
		setFlash(w, t.Name+" is being created.")
		http.Redirect(w, r, "/computes/"+url.PathEscape(t.Name), http.StatusSeeOther)
		return nil
	}
}

// validateField handles POST {form}/validate?field=x: the live check as the
// user types. It answers with that field's error element only.
func (h *Handlers) validateField(f *formSpec) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := require(r, compute.RoleComputeOperator); err != nil {
			return err
		}
		if err := r.ParseForm(); err != nil {
			return compute.Invalid("form", "the form could not be read: %v", err)
		}
		field := r.URL.Query().Get("field")
		owner := compute.UserFrom(r.Context()).ID
		secrets := h.drafts.get(owner, r.PostForm.Get("draft"))
		for k, v := range pick(r.PostForm, f.secrets) {
			if v != "" {
				secrets[k] = v
			}
		}
		errs, err := h.checkForm(r, f, r.PostForm, secrets)
		if err != nil {
			return err
		}
		parts := []templ.Component{components.FieldError(field, errs.For(field))}
		for _, other := range linkedFields(field) {
			parts = append(parts, components.FieldErrorOOB(other, errs.For(other)))
		}
		return h.render(w, r, http.StatusOK, templ.Join(parts...))
	}
}

// linkedFields are fields one rule ties together: a change of one re-checks
// the other's message too.
func linkedFields(field string) []string {
	switch field {
	case compute.FieldMinNodes:
		return []string{compute.FieldMaxNodes}
	case compute.FieldMaxNodes:
		return []string{compute.FieldMinNodes}
	}
	return nil
}

// checkForm runs every rule, including the name's uniqueness.
func (h *Handlers) checkForm(r *http.Request, f *formSpec, v url.Values, secrets map[string]string) (fieldErrors, error) {
	req, verrs := f.build(v, secrets, actor(r))
	all := &compute.ValidationError{}
	if verrs != nil {
		all.Fields = append(all.Fields, verrs.Fields...)
	} else if ve := asValidation(req.Validate()); ve != nil {
		all.Fields = append(all.Fields, ve.Fields...)
	}
	if all.For(compute.FieldName) == "" {
		taken, err := h.nameTaken(r.Context(), trimmed(v.Get(compute.FieldName)))
		if err != nil {
			return fieldErrors{}, err
		}
		if taken != "" {
			all.Add(compute.FieldName, "%s", taken)
		}
	}
	return fieldErrors{all}, nil
}

// fieldErrors wraps a ValidationError with step filtering.
type fieldErrors struct{ *compute.ValidationError }

// only keeps the errors of the named fields, or nil when there are none.
func (e fieldErrors) only(fields []string) *compute.ValidationError {
	if e.ValidationError == nil {
		return nil
	}
	out := &compute.ValidationError{}
	for _, fe := range e.Fields {
		if slices.Contains(fields, fe.Field) {
			out.Fields = append(out.Fields, fe)
		}
	}
	if len(out.Fields) == 0 {
		return nil
	}
	return out
}

// renderForm shows one step with the user's values and errors kept.
func (h *Handlers) renderForm(w http.ResponseWriter, r *http.Request, f *formSpec, step int, v url.Values, draftID string, errs *compute.ValidationError, status int) error {
	alias := workspaceParam(r)
	vm := pages.FormVM{
		Heading: f.heading, Intro: f.intro, Action: withWorkspace(f.path, alias), Steps: f.steps, Step: step,
		DraftID: draftID, CancelHref: withWorkspace("/computes?tab="+f.crumbTab, alias), KindChoices: f.choices,
	}
	if alias != "" {
		vm.Heading += " in " + alias
		// An Azure workspace's attach forms: the kinds it takes, kept in it.
		vm.KindChoices = nil
		for _, c := range f.choices {
			if k := attachKind(c.ID); k == "" || azureFormKind(k) {
				c.Href = withWorkspace(c.Href, alias)
				vm.KindChoices = append(vm.KindChoices, c)
			}
		}
	} else {
		vm.KindChoices = slices.Clone(f.choices)
	}
	for i := range vm.KindChoices {
		vm.KindChoices[i].Current = vm.KindChoices[i].ID == f.id
	}
	vm.Page = h.page(r, f.heading, "compute", []layout.Crumb{{Label: "Compute", Href: "/computes"}, {Label: f.heading}})
	if errs != nil && len(errs.Fields) > 0 {
		vm.Summary = fmt.Sprintf("Fix %d problem(s) below to continue.", len(errs.Fields))
	}
	live := func(name string) templ.Attributes {
		return templ.Attributes{
			"hx-post": f.path + "/validate?field=" + url.QueryEscape(name), "hx-trigger": "input changed delay:400ms, change",
			"hx-target": "#" + components.ErrorID(name), "hx-swap": "outerHTML", "hx-include": "closest form",
		}
	}
	current := map[string]bool{}
	if len(f.stepFields) > 0 {
		for _, name := range f.stepFields[step] {
			current[name] = true
		}
	}
	for _, in := range f.inputs(step, v) {
		in.Error = errs.For(in.Name)
		if slices.Contains(f.secrets, in.Name) {
			in.Value = "" // secrets are never rendered back
			if h.drafts.get(compute.UserFrom(r.Context()).ID, draftID)[in.Name] != "" {
				in.Hint = "Set. Leave blank to keep what you typed, or type a new one."
			}
		}
		in.Live = live(in.Name)
		vm.Fields = append(vm.Fields, in)
	}
	if f.pickerStep == step {
		vm.SizePicker = sizePicker(v.Get(compute.FieldVMSize), v.Get(compute.FieldVMPriority), v.Get(compute.FieldVMType), errs.For(compute.FieldVMSize))
		if alias == "" { // the local workspace: nodes run on this machine
			h.machineShare(vm.SizePicker)
		}
		if h.cfg.Assets != nil {
			vm.Page.Scripts = append(vm.Page.Scripts, h.cfg.Assets.URL("js/forms.js"))
		}
	}
	for _, name := range f.fieldsOf() {
		if !current[name] && !slices.Contains(f.secrets, name) && !(f.pickerStep == step && name == compute.FieldVMSize) {
			for _, val := range v[name] {
				vm.Hidden = append(vm.Hidden, pages.HiddenVM{Name: name, Value: val})
			}
		}
	}
	if len(f.steps) > 0 && step == len(f.steps)-1 {
		if req, verrs := f.build(v, h.drafts.get(compute.UserFrom(r.Context()).ID, draftID), actor(r)); verrs == nil {
			_ = req.Validate() // canonicalises values for the review; errors show on Create
			vm.Review = f.review(req)
			if alias != "" {
				vm.Quota = h.wizardQuota(r, alias, req)
			}
		}
	}
	return h.render(w, r, status, pages.Form(vm))
}

func sizePicker(selected, priority, vmType, errMsg string) *pages.SizePickerVM {
	p := compute.Dedicated
	if priority == string(compute.LowPriority) {
		p = compute.LowPriority
	}
	if s, ok := compute.LookupVMSize(selected); ok {
		selected = s.Name
	}
	out := &pages.SizePickerVM{Selected: selected, Priority: string(p), Error: errMsg}
	for _, s := range compute.VMSizes() {
		if (vmType == "GPU" && !s.IsGPU()) || (vmType == "CPU" && s.IsGPU()) {
			continue
		}
		gpus := "–"
		if s.GPUs > 0 {
			gpus = fmt.Sprintf("%d× %s", s.GPUs, s.GPUModel)
		}
		out.Rows = append(out.Rows, pages.SizeRowVM{
			Name: s.Name, Category: s.Category, VCPUs: s.VCPUs, MemoryGB: strconv.FormatFloat(s.MemoryGB, 'g', -1, 64),
			GPUs: gpus, Price: fmt.Sprintf("$%.2f", s.Price(p)),
			Search: strings.ToLower(strings.Join([]string{s.Name, s.Category, s.Family, s.GPUModel}, " ")),
		})
	}
	return out
}

// pick returns the named form values.
func pick(v url.Values, names []string) map[string]string {
	out := map[string]string{}
	for _, n := range names {
		out[n] = v.Get(n)
	}
	return out
}

// intField parses a whole number field, recording a field error when it is not one.
func intField(v url.Values, name, label string, def int, errs *compute.ValidationError) int {
	s := trimmed(v.Get(name))
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		errs.Add(name, "%s must be a whole number (got %q).", label, s)
		return def
	}
	return n
}

func withDefault(v url.Values, name, def string) string {
	if s := trimmed(v.Get(name)); s != "" {
		return s
	}
	return def
}
