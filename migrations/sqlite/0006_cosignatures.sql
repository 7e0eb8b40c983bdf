-- Witnesses' cosignatures (C2SP tlog-cosignature), each a signature line kept with the
-- checkpoint it cosigns. Append-only like the log.
CREATE TABLE cosignatures (
    tree_size INTEGER NOT NULL,
    witness   TEXT    NOT NULL,
    line      TEXT    NOT NULL,
    PRIMARY KEY (tree_size, witness)
);
CREATE INDEX cosignatures_by_witness ON cosignatures (witness, tree_size);
CREATE TRIGGER cosignatures_no_update BEFORE UPDATE ON cosignatures
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: cosignatures cannot be updated'); END;
CREATE TRIGGER cosignatures_no_delete BEFORE DELETE ON cosignatures
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: cosignatures cannot be deleted'); END;
