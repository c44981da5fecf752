-- Who uploaded a media (NULL for media declared by a manifest).
ALTER TABLE media ADD COLUMN uploader TEXT;

-- Chunked uploads between upload_prepare and upload_finish; their blocks are in the
-- blob store under the upload id.
CREATE TABLE uploads (
    upload_id      TEXT PRIMARY KEY,
    app_id         TEXT NOT NULL,
    tenant_key     TEXT NOT NULL,
    principal      TEXT NOT NULL,
    file_name      TEXT NOT NULL,
    parent_type    TEXT NOT NULL,
    parent_node    TEXT,
    document       TEXT NOT NULL,
    size           INTEGER NOT NULL,
    block_num      INTEGER NOT NULL,
    created_at_ms  INTEGER NOT NULL,
    expires_at_ms  INTEGER NOT NULL
);
CREATE INDEX uploads_by_expiry ON uploads (expires_at_ms);
