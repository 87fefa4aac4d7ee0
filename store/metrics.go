package store

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"unicode/utf8"

	"github.com/trainyard/trainyard/compute"
)

// Durability of logged values. A metric, param or tag is acknowledged to the
// client only after its transaction committed. The database runs in WAL mode
// with synchronous=NORMAL: a commit appends to the -wal file with write(2)
// and does not fsync it, so the data is in the kernel's page cache when the
// call returns. A crash of the server process (kill -9, panic, OOM kill) does
// not lose it: the kernel still writes it out, and the next Open replays the
// WAL. Only a crash of the whole machine (power loss, kernel panic) can lose
// the last transactions before a checkpoint — the trade-off SQLite documents
// for WAL + NORMAL, and the one this project accepts for metrics.

// MLflow's limits on one log-batch call and on keys and values.
const (
	MaxBatchMetrics = 1000
	MaxBatchParams  = 100
	MaxBatchTags    = 100
	MaxBatchTotal   = 1000
	MaxKeyLen       = 250
	MaxParamLen     = 6000
	MaxTagLen       = 8000
)

// LogBatch records metrics, params and tags of a run in one transaction, as
// MLflow's runs/log-batch does. Every metric point is kept; the latest per
// key (greatest step, then timestamp; a later call wins a tie) is kept
// apart for fast reads. Params cannot change: logging a param again with
// another value is a compute.ErrInvalid (the same value is accepted). Tags
// are replaced. A missing run is a compute.ErrNotFound. NaN values are kept
// as NaN; ±Inf are stored as ±math.MaxFloat64, as MLflow does.
func (s *Store) LogBatch(ctx context.Context, runID string, metrics []compute.Metric, params, tags []compute.KeyValue) error {
	if err := checkBatch(metrics, params, tags); err != nil {
		return err
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		seq, err := runSeq(ctx, tx, runID)
		if err != nil {
			return err
		}
		if len(metrics) > 0 {
			ins, err := tx.PrepareContext(ctx, `INSERT INTO metrics (run_seq, key, value, step, ts) VALUES (?, ?, ?, ?, ?)`)
			if err != nil {
				return err
			}
			defer ins.Close()
			latest, err := tx.PrepareContext(ctx, `INSERT INTO metrics_latest (run_seq, key, value, step, ts) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (run_seq, key) DO UPDATE SET value = excluded.value, step = excluded.step, ts = excluded.ts
				WHERE excluded.step > metrics_latest.step OR (excluded.step = metrics_latest.step AND excluded.ts >= metrics_latest.ts)`)
			if err != nil {
				return err
			}
			defer latest.Close()
			for _, m := range metrics {
				v := storedValue(m.Value)
				ts := toMS(m.Time)
				if _, err := ins.ExecContext(ctx, seq, m.Key, v, m.Step, ts); err != nil {
					return err
				}
				if _, err := latest.ExecContext(ctx, seq, m.Key, v, m.Step, ts); err != nil {
					return err
				}
			}
		}
		for _, p := range params {
			var old string
			err := tx.QueryRowContext(ctx, `SELECT value FROM run_params WHERE run_seq = ? AND key = ?`, seq, p.Key).Scan(&old)
			switch {
			case err == nil && old != p.Value:
				return compute.Invalid("params", "Changing param values is not allowed. Param with key='%s' was already logged with value='%s' for run ID='%s'. Attempted logging new value '%s'.",
					p.Key, old, runID, p.Value)
			case err == nil:
				continue
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO run_params (run_seq, key, value) VALUES (?, ?, ?)`, seq, p.Key, p.Value); err != nil {
				return err
			}
		}
		for _, t := range tags {
			if _, err := tx.ExecContext(ctx, `INSERT INTO run_tags (run_seq, key, value) VALUES (?, ?, ?)
				ON CONFLICT (run_seq, key) DO UPDATE SET value = excluded.value`, seq, t.Key, t.Value); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return wrapErr("log to run", runID, err)
	}
	s.announceRun(ctx, runID)
	return nil
}

// storedValue maps a metric value onto what SQLite keeps: NULL for NaN,
// ±MaxFloat64 for ±Inf.
func storedValue(v float64) any {
	switch {
	case math.IsNaN(v):
		return nil
	case math.IsInf(v, 1):
		return math.MaxFloat64
	case math.IsInf(v, -1):
		return -math.MaxFloat64
	}
	return v
}

// checkBatch enforces MLflow's batch limits and key rules.
func checkBatch(metrics []compute.Metric, params, tags []compute.KeyValue) error {
	v := &compute.ValidationError{}
	if len(metrics) > MaxBatchMetrics {
		v.Add("metrics", "A batch logging request can contain at most %d metrics. Got %d metrics.", MaxBatchMetrics, len(metrics))
	}
	if len(params) > MaxBatchParams {
		v.Add("params", "A batch logging request can contain at most %d params. Got %d params.", MaxBatchParams, len(params))
	}
	if len(tags) > MaxBatchTags {
		v.Add("tags", "A batch logging request can contain at most %d tags. Got %d tags.", MaxBatchTags, len(tags))
	}
	if n := len(metrics) + len(params) + len(tags); n > MaxBatchTotal {
		v.Add("batch", "A batch logging request can contain at most %d metrics, params and tags in total. Got %d.", MaxBatchTotal, n)
	}
	key := func(field, k string) {
		if k == "" || len(k) > MaxKeyLen || !utf8.ValidString(k) {
			v.Add(field, "Invalid key %q: a key is 1 to %d characters of valid UTF-8.", k, MaxKeyLen)
		}
	}
	for _, m := range metrics {
		key("metrics", m.Key)
	}
	seen := map[string]string{}
	for _, p := range params {
		key("params", p.Key)
		if len(p.Value) > MaxParamLen {
			v.Add("params", "The value of param %q is longer than %d characters.", p.Key, MaxParamLen)
		}
		if old, ok := seen[p.Key]; ok && old != p.Value {
			v.Add("params", "Duplicate param key %q with different values in one batch.", p.Key)
		}
		seen[p.Key] = p.Value
	}
	for _, t := range tags {
		key("tags", t.Key)
		if len(t.Value) > MaxTagLen {
			v.Add("tags", "The value of tag %q is longer than %d characters.", t.Key, MaxTagLen)
		}
	}
	return v.Err()
}

// MetricHistory returns every logged point of one metric of a run, by step
// then timestamp then logging order. A missing run is a compute.ErrNotFound;
// a metric never logged is an empty history.
func (s *Store) MetricHistory(ctx context.Context, runID, key string) ([]compute.Metric, error) {
	var out []compute.Metric
	err := s.read(ctx, func(tx *sql.Tx) error {
		out = []compute.Metric{}
		seq, err := runSeq(ctx, tx, runID)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT key, value, step, ts FROM metrics WHERE run_seq = ? AND key = ?
			ORDER BY step, ts, seq`, seq, key)
		if err != nil {
			return err
		}
		out, err = scanMetrics(rows, out)
		return err
	})
	if err != nil {
		return nil, wrapErr("metric history of", runID, err)
	}
	return out, nil
}

