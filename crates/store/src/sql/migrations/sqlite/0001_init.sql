-- Structured values (scope lists, members, bitable locations, rate limits) are JSON
-- text: they are read and written whole, never queried inside.
CREATE TABLE apps (
    app_id      TEXT PRIMARY KEY,
    app_secret  TEXT NOT NULL,
    tenant_key  TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    rate_limit  TEXT
);

CREATE TABLE users (
    user_id     TEXT PRIMARY KEY,
    tenant_key  TEXT NOT NULL,
    name        TEXT
);

CREATE TABLE tokens (
    hash           TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,
    app_id         TEXT NOT NULL,
    tenant_key     TEXT NOT NULL,
    user_id        TEXT,
    scopes         TEXT,
    issued_at_ms   INTEGER NOT NULL,
    expires_at_ms  INTEGER NOT NULL
);
CREATE INDEX tokens_by_app ON tokens (app_id, kind, issued_at_ms);

CREATE TABLE documents (
    token                TEXT PRIMARY KEY,
    doc_type             TEXT NOT NULL,
    tenant_key           TEXT NOT NULL,
    owner                TEXT,
    advanced_permission  INTEGER NOT NULL,
    members              TEXT NOT NULL
);

CREATE TABLE media (
    file_token     TEXT PRIMARY KEY,
    document       TEXT NOT NULL,
    parent_type    TEXT NOT NULL,
    parent_node    TEXT,
    file_name      TEXT NOT NULL,
    mime_type      TEXT NOT NULL,
    size           INTEGER NOT NULL,
    sha256         TEXT NOT NULL,
    bitable        TEXT,
    deleted        INTEGER NOT NULL,
    created_at_ms  INTEGER NOT NULL,
    modified_at_ms INTEGER NOT NULL
);
CREATE INDEX media_by_sha256 ON media (sha256);
