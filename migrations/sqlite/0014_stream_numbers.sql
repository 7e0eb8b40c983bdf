-- Streams are numbered in the order of their first event, and events are indexed by that
-- number rather than by the stream's name (issue 32). On a v2 ledger a person's stream names his
-- blind id, a random string: indexes keyed by it took every append to a random page of two
-- large indexes, and the run wrote three times the bytes of a v1 run to the WAL. Numbers given
-- as streams begin put a run's appends at the end of the indexes again. The name stays in each
-- row, as before; only the indexes change.
--
-- SQLite cannot drop a table's UNIQUE constraint, so the table is built again. DROP TABLE fires
-- no trigger; the triggers that keep the ledger append-only are made again below, unchanged.
CREATE TABLE streams (
    id   INTEGER PRIMARY KEY,
    name TEXT    NOT NULL UNIQUE
);
INSERT INTO streams (name) SELECT stream FROM events GROUP BY stream ORDER BY MIN(seq);
CREATE TABLE events_numbered (
    seq        INTEGER PRIMARY KEY,
    stream     TEXT    NOT NULL,
    stream_id  INTEGER NOT NULL,
    stream_seq INTEGER NOT NULL,
    type       TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    UNIQUE (stream_id, stream_seq)
);
INSERT INTO events_numbered (seq, stream, stream_id, stream_seq, type, body)
    SELECT e.seq, e.stream, s.id, e.stream_seq, e.type, e.body FROM events e JOIN streams s ON s.name = e.stream ORDER BY e.seq;
DROP TABLE events;
ALTER TABLE events_numbered RENAME TO events;
CREATE INDEX events_by_type ON events (type, seq);
CREATE INDEX events_by_stream_type ON events (stream_id, type, stream_seq);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: events cannot be updated'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: events cannot be deleted'); END;
-- A stream's number is part of the ledger's storage: kept as long as its events.
CREATE TRIGGER streams_no_update BEFORE UPDATE ON streams
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: stream numbers cannot be changed'); END;
