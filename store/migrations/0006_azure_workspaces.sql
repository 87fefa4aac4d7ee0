-- Azure ML workspaces (issue 15). An Admin registers a workspace under an
-- alias; its computes live in Azure Resource Manager, and azure_computes
-- caches what ARM last said about each (ARM's JSON verbatim) so pages render
-- at once. azure_refreshes says when a workspace's list was last read in
-- full, and the error of that read if it failed.
CREATE TABLE workspaces (
    alias           TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL COLLATE NOCASE,
    resource_group  TEXT NOT NULL COLLATE NOCASE,
    name            TEXT NOT NULL COLLATE NOCASE,
    created_by      TEXT NOT NULL,
    created_at      INTEGER NOT NULL, -- unix ms
    UNIQUE (subscription_id, resource_group, name)
) STRICT;

CREATE TABLE azure_computes (
    workspace  TEXT NOT NULL REFERENCES workspaces (alias) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    body       TEXT NOT NULL,            -- ARM's JSON of the compute
    op_error   TEXT NOT NULL DEFAULT '', -- the last operation's error, verbatim
    updated_at INTEGER NOT NULL,         -- unix ms
    PRIMARY KEY (workspace, name)
) STRICT, WITHOUT ROWID;

CREATE TABLE azure_refreshes (
    workspace TEXT PRIMARY KEY REFERENCES workspaces (alias) ON DELETE CASCADE,
    as_of     INTEGER NOT NULL, -- unix ms of the last full read
    error     TEXT NOT NULL DEFAULT ''
) STRICT;
