-- An Idempotency-Key's record is now written by the append of the command it guards, in the same
-- statement as its events, so after any crash, disconnect or database drop the key says "applied"
-- exactly when the events exist. Nothing is "in progress" any more: a record holds either the command's
-- outcome (the events it appended), or the answer of a request that appended nothing, or both.
ALTER TABLE idempotency_keys
    ADD COLUMN attempt          uuid,
    ADD COLUMN aggregate_type   text,
    ADD COLUMN aggregate_id     text,
    ADD COLUMN first_sequence   bigint,
    ADD COLUMN last_sequence    bigint,
    ADD COLUMN accepted_status  smallint;

-- Claims of the earlier design that never got an answer: where the events under the key exist, the
-- claim becomes their outcome (a retry then gets it); where none do, nothing was applied and the claim
-- is dropped, so a retry applies the command.
UPDATE idempotency_keys k
SET aggregate_type = g.aggregate_type, aggregate_id = g.aggregate_id, first_sequence = g.first_sequence,
    last_sequence = g.last_sequence, accepted_status = CASE WHEN g.first_sequence = 1 THEN 201 ELSE 200 END
FROM (
    SELECT DISTINCT ON (k.principal, k.key) k.principal, k.key, e.aggregate_type, e.aggregate_id,
           min(e.sequence) AS first_sequence, max(e.sequence) AS last_sequence
    FROM idempotency_keys k
    JOIN events e ON e.metadata->>'idempotency_key' = k.key
     AND k.principal IN ('user:' || (e.metadata->>'actor_user_id'), 'device:' || (e.metadata->>'device_id'))
    WHERE k.response IS NULL
    GROUP BY k.principal, k.key, e.aggregate_type, e.aggregate_id
    ORDER BY k.principal, k.key, min(e.position)
) g
WHERE k.principal = g.principal AND k.key = g.key AND k.response IS NULL;
DELETE FROM idempotency_keys WHERE response IS NULL AND last_sequence IS NULL;

ALTER TABLE idempotency_keys
    ADD CONSTRAINT idempotency_keys_answered CHECK (response IS NOT NULL OR last_sequence IS NOT NULL),
    ADD CONSTRAINT idempotency_keys_outcome_whole CHECK (
        (aggregate_type IS NULL) = (last_sequence IS NULL) AND (aggregate_id IS NULL) = (last_sequence IS NULL)
        AND (first_sequence IS NULL) = (last_sequence IS NULL));
-- A record is never given up any more, so the application no longer deletes them.
REVOKE DELETE ON idempotency_keys FROM ms5_app;
