-- Sessions of the officers' pages (issue 17, finding 8): the cookie holds a random session id,
-- never the API token; only the id's SHA-256 is stored. A session ends on logout, after an idle
-- time, after an absolute time, or when its token is revoked or expires.
CREATE TABLE web_sessions (
    id_hash    BYTEA NOT NULL PRIMARY KEY,
    token_id   TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_seen  TEXT NOT NULL,
    ended_at   TEXT NOT NULL DEFAULT ''
);
