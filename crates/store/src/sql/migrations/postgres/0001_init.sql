-- The schema of SQLite's migrations 1 to 5, as PostgreSQL types: the same tables and
-- columns, so that one text of SQL (sql/queries.rs) serves both engines. Structured
-- values (scope lists, members, bitable locations, rate limits) are JSON text, read and
-- written whole.
CREATE TABLE apps (
    app_id      TEXT COLLATE "C" PRIMARY KEY,
    app_secret  TEXT NOT NULL,
    tenant_key  TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    rate_limit  TEXT
);

CREATE TABLE users (
    user_id     TEXT COLLATE "C" PRIMARY KEY,
    tenant_key  TEXT NOT NULL,
    name        TEXT
);

CREATE TABLE tokens (
    hash           TEXT COLLATE "C" PRIMARY KEY,
    kind           TEXT NOT NULL,
    app_id         TEXT NOT NULL,
    tenant_key     TEXT NOT NULL,
    user_id        TEXT,
    scopes         TEXT,
    issued_at_ms   BIGINT NOT NULL,
    expires_at_ms  BIGINT NOT NULL
);
CREATE INDEX tokens_by_app ON tokens (app_id, kind, issued_at_ms);
CREATE INDEX tokens_by_user ON tokens (user_id);

CREATE TABLE documents (
    token                TEXT COLLATE "C" PRIMARY KEY,
    doc_type             TEXT NOT NULL,
    tenant_key           TEXT NOT NULL,
    owner                TEXT,
    advanced_permission  BOOLEAN NOT NULL,
    members              TEXT NOT NULL
);

CREATE TABLE media (
    file_token     TEXT COLLATE "C" PRIMARY KEY,
    document       TEXT NOT NULL,
    parent_type    TEXT NOT NULL,
    parent_node    TEXT,
    file_name      TEXT NOT NULL,
    mime_type      TEXT NOT NULL,
    size           BIGINT NOT NULL,
    digest         TEXT NOT NULL,
    bitable        TEXT,
    deleted        BOOLEAN NOT NULL,
    created_at_ms  BIGINT NOT NULL,
    modified_at_ms BIGINT NOT NULL,
    uploader       TEXT
);
CREATE INDEX media_by_digest ON media (digest);

-- Chunked uploads between upload_prepare and upload_finish (and, finished, with the
-- token of the media they became, until they expire).
CREATE TABLE uploads (
    upload_id      TEXT PRIMARY KEY,
    app_id         TEXT NOT NULL,
    tenant_key     TEXT NOT NULL,
    principal      TEXT NOT NULL,
    file_name      TEXT NOT NULL,
    parent_type    TEXT NOT NULL,
    parent_node    TEXT,
    document       TEXT NOT NULL,
    size           BIGINT NOT NULL,
    block_num      BIGINT NOT NULL,
    created_at_ms  BIGINT NOT NULL,
    expires_at_ms  BIGINT NOT NULL,
    file_token     TEXT
);
CREATE INDEX uploads_by_expiry ON uploads (expires_at_ms);
CREATE INDEX uploads_by_app ON uploads (app_id);

-- Requests counted against the daily rate limit, per key and day, when limits are
-- counted in process.
CREATE TABLE day_counts (
    key    TEXT NOT NULL,
    day    BIGINT NOT NULL,
    count  BIGINT NOT NULL,
    PRIMARY KEY (key, day)
);

-- Settings every replica must agree on (the shared secret), created by the first.
CREATE TABLE settings (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
