-- Node history (issue 7, Monitoring tab): how many of a target's nodes were
-- in each state over time. The node refresher writes a row when the counts
-- change, and at most one per 30 s while they do not; rows older than 24 h
-- are deleted as new ones come (store/nodes_history.go), so the table stays
-- small (≤ 2,880 rows per target).
CREATE TABLE node_history (
    target_id    INTEGER NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
    at           INTEGER NOT NULL, -- unix ms
    powered_down INTEGER NOT NULL DEFAULT 0,
    preparing    INTEGER NOT NULL DEFAULT 0,
    idle         INTEGER NOT NULL DEFAULT 0,
    busy         INTEGER NOT NULL DEFAULT 0,
    unusable     INTEGER NOT NULL DEFAULT 0,
    preempted    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (target_id, at)
) STRICT, WITHOUT ROWID;
