-- The audit trail (Part 11 AT-01..AT-12; docs/part11.md): one entry per event, of production records
-- and system actions alike, with who, when, from where, why, and every field it changed (old and new
-- values), read by record, user, action, line and time. A read model: rebuilt from the log like any
-- other, never written by anything but its projection.
CREATE TABLE audit_trail (
    position          bigint      PRIMARY KEY,
    event_id          uuid        NOT NULL,
    recorded_at       timestamptz NOT NULL,
    record_type       text        NOT NULL,
    record_id         text        NOT NULL,
    sequence          bigint      NOT NULL,
    action            text        NOT NULL,
    -- The line the record belongs to; NULL for accounts and devices.
    line              text,
    actor_id          uuid,
    actor_name        text,
    actor_role        text,
    device_id         text,
    source_timestamp  timestamptz,
    reason            text,
    -- [{"field": "a.b", "old": ..., "new": ...}]: the record's state before and after the event, diffed.
    changes           jsonb       NOT NULL,
    stream_hash       bytea       NOT NULL
);
CREATE INDEX audit_trail_by_record ON audit_trail (record_type, record_id, position);
CREATE INDEX audit_trail_by_actor ON audit_trail (actor_id, position);
CREATE INDEX audit_trail_by_action ON audit_trail (action, position);
CREATE INDEX audit_trail_by_line ON audit_trail (line, position);
CREATE INDEX audit_trail_by_time ON audit_trail (recorded_at, position);

-- Each record's state as the domain folds it, for the next event's old values, and its line.
CREATE TABLE audit_records (
    record_type  text  NOT NULL,
    record_id    text  NOT NULL,
    state        jsonb NOT NULL,
    line         text,
    PRIMARY KEY (record_type, record_id)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON audit_trail, audit_records TO ms5_app;