// MetricHistories returns every logged point of every metric of a run, keyed
// by metric name, each in MetricHistory's order (for a run page's charts).
func (s *Store) MetricHistories(ctx context.Context, runID string) (map[string][]compute.Metric, error) {
	out := map[string][]compute.Metric{}
	err := s.read(ctx, func(tx *sql.Tx) error {
		clear(out)
		seq, err := runSeq(ctx, tx, runID)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT key, value, step, ts FROM metrics WHERE run_seq = ?
			ORDER BY key, step, ts, seq`, seq)
		if err != nil {
			return err
		}
		all, err := scanMetrics(rows, nil)
		for _, m := range all {
			out[m.Key] = append(out[m.Key], m)
		}
		return err
	})
	if err != nil {
		return nil, wrapErr("metric histories of", runID, err)
	}
	return out, nil
}

func scanMetrics(rows *sql.Rows, out []compute.Metric) ([]compute.Metric, error) {
	defer rows.Close()
	for rows.Next() {
		var m compute.Metric
		var v sql.NullFloat64
		var ts int64
		if err := rows.Scan(&m.Key, &v, &m.Step, &ts); err != nil {
			return nil, err
		}
		m.Value, m.Time = nullToNaN(v), fromMS(ts)
		out = append(out, m)
	}
	return out, rows.Close()
}

// LatestMetrics returns the latest point of each metric of a run, by key.
func (s *Store) LatestMetrics(ctx context.Context, runID string) ([]compute.Metric, error) {
	var out []compute.Metric
	err := s.read(ctx, func(tx *sql.Tx) error {
		seq, err := runSeq(ctx, tx, runID)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT key, value, step, ts FROM metrics_latest WHERE run_seq = ? ORDER BY key`, seq)
		if err != nil {
			return err
		}
		out, err = scanMetrics(rows, []compute.Metric{})
		return err
	})
	if err != nil {
		return nil, wrapErr("latest metrics of", runID, err)
	}
	return out, nil
}
