-- Trainyard schema, version 1.
-- Timestamps are INTEGER unix milliseconds, UTC; 0 means "not set".

-- Compute targets. id is internal (foreign keys); name is what users see and
-- is unique regardless of case.
CREATE TABLE targets (
    id                  INTEGER PRIMARY KEY,
    name                TEXT    NOT NULL COLLATE NOCASE UNIQUE,
    kind                TEXT    NOT NULL,
    provisioning_state  TEXT    NOT NULL DEFAULT '',
    -- instance_state and vm_size copy fields of spec so they can be filtered,
    -- sorted and indexed.
    instance_state      TEXT    NOT NULL DEFAULT '',
    vm_size             TEXT    NOT NULL DEFAULT '' COLLATE NOCASE,
    description         TEXT    NOT NULL DEFAULT '',
    location            TEXT    NOT NULL DEFAULT '',
    created_by          TEXT    NOT NULL DEFAULT '',
    created_at          INTEGER NOT NULL,
    modified_at         INTEGER NOT NULL,
    state_since         INTEGER NOT NULL,
    resource_id         TEXT    NOT NULL DEFAULT '',
    last_operation      TEXT    NOT NULL DEFAULT '{}', -- JSON
    provisioning_errors TEXT    NOT NULL DEFAULT '[]', -- JSON array of strings
    spec                TEXT    NOT NULL DEFAULT '{}'  -- JSON {cluster|instance|attach}
) STRICT;

-- One index per sort column of the Compute list, each ending in name so the
-- tie-break is served by the index too (both directions).
CREATE INDEX targets_by_state   ON targets (provisioning_state, instance_state, name);
CREATE INDEX targets_by_vm_size ON targets (vm_size, name);
CREATE INDEX targets_by_created ON targets (created_at, name);
CREATE INDEX targets_by_kind    ON targets (kind, name);
-- The controller's Unsettled query ORs provisioning_state (targets_by_state)
-- with instance_state.
CREATE INDEX targets_by_instance_state ON targets (instance_state);

-- Nodes of a target, replaced as a set by SaveNodes.
CREATE TABLE nodes (
    target_id  INTEGER NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
    id         TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    private_ip TEXT    NOT NULL DEFAULT '',
    public_ip  TEXT    NOT NULL DEFAULT '',
    port       INTEGER NOT NULL DEFAULT 0,
    run_id     TEXT    NOT NULL DEFAULT '',
    since      INTEGER NOT NULL DEFAULT 0,
    reason     TEXT    NOT NULL DEFAULT '',
    cpus       INTEGER NOT NULL DEFAULT 0,
    memory_mb  INTEGER NOT NULL DEFAULT 0,
    gpus       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (target_id, id)
) STRICT, WITHOUT ROWID;

-- Secrets of a target, each sealed with AES-256-GCM (see secrets.go). id is
-- random and part of the AAD, so a value copied to another row fails to open.
-- key_id repeats the key ID inside value so re-sealing can find old rows.
CREATE TABLE target_secrets (
    id         TEXT    PRIMARY KEY,
    target_id  INTEGER NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    value      BLOB    NOT NULL,
    key_id     TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (target_id, name)
) STRICT;

CREATE INDEX target_secrets_by_key ON target_secrets (key_id);

-- Browser sessions. Only the SHA-256 of the token is stored.
CREATE TABLE sessions (
    id_hash    BLOB    PRIMARY KEY,
    user_id    TEXT    NOT NULL,
    user_name  TEXT    NOT NULL,
    role       INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked    INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;

CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE INDEX sessions_by_user   ON sessions (user_id);
