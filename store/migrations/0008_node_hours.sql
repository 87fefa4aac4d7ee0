-- Node hours (issue 15, cost): each compute's accrued node-seconds, from
-- the node counts the server samples (Azure ML workspaces' computes at every
-- read from ARM). Between two samples the earlier count is taken to have
-- held, so the sum is exact for counts that change only at samples.
CREATE TABLE node_hours (
    workspace    TEXT NOT NULL, -- "local" or a registered alias
    name         TEXT NOT NULL,
    node_seconds REAL NOT NULL DEFAULT 0,
    nodes        INTEGER NOT NULL, -- the count at the last sample
    since        INTEGER NOT NULL, -- unix ms of the first sample
    at           INTEGER NOT NULL, -- unix ms of the last sample
    PRIMARY KEY (workspace, name)
) STRICT, WITHOUT ROWID;
