-- The ledger: one totally ordered, append-only log of signed events, the Merkle nodes made as
-- events are appended, and every checkpoint ever signed. Triggers refuse UPDATE, DELETE, TRUNCATE.
CREATE TABLE events (
    seq        BIGINT PRIMARY KEY,
    stream     TEXT   NOT NULL,
    stream_seq BIGINT NOT NULL,
    type       TEXT   NOT NULL,
    body       TEXT   NOT NULL,
    UNIQUE (stream, stream_seq)
);
CREATE INDEX events_by_type ON events (type, seq);

CREATE TABLE merkle_nodes (
    level BIGINT NOT NULL,
    idx   BIGINT NOT NULL,
    hash  BYTEA  NOT NULL,
    PRIMARY KEY (level, idx)
);

CREATE TABLE checkpoints (
    tree_size BIGINT PRIMARY KEY,
    root      BYTEA  NOT NULL,
    note      TEXT   NOT NULL,
    signed_at TEXT   NOT NULL
);

CREATE TABLE api_tokens (
    id         TEXT  PRIMARY KEY,
    token_hash BYTEA NOT NULL UNIQUE,
    role       TEXT  NOT NULL,
    created_at TEXT  NOT NULL
);

CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME;
END $$;

CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER merkle_nodes_append_only BEFORE UPDATE OR DELETE ON merkle_nodes
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER merkle_nodes_no_truncate BEFORE TRUNCATE ON merkle_nodes
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE ON checkpoints
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
