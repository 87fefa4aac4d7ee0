-- Long-running ARM operations under way on Azure ML workspaces' computes
-- (issue 15): the SDK's resume token of each (runtime.Poller.ResumeToken),
-- so a restarted server follows them again to the end. A row goes when its
-- operation is terminal; one operation per compute is followed (ARM's
-- newest one on it).
CREATE TABLE azure_operations (
    workspace    TEXT NOT NULL REFERENCES workspaces (alias) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL,  -- create, delete, start, stop, restart, update
    resume_token TEXT NOT NULL,  -- the poller's state: ARM's status URLs, no secret
    user_id      TEXT NOT NULL,  -- who started it ("" unknown): resumed with their credential when they have one
    started_at   INTEGER NOT NULL, -- unix ms
    PRIMARY KEY (workspace, name)
) STRICT, WITHOUT ROWID;
