-- HyperDrive sweeps (issue 5): a sweep is a parent run of kind 'hyperdrive';
-- its children are script runs with parent_id set.
-- sweep:                the parent's hyperdrive.Sweep as JSON (search space,
--                       sampling, seed, policy, primary metric, budget); '' = none.
-- best_child_id:        the parent's best child by primary metric so far.
-- child_index:          a child's proposal order (0 for the first).
-- hyperparameters:      a child's sampled hyperdrive.Params as JSON; '' = none.
-- policy_cancel_reason: why the early-termination policy cancelled a child.
ALTER TABLE runs ADD COLUMN sweep TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN best_child_id TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN child_index INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN hyperparameters TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN policy_cancel_reason TEXT NOT NULL DEFAULT '';
