-- Events are never updated or deleted, by anyone (Part 11 AT-05). Privileges stop the application;
-- the triggers also stop the owner and anyone else who is not a superuser disabling triggers.
CREATE FUNCTION events_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER events_no_update_or_delete
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_reject_change();

CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_reject_change();

-- A stream's sequence is gapless: event n+1 may only follow event n. The unique key stops two writers
-- taking the same number; this stops anyone skipping one.
CREATE FUNCTION events_require_predecessor() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.sequence > 1 AND NOT EXISTS (
        SELECT 1 FROM events
        WHERE aggregate_type = NEW.aggregate_type
          AND aggregate_id = NEW.aggregate_id
          AND sequence = NEW.sequence - 1
    ) THEN
        RAISE EXCEPTION 'event % of %/% has no predecessor', NEW.sequence, NEW.aggregate_type, NEW.aggregate_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER events_gapless_sequence
    BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION events_require_predecessor();

REVOKE ALL ON events FROM PUBLIC;
GRANT SELECT, INSERT ON events TO ms5_app;
