-- Identity: users as they last signed in, richer sessions, personal access
-- tokens, in-flight sign-ins and the audit log.
-- Timestamps are INTEGER unix milliseconds, UTC; 0 means "not set".

-- People who have signed in. id is stable: "<tid>/<oid>" for OpenID Connect
-- (Entra ID), "local" for the embedded login token. role is the role of the
-- last sign-in (roles arrive with the ID token); access tokens act with it, so
-- a role taken away in Entra ID also narrows the user's tokens at their next
-- sign-in. name and email are for display only.
CREATE TABLE users (
    id           TEXT    PRIMARY KEY,
    name         TEXT    NOT NULL DEFAULT '',
    email        TEXT    NOT NULL DEFAULT '',
    role         INTEGER NOT NULL,
    first_seen   INTEGER NOT NULL,
    last_sign_in INTEGER NOT NULL
) STRICT;

-- How a session was started ('token' or 'oidc'), and what RP-initiated logout
-- needs from it (the provider's sid and login_hint claims; never a token).
ALTER TABLE sessions ADD COLUMN method     TEXT NOT NULL DEFAULT 'token';
ALTER TABLE sessions ADD COLUMN sid        TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN login_hint TEXT NOT NULL DEFAULT '';

-- Personal access tokens for the CLI and the API. Only the SHA-256 of the
-- token is kept; the token itself is shown once when it is created.
CREATE TABLE access_tokens (
    id           TEXT    PRIMARY KEY,              -- public handle, e.g. for revoke
    token_hash   BLOB    NOT NULL UNIQUE,
    user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL DEFAULT 0,
    revoked_at   INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX access_tokens_by_user ON access_tokens (user_id, created_at);

-- OpenID Connect sign-ins under way: the SHA-256 of the state, deleted on
-- first use so a callback cannot be replayed. The nonce and PKCE verifier
-- travel in the browser's encrypted login cookie, not here.
CREATE TABLE login_transactions (
    state_hash BLOB    PRIMARY KEY,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Who did what to which object, and every refused attempt. Never a secret:
-- callers pass verbs, object names and public error messages only.
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    user_id   TEXT    NOT NULL DEFAULT '',
    user_name TEXT    NOT NULL DEFAULT '',
    role      INTEGER NOT NULL DEFAULT 0,
    action    TEXT    NOT NULL,
    object    TEXT    NOT NULL DEFAULT '',
    outcome   TEXT    NOT NULL,                    -- succeeded, denied, failed
    detail    TEXT    NOT NULL DEFAULT '',
    remote    TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX audit_log_by_outcome ON audit_log (outcome, id);
