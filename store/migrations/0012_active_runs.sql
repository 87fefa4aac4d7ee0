-- Issue 16 (throughput at scale): what the dispatcher and the sweep driver
-- read at every pass must cost the same however many runs have ended.
-- Queries repeat the WHERE term word for word so the planner can use these
-- partial indexes, which hold only the runs that have not ended.
--
-- The dispatcher's work list (active script runs, oldest first) and the
-- sweep driver's active sweeps (newest first): with ORDER BY seq, runs_active
-- (target, kind) would need a sort, so the planner walked the whole table in
-- seq order instead, every ended run included.
CREATE INDEX runs_active_by_kind ON runs (kind, seq) WHERE status NOT IN ('Completed', 'Failed', 'Canceled');
-- A sweep's children that have not ended: runs_by_parent would visit every
-- child the sweep ever had, at every tick.
CREATE INDEX runs_active_by_parent ON runs (parent_id, seq) WHERE status NOT IN ('Completed', 'Failed', 'Canceled');
