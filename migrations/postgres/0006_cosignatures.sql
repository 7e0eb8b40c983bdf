-- Witnesses' cosignatures (C2SP tlog-cosignature), each a signature line kept with the
-- checkpoint it cosigns. Append-only like the log.
CREATE TABLE cosignatures (
    tree_size BIGINT NOT NULL,
    witness   TEXT   NOT NULL,
    line      TEXT   NOT NULL,
    PRIMARY KEY (tree_size, witness)
);
CREATE INDEX cosignatures_by_witness ON cosignatures (witness, tree_size);
CREATE TRIGGER cosignatures_append_only BEFORE UPDATE OR DELETE ON cosignatures
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER cosignatures_no_truncate BEFORE TRUNCATE ON cosignatures
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
