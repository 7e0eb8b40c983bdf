-- A token's life (issue 17): when it expires (empty: never) and when it was revoked (empty: not).
-- A revoked or expired token is refused at once, in a running server too.
ALTER TABLE api_tokens ADD COLUMN expires_at TEXT NOT NULL DEFAULT '';
ALTER TABLE api_tokens ADD COLUMN revoked_at TEXT NOT NULL DEFAULT '';
