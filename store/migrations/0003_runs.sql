-- Experiments, runs, their status history, params, tags and metrics, per-run
-- tracking tokens, and snapshots (manifests; the file contents are blobs on
-- disk under DATA/blobs/<sha256>).
-- Timestamps are INTEGER unix milliseconds, UTC; 0 means "not set".

CREATE TABLE experiments (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL COLLATE NOCASE UNIQUE,
    created_at  INTEGER NOT NULL,
    -- Kept up to date by CreateRun so the experiments list needs no scan.
    run_count   INTEGER NOT NULL DEFAULT 0,
    last_run_at INTEGER NOT NULL DEFAULT 0
) STRICT;

-- MLflow's default experiment has ID 0.
INSERT INTO experiments (id, name, created_at) VALUES (0, 'Default', CAST(strftime('%s', 'now') AS INTEGER) * 1000);

-- seq is the insertion order: the runs list is newest first and pages by seq
-- (keyset), and child tables refer to runs by it.
CREATE TABLE runs (
    seq             INTEGER PRIMARY KEY,
    id              TEXT    NOT NULL UNIQUE,
    kind            TEXT    NOT NULL DEFAULT 'script',
    experiment_id   INTEGER NOT NULL REFERENCES experiments (id),
    display_name    TEXT    NOT NULL DEFAULT '',
    status          TEXT    NOT NULL,
    status_reason   TEXT    NOT NULL DEFAULT '',
    target          TEXT    NOT NULL DEFAULT '' COLLATE NOCASE,
    parent_id       TEXT    NOT NULL DEFAULT '',
    submitted_by    TEXT    NOT NULL DEFAULT '',
    submitted_by_id TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    started_at      INTEGER NOT NULL DEFAULT 0,
    ended_at        INTEGER NOT NULL DEFAULT 0,
    script          TEXT    NOT NULL DEFAULT '',
    arguments       TEXT    NOT NULL DEFAULT '[]',   -- JSON array of strings
    node_count      INTEGER NOT NULL DEFAULT 1,
    max_duration_ms INTEGER NOT NULL DEFAULT 0,
    snapshot_id     TEXT    NOT NULL DEFAULT '',
    git             TEXT    NOT NULL DEFAULT '',     -- JSON object, '' = none
    environment     TEXT    NOT NULL DEFAULT '{}',   -- JSON object
    run_config      TEXT    NOT NULL DEFAULT '',     -- JSON as submitted, '' = none
    handle_backend  TEXT    NOT NULL DEFAULT '',
    handle_id       TEXT    NOT NULL DEFAULT '',
    attempt         INTEGER NOT NULL DEFAULT 0,
    error           TEXT    NOT NULL DEFAULT ''
) STRICT;

-- One index per filter of the runs list, each ending in seq so the newest-
-- first order and the keyset continuation are served by the index.
CREATE INDEX runs_by_experiment ON runs (experiment_id, seq);
CREATE INDEX runs_by_status     ON runs (status, seq);
CREATE INDEX runs_by_target     ON runs (target, seq);
CREATE INDEX runs_by_parent     ON runs (parent_id, seq);
CREATE INDEX runs_by_submitter  ON runs (submitted_by, seq);
CREATE INDEX runs_by_created    ON runs (created_at, seq);
-- Narrow twin of the primary key: an unfiltered $skip walks it instead of
-- the (wide) table rows, which halves the cost of deep offset pages.
CREATE INDEX runs_by_seq        ON runs (seq);
-- The dispatcher's work list and the controller's demand read only the runs
-- that have not ended; queries repeat this WHERE term word for word so the
-- planner can use the partial index.
CREATE INDEX runs_active ON runs (target, kind) WHERE status NOT IN ('Completed', 'Failed', 'Canceled');

CREATE TABLE run_events (
    seq     INTEGER PRIMARY KEY,
    run_seq INTEGER NOT NULL REFERENCES runs (seq) ON DELETE CASCADE,
    status  TEXT    NOT NULL,
    at      INTEGER NOT NULL,
    reason  TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX run_events_by_run ON run_events (run_seq, seq);

CREATE TABLE run_params (
    run_seq INTEGER NOT NULL REFERENCES runs (seq) ON DELETE CASCADE,
    key     TEXT    NOT NULL,
    value   TEXT    NOT NULL,
    PRIMARY KEY (run_seq, key)
) STRICT, WITHOUT ROWID;

CREATE TABLE run_tags (
    run_seq INTEGER NOT NULL REFERENCES runs (seq) ON DELETE CASCADE,
    key     TEXT    NOT NULL,
    value   TEXT    NOT NULL,
    PRIMARY KEY (run_seq, key)
) STRICT, WITHOUT ROWID;

-- Every logged point. value is NULL for NaN (SQLite has no NaN).
CREATE TABLE metrics (
    seq     INTEGER PRIMARY KEY,
    run_seq INTEGER NOT NULL REFERENCES runs (seq) ON DELETE CASCADE,
    key     TEXT    NOT NULL,
    value   REAL,
    step    INTEGER NOT NULL,
    ts      INTEGER NOT NULL
) STRICT;

CREATE INDEX metrics_by_run_key ON metrics (run_seq, key, step, ts);

-- The latest point of each metric (greatest step, then timestamp), kept by
-- the same transaction that logs a point, so run pages and lists read one
-- row per metric.
CREATE TABLE metrics_latest (
    run_seq INTEGER NOT NULL REFERENCES runs (seq) ON DELETE CASCADE,
    key     TEXT    NOT NULL,
    value   REAL,
    step    INTEGER NOT NULL,
    ts      INTEGER NOT NULL,
    PRIMARY KEY (run_seq, key)
) STRICT, WITHOUT ROWID;

-- Per-run tracking tokens (MLFLOW_TRACKING_TOKEN); only their SHA-256 is kept.
CREATE TABLE run_tokens (
    hash       BLOB    PRIMARY KEY,
    run_seq    INTEGER NOT NULL REFERENCES runs (seq) ON DELETE CASCADE,
    created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX run_tokens_by_run ON run_tokens (run_seq);

-- A snapshot is a manifest; its id is derived from its content, so the same
-- folder submitted twice is one snapshot.
CREATE TABLE snapshots (
    id          TEXT    PRIMARY KEY,
    created_at  INTEGER NOT NULL,
    created_by  TEXT    NOT NULL DEFAULT '',
    file_count  INTEGER NOT NULL,
    total_bytes INTEGER NOT NULL,
    git         TEXT    NOT NULL DEFAULT ''  -- JSON object, '' = none
) STRICT, WITHOUT ROWID;

CREATE TABLE snapshot_files (
    snapshot_id TEXT    NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
    path        TEXT    NOT NULL,
    sha256      TEXT    NOT NULL,
    size        INTEGER NOT NULL,
    mode        INTEGER NOT NULL,
    PRIMARY KEY (snapshot_id, path)
) STRICT, WITHOUT ROWID;
