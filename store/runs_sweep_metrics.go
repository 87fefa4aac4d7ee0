package store

import (
	"context"
	"database/sql"
	"time"
)

// SweepChildMetric summarises the primary metric one sweep child logged,
// as the sweep dashboard shows it: its best value depends on the goal, so
// both ends are kept.
type SweepChildMetric struct {
	Count    int       // points logged (NaN points are not counted)
	Min, Max float64   // lowest and highest value logged
	LastAt   time.Time // when the latest point was logged
}

// SweepChildMetrics returns, keyed by child run ID, the summary of metric
// key for every child of parentID that logged it. One grouped query serves
// the whole dashboard, which polls every few seconds while a sweep of up
// to 1,000 children runs (one MetricHistory per child would not scale).
func (s *Store) SweepChildMetrics(ctx context.Context, parentID, key string) (map[string]SweepChildMetric, error) {
	out := map[string]SweepChildMetric{}
	err := s.read(ctx, func(tx *sql.Tx) error {
		clear(out)
		rows, err := tx.QueryContext(ctx, `SELECT r.id, COUNT(m.value), MIN(m.value), MAX(m.value), MAX(m.ts)
			FROM runs r JOIN metrics m ON m.run_seq = r.seq AND m.key = ?
			WHERE r.parent_id = ?
			GROUP BY r.seq`, key, parentID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				id     string
				n      int
				lo, hi sql.NullFloat64
				ts     int64
			)
			if err := rows.Scan(&id, &n, &lo, &hi, &ts); err != nil {
				return err
			}
			if n == 0 {
				continue // only NaN points: nothing to rank or draw
			}
			out[id] = SweepChildMetric{Count: n, Min: lo.Float64, Max: hi.Float64, LastAt: fromMS(ts)}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, wrapErr("sweep metrics of", parentID, err)
	}
	return out, nil
}
