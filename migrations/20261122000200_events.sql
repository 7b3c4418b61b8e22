-- The one append-only log of every event of every aggregate.
-- position orders inserts; transaction_id (the writer's xid8) lets readers see only rows of finished
-- transactions, so reading by (transaction_id, position) never skips a row that commits late.
CREATE TABLE events (
    position        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    event_id        uuid        NOT NULL UNIQUE,
    aggregate_type  text        NOT NULL,
    aggregate_id    text        NOT NULL,
    sequence        bigint      NOT NULL CHECK (sequence >= 1),
    event_type      text        NOT NULL,
    event_version   integer     NOT NULL CHECK (event_version >= 1),
    payload         jsonb       NOT NULL,
    metadata        jsonb       NOT NULL,
    recorded_at     timestamptz NOT NULL,
    -- SHA-256 over the previous event's stream_hash in this stream and this event's canonical bytes.
    stream_hash     bytea       NOT NULL CHECK (octet_length(stream_hash) = 32),
    CONSTRAINT events_stream_sequence_key UNIQUE (aggregate_type, aggregate_id, sequence)
);

CREATE INDEX events_commit_order ON events (transaction_id, position);
