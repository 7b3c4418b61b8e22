-- The application acts as ms5_app, which may only read and append events (event-store.md, "The log").
-- Migrations run as the database owner, a different role. Roles are cluster-wide, so several databases
-- (tests create one each, concurrently) may race to create it: losing that race is fine.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ms5_app') THEN
        CREATE ROLE ms5_app NOLOGIN;
    END IF;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN
        NULL;
END
$$;
