package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/trainyard/trainyard/compute"
)

// Audit outcomes.
const (
	AuditSucceeded = "succeeded"
	AuditDenied    = "denied"
	AuditFailed    = "failed"
)

// AuditEvent is one line of the audit log: who did what to which object,
// when, and how it ended. It never holds a secret.
type AuditEvent struct {
	ID       int64
	At       time.Time
	UserID   string
	UserName string
	Role     compute.Role
	// Action is a verb such as "compute.create" or "signin".
	Action string
	// Object names what the action was on, e.g. a compute or run name.
	Object string
	// Outcome is AuditSucceeded, AuditDenied or AuditFailed.
	Outcome string
	// Detail is the public message of a refusal or failure.
	Detail string
	// Remote is the client's address (the TCP peer).
	Remote string
}

// auditFieldMax bounds each text field of an event.
const auditFieldMax = 500

func clip(s string) string {
	if len(s) <= auditFieldMax {
		return s
	}
	// Cut on a rune boundary.
	cut := auditFieldMax
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// AppendAudit writes an event; At defaults to now.
func (s *Store) AppendAudit(ctx context.Context, e AuditEvent) error {
	if e.Action == "" || e.Outcome == "" {
		return compute.Invalid("action", "An audit event needs an action and an outcome.")
	}
	if e.At.IsZero() {
		e.At = s.now()
	}
	_, err := s.writer.ExecContext(ctx, `INSERT INTO audit_log (at, user_id, user_name, role, action, object, outcome, detail, remote)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, toMS(e.At), clip(e.UserID), clip(e.UserName), int(e.Role), clip(e.Action), clip(e.Object),
		e.Outcome, clip(e.Detail), clip(e.Remote))
	if err != nil {
		return fmt.Errorf("store: append audit event: %w", err)
	}
	return nil
}

// AuditFilter selects a page of the audit log, newest first.
type AuditFilter struct {
	// Outcome, when set, keeps only events with that outcome.
	Outcome string
	// Query, when set, keeps events whose user, action or object contains it.
	Query  string
	Offset int
	Limit  int
}

// ListAudit returns a page of events and how many match in all.
func (s *Store) ListAudit(ctx context.Context, f AuditFilter) ([]AuditEvent, int, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 50
	}
	f.Offset = max(f.Offset, 0)
	where, args := []string{"1=1"}, []any{}
	if f.Outcome != "" {
		where = append(where, "outcome = ?")
		args = append(args, f.Outcome)
	}
	if q := strings.TrimSpace(f.Query); q != "" {
		like := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(q) + "%"
		where = append(where, `(user_id LIKE ? ESCAPE '\' OR user_name LIKE ? ESCAPE '\' OR action LIKE ? ESCAPE '\' OR object LIKE ? ESCAPE '\')`)
		args = append(args, like, like, like, like)
	}
	cond := strings.Join(where, " AND ")
	var total int
	var out []AuditEvent
	err := s.read(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_log WHERE `+cond, args...).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT id, at, user_id, user_name, role, action, object, outcome, detail, remote FROM audit_log
			WHERE `+cond+` ORDER BY id DESC LIMIT ? OFFSET ?`, append(args, f.Limit, f.Offset)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				e    AuditEvent
				at   int64
				role int
			)
			if err := rows.Scan(&e.ID, &at, &e.UserID, &e.UserName, &role, &e.Action, &e.Object, &e.Outcome, &e.Detail, &e.Remote); err != nil {
				return err
			}
			e.At, e.Role = fromMS(at), compute.Role(role)
			out = append(out, e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, 0, fmt.Errorf("store: list audit log: %w", err)
	}
	return out, total, nil
}
