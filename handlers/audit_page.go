package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/store"
	"github.com/trainyard/trainyard/views/components"
	"github.com/trainyard/trainyard/views/layout"
	"github.com/trainyard/trainyard/views/pages"
)

// auditPageSize is how many events a page of the audit log shows.
const auditPageSize = 50

func auditTabs(sessions bool) []components.TabItem {
	return []components.TabItem{
		{ID: "audit-events", Label: "Events", Href: "/audit", Current: !sessions},
		{ID: "audit-sessions", Label: "Sessions", Href: "/audit/sessions", Current: sessions},
	}
}

// AuditLog handles GET /audit?q=&outcome=&offset= (Admin): who did what,
// when, and every refused attempt, newest first.
func (h *Handlers) AuditLog(w http.ResponseWriter, r *http.Request) error {
	if err := require(r, compute.RoleAdmin); err != nil {
		return err
	}
	q := r.URL.Query()
	f := store.AuditFilter{Query: q.Get("q"), Outcome: q.Get("outcome"), Limit: auditPageSize}
	switch f.Outcome {
	case "", store.AuditSucceeded, store.AuditDenied, store.AuditFailed:
	default:
		f.Outcome = ""
	}
	f.Offset, _ = strconv.Atoi(q.Get("offset"))
	f.Offset = max(f.Offset, 0)
	events, total, err := h.cfg.Store.ListAudit(r.Context(), f)
	if err != nil {
		return err
	}
	vm := pages.AuditVM{
		Page: h.page(r, "Audit log", "audit", []layout.Crumb{{Label: "Audit log"}}),
		Tabs: auditTabs(false), Query: f.Query, Outcome: f.Outcome,
	}
	for _, o := range []struct{ v, l string }{{"", "All"}, {store.AuditSucceeded, "Succeeded"}, {store.AuditDenied, "Denied"}, {store.AuditFailed, "Failed"}} {
		vm.Outcomes = append(vm.Outcomes, pages.OptionVM{Value: o.v, Label: o.l, Selected: o.v == f.Outcome})
	}
	for _, e := range events {
		who := e.UserName
		if who == "" {
			who = e.UserID
		}
		if who == "" {
			who = "(not signed in)"
		}
		role := ""
		if e.Role != compute.RoleNone {
			role = e.Role.String()
		}
		vm.Events = append(vm.Events, pages.AuditRowVM{When: e.At.UTC().Format("2006-01-02 15:04:05"), User: who, UserID: e.UserID, Role: role,
			Action: e.Action, Object: e.Object, Outcome: e.Outcome, Detail: e.Detail, Remote: e.Remote})
	}
	page := func(offset int) string {
		v := url.Values{}
		if f.Query != "" {
			v.Set("q", f.Query)
		}
		if f.Outcome != "" {
			v.Set("outcome", f.Outcome)
		}
		if offset > 0 {
			v.Set("offset", strconv.Itoa(offset))
		}
		if len(v) == 0 {
			return "/audit"
		}
		return "/audit?" + v.Encode()
	}
	if total > 0 && len(events) > 0 {
		vm.PageText = fmt.Sprintf("%d–%d of %d", f.Offset+1, f.Offset+len(events), total)
	}
	if f.Offset > 0 {
		vm.PrevURL = page(max(0, f.Offset-auditPageSize))
	}
	if f.Offset+len(events) < total {
		vm.NextURL = page(f.Offset + auditPageSize)
	}
	return h.render(w, r, http.StatusOK, pages.Audit(vm))
}

// AuditSessions handles GET /audit/sessions (Admin): every live session,
// each with an End session button.
func (h *Handlers) AuditSessions(w http.ResponseWriter, r *http.Request) error {
	if err := require(r, compute.RoleAdmin); err != nil {
		return err
	}
	sessions, err := h.cfg.Store.ListSessions(r.Context(), "")
	if err != nil {
		return err
	}
	current := ""
	if c, err := r.Cookie(h.SessionCookieName()); err == nil && c.Value != "" {
		current = store.SessionHandle(c.Value)
	}
	vm := pages.AuditVM{Page: h.page(r, "Audit log", "audit", []layout.Crumb{{Label: "Audit log", Href: "/audit"}, {Label: "Sessions"}}),
		Tabs: auditTabs(true), Sessions: true}
	for _, s := range sessions {
		vm.SessionRows = append(vm.SessionRows, sessionRow(s, s.Handle == current, "/audit/sessions/"+s.Handle+"/revoke"))
	}
	return h.render(w, r, http.StatusOK, pages.Audit(vm))
}

// RevokeSession handles POST /audit/sessions/{handle}/revoke (Admin): the
// session ends at once; the user signs in again (and gets their current
// roles).
func (h *Handlers) RevokeSession(w http.ResponseWriter, r *http.Request) error {
	if err := require(r, compute.RoleAdmin); err != nil {
		return err
	}
	handle := chi.URLParam(r, "handle")
	who, err := h.cfg.Store.RevokeSessionByHandle(r.Context(), handle)
	h.audit(r, "session.revoke", "session/"+handle+" of user/"+who, err)
	if err != nil {
		return err
	}
	setFlash(w, "Session of "+who+" ended.")
	http.Redirect(w, r, "/audit/sessions", http.StatusSeeOther)
	return nil
}
