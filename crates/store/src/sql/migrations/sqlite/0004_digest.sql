-- Blob keys are BLAKE3 digests from now on (see store::blob::digest_of). Keys already
-- stored are SHA-256 digests and stay valid: a key only names a blob file.
ALTER TABLE media RENAME COLUMN sha256 TO digest;
DROP INDEX media_by_sha256;
CREATE INDEX media_by_digest ON media (digest);
