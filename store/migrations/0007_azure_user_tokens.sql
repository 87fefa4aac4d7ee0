-- Delegated access to Azure Resource Manager (issue 15): the refresh token
-- a user's Entra ID sign-in returned, sealed with the store's keyring (never
-- stored or logged in the clear), so the server calls ARM as that user.
CREATE TABLE azure_user_tokens (
    user_id    TEXT PRIMARY KEY,
    sealed     BLOB NOT NULL,
    updated_at INTEGER NOT NULL -- unix ms
) STRICT;
