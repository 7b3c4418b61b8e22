-- Snapshots are a cache of an aggregate's state at a sequence, so that loading an aggregate costs the
-- same however long its stream is. They are not the record: the events are. The application may
-- replace them; a snapshot that no longer deserialises is ignored and the stream is replayed.
CREATE TABLE snapshots (
    aggregate_type  text        NOT NULL,
    aggregate_id    text        NOT NULL,
    sequence        bigint      NOT NULL CHECK (sequence >= 1),
    state           jsonb       NOT NULL,
    stream_hash     bytea       NOT NULL CHECK (octet_length(stream_hash) = 32),
    taken_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (aggregate_type, aggregate_id)
);

REVOKE ALL ON snapshots FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON snapshots TO ms5_app;
