-- Stored projections: read models folded from the ledger, with the seq each has applied up to.
-- These are rebuilt from events at will (`replay`); unlike the ledger they are updated in place.
CREATE TABLE projection_rows (
    projection TEXT NOT NULL,
    key        TEXT NOT NULL,
    doc        TEXT NOT NULL,
    PRIMARY KEY (projection, key)
);

CREATE TABLE projection_cursors (
    projection TEXT   PRIMARY KEY,
    next_seq   BIGINT NOT NULL
);
