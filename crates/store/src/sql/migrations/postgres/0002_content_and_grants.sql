-- Where OAuth may send an app's codes (JSON list).
ALTER TABLE apps ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT '[]';

-- Documents declare their content (title, blocks, sheets, tables) as one JSON value,
-- read and written with the document; listing a document also reads its media.
ALTER TABLE documents ADD COLUMN content TEXT NOT NULL DEFAULT '{}';
CREATE INDEX media_by_document ON media (document, created_at_ms);

-- OAuth authorization codes and refresh tokens, by hash: each is spent once.
CREATE TABLE grants (
    hash              TEXT COLLATE "C" PRIMARY KEY,
    kind              TEXT NOT NULL,
    app_id            TEXT NOT NULL,
    tenant_key        TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    scopes            TEXT NOT NULL,
    redirect_uri      TEXT,
    code_challenge    TEXT,
    challenge_method  TEXT,
    issued_at_ms      BIGINT NOT NULL,
    expires_at_ms     BIGINT NOT NULL,
    used_at_ms        BIGINT
);
CREATE INDEX grants_by_app ON grants (app_id);
CREATE INDEX grants_by_user ON grants (user_id);
