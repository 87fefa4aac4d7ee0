-- Issue 16 (throughput at scale): a sweep driver reads, at every tick, the
-- children of a sweep that have not ended. runs_by_parent would visit every
-- child the sweep ever had (1,000 at most, at every tick of a long sweep);
-- this partial index holds only the active ones. Queries repeat the WHERE
-- term word for word so the planner can use it.
CREATE INDEX runs_active_by_parent ON runs (parent_id, seq) WHERE status NOT IN ('Completed', 'Failed', 'Canceled');
