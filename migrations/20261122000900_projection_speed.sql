-- Each projection's speed for operators: the events applied since `rate_since`, and the rate of the last
-- whole window of at least 10 seconds (see `projections::checkpoint::events_per_second`).
ALTER TABLE projection_checkpoints
    ADD COLUMN rate_since        timestamptz      NOT NULL DEFAULT now(),
    ADD COLUMN rate_events       bigint           NOT NULL DEFAULT 0,
    ADD COLUMN events_per_second double precision NOT NULL DEFAULT 0;
