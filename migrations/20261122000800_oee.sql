-- OEE read model: the facts every OEE window is computed from at query time (domain::oee::window).
-- Windows are not stored: an open stop counts up to the query's "now", and a configuration version
-- that takes effect in the past changes earlier windows, so figures are formed when asked.

-- Each line as the domain folds it: time zone, versioned shift calendars and thresholds.
CREATE TABLE read_oee_lines (
    line           text PRIMARY KEY,
    state          jsonb NOT NULL,
    last_position  bigint NOT NULL
);
GRANT SELECT, INSERT, UPDATE, DELETE ON read_oee_lines TO ms5_app;

-- Ideal cycle time versions per line and product, each valid in [effective_from, effective_to).
CREATE TABLE read_oee_cycle_times (
    line            text NOT NULL,
    product         text NOT NULL,
    version         integer NOT NULL,
    effective_from  timestamptz NOT NULL,
    effective_to    timestamptz,
    ideal_ms        bigint NOT NULL,
    PRIMARY KEY (line, product, version)
);
GRANT SELECT, INSERT, UPDATE, DELETE ON read_oee_cycle_times TO ms5_app;

-- The line and product of each job, for its counts.
CREATE TABLE read_oee_jobs (
    job_id   text PRIMARY KEY,
    line     text NOT NULL,
    product  text NOT NULL
);
GRANT SELECT, INSERT, UPDATE, DELETE ON read_oee_jobs TO ms5_app;

-- One row per counting event (production record, counter delta, correction), at the time the units were
-- made at the source. Corrections are negative rows: nothing here is edited.
CREATE TABLE read_oee_counts (
    position  bigint PRIMARY KEY,
    line      text NOT NULL,
    product   text NOT NULL,
    made_at   timestamptz NOT NULL,
    total     bigint NOT NULL,
    good      bigint NOT NULL
);
CREATE INDEX read_oee_counts_by_line_time ON read_oee_counts (line, made_at) INCLUDE (product, total, good);
GRANT SELECT, INSERT, UPDATE, DELETE ON read_oee_counts TO ms5_app;

-- Every stop: a whole-line stop (no equipment) is what line availability counts.
CREATE TABLE read_oee_stops (
    downtime_id    text PRIMARY KEY,
    line           text NOT NULL,
    equipment      text,
    started_at     timestamptz NOT NULL,
    ended_at       timestamptz,
    state          jsonb NOT NULL,
    last_position  bigint NOT NULL
);
CREATE INDEX read_oee_stops_by_line_time ON read_oee_stops (line, started_at);
-- A window's stops are those still open or ended after it began: found without reading the line's history.
CREATE INDEX read_oee_stops_by_line_end ON read_oee_stops (line, ended_at);
GRANT SELECT, INSERT, UPDATE, DELETE ON read_oee_stops TO ms5_app;
