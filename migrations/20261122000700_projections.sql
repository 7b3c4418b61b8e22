-- Projector workers (event-store.md, "Projector workers"): each projection's checkpoint, written in the
-- same transaction as its read-model changes. Appends are announced by the writers' processes
-- (`commands::wake`), not by a trigger: a NOTIFY inside every append would serialise all their commits.

CREATE TABLE projection_checkpoints (
    name               text PRIMARY KEY,
    version            integer NOT NULL,
    -- The last event applied, in commit order: (transaction id, position); (0, 0) before the first.
    transaction_id     bigint NOT NULL DEFAULT 0,
    position           bigint NOT NULL DEFAULT 0,
    events_applied     bigint NOT NULL DEFAULT 0,
    -- Set when an event could not be applied: the projection stops there and never skips it.
    failed_position    bigint,
    error              text,
    updated_at         timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT, UPDATE ON projection_checkpoints TO ms5_app;

-- Jobs read model: each job's state as the domain folds it, with the columns lists filter on.
CREATE TABLE read_jobs (
    job_id          text PRIMARY KEY,
    line            text NOT NULL,
    status          text NOT NULL,
    product         text NOT NULL,
    target_quantity numeric(20, 0) NOT NULL,
    good            bigint NOT NULL,
    reject          bigint NOT NULL,
    operator        uuid,
    state           jsonb NOT NULL,
    -- The commit-order position of the last event folded in.
    last_position   bigint NOT NULL
);
CREATE INDEX read_jobs_by_line_status ON read_jobs (line, status);
GRANT SELECT, INSERT, UPDATE, DELETE ON read_jobs TO ms5_app;

-- Downtime read model: every stop, open or ended, with its reason and loss category.
CREATE TABLE read_downtime (
    downtime_id    text PRIMARY KEY,
    line           text NOT NULL,
    equipment      text,
    started_at     timestamptz NOT NULL,
    ended_at       timestamptz,
    duration_ms    bigint,
    -- `small_stop` or `downtime` once ended.
    class          text,
    reason_code    text,
    loss_category  text NOT NULL,
    state          jsonb NOT NULL,
    last_position  bigint NOT NULL
);
CREATE INDEX read_downtime_by_line_start ON read_downtime (line, started_at);
GRANT SELECT, INSERT, UPDATE, DELETE ON read_downtime TO ms5_app;

-- Andon read model: every call, open or closed, with the times its response measures.
CREATE TABLE read_andon (
    call_id          text PRIMARY KEY,
    line             text NOT NULL,
    station          text NOT NULL,
    call_type        text NOT NULL,
    priority         text NOT NULL,
    status           text NOT NULL,
    level            smallint NOT NULL,
    raised_at        timestamptz NOT NULL,
    acknowledged_at  timestamptz,
    closed_at        timestamptz,
    state            jsonb NOT NULL,
    last_position    bigint NOT NULL
);
CREATE INDEX read_andon_open ON read_andon (line, status) WHERE closed_at IS NULL;
CREATE INDEX read_andon_by_line_raised ON read_andon (line, raised_at);
GRANT SELECT, INSERT, UPDATE, DELETE ON read_andon TO ms5_app;
