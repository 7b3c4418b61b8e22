-- The gapless-sequence rule of 20261122000300, checked once per statement over all the rows it
-- inserted instead of once per row: the same rule (an event n > 1 needs event n - 1 of its stream in the
-- table, which now includes the statement's other rows), at a fraction of the cost for a statement that
-- inserts thousands of events (an import of an export file), and the same for a command's few.
DROP TRIGGER events_gapless_sequence ON events;
DROP FUNCTION events_require_predecessor();

CREATE FUNCTION events_require_predecessors() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    orphan record;
BEGIN
    SELECT n.aggregate_type, n.aggregate_id, n.sequence INTO orphan
    FROM inserted n
    WHERE n.sequence > 1 AND NOT EXISTS (
        SELECT 1 FROM events e
        WHERE e.aggregate_type = n.aggregate_type
          AND e.aggregate_id = n.aggregate_id
          AND e.sequence = n.sequence - 1
    )
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'event % of %/% has no predecessor', orphan.sequence, orphan.aggregate_type, orphan.aggregate_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER events_gapless_sequence
    AFTER INSERT ON events
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION events_require_predecessors();
