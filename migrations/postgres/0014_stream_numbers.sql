-- Streams are numbered in the order of their first event, and events are indexed by that
-- number rather than by the stream's name (issue 32). On a v2 ledger a person's stream names his
-- blind id, a random string: indexes keyed by it took every append to a random page of two
-- large indexes. Numbers given as streams begin put a run's appends at the end of the indexes
-- again. The name stays in each row, as before; only the indexes change.
--
-- The number is filled in for events already written with the append-only trigger set aside,
-- inside this migration's transaction: no event's content changes.
CREATE TABLE streams (
    id   BIGSERIAL PRIMARY KEY,
    name TEXT      NOT NULL UNIQUE
);
INSERT INTO streams (name) SELECT stream FROM events GROUP BY stream ORDER BY MIN(seq);
ALTER TABLE events ADD COLUMN stream_id BIGINT;
ALTER TABLE events DISABLE TRIGGER events_append_only;
UPDATE events e SET stream_id = s.id FROM streams s WHERE s.name = e.stream;
ALTER TABLE events ENABLE TRIGGER events_append_only;
ALTER TABLE events ALTER COLUMN stream_id SET NOT NULL;
ALTER TABLE events DROP CONSTRAINT events_stream_stream_seq_key;
ALTER TABLE events ADD CONSTRAINT events_stream_id_stream_seq_key UNIQUE (stream_id, stream_seq);
DROP INDEX events_by_stream_type;
CREATE INDEX events_by_stream_type ON events (stream_id, type, stream_seq);
CREATE TRIGGER streams_append_only BEFORE UPDATE ON streams
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
