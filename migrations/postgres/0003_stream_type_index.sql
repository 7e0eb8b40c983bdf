-- Reading one type of event in one stream (a run's RunStarted, its ListSubmitted) must not
-- read the stream's other, large, events.
CREATE INDEX events_by_stream_type ON events (stream, type, stream_seq);
