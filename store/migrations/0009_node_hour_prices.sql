-- Admin-set prices per node-hour (issue 15, cost): for targets the size
-- catalogue has no price for (attached SSH VMs, Slurm clusters, the local
-- target, an Azure workspace's attached computes). A target without a row
-- costs 0. Keyed like node_hours; names compared as the targets table does.
CREATE TABLE node_hour_prices (
    workspace TEXT NOT NULL, -- "local" or a registered alias
    name      TEXT NOT NULL COLLATE NOCASE,
    usd       REAL NOT NULL CHECK (usd >= 0),
    set_by    TEXT NOT NULL, -- the Admin's user ID
    set_at    INTEGER NOT NULL, -- unix ms
    PRIMARY KEY (workspace, name)
) STRICT, WITHOUT ROWID;
