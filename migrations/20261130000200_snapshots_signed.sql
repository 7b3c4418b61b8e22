-- Snapshots steer decisions, so the service must be able to trust them: each now carries a MAC under a
-- key that is never in the database, and the application may only add snapshots, never change one.
-- Snapshots of the earlier shape have no MAC and are ignored (the stream is replayed) until the next
-- snapshot of their aggregate is taken.
ALTER TABLE snapshots ADD COLUMN mac bytea CHECK (octet_length(mac) = 32);
ALTER TABLE snapshots DROP CONSTRAINT snapshots_pkey;
ALTER TABLE snapshots ADD PRIMARY KEY (aggregate_type, aggregate_id, sequence);
REVOKE UPDATE, DELETE ON snapshots FROM ms5_app;
