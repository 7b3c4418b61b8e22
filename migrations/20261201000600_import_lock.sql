-- An import of an export file (docs/backup-and-restore.md) checks what the database holds and appends
-- the file's events in one transaction; no other event may be appended in between, or the sealer would
-- number the file's events differently from the ledger they were exported from. This function takes a
-- lock that appends wait for (they take ROW EXCLUSIVE) until the import's transaction ends; reads go on.
-- The application role may not lock the table itself, so the function runs as the migrations' owner.
CREATE FUNCTION lock_events_for_import() RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS $$
    LOCK TABLE public.events IN SHARE MODE;
$$;
REVOKE ALL ON FUNCTION lock_events_for_import() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lock_events_for_import() TO ms5_app;
