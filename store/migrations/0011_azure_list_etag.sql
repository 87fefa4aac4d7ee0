-- The ETag ARM gave with the last full read of a workspace's compute list
-- ("" when it gave none): the background refresh sends it back as
-- If-None-Match, and a 304 keeps the cached rows (issue 15).
ALTER TABLE azure_refreshes ADD COLUMN etag TEXT NOT NULL DEFAULT '';
