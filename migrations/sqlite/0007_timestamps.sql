-- RFC 3161 time-stamp tokens (DER) of checkpoints, over the checkpoint body. A checkpoint
-- without a row here is untimestamped: the service says so and asks again later.
CREATE TABLE timestamps (
    tree_size INTEGER PRIMARY KEY,
    token     BLOB NOT NULL
);
