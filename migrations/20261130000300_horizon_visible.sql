-- The projections' status names the session whose open transaction holds the commit-order horizon back
-- (docs/adr/0002). Its transaction's age and state are visible to the application role only with
-- pg_read_all_stats; granted where the migrating role may grant it (the private cluster), and otherwise
-- left to the database administrator (the status then shows the holder without its age).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user AND rolsuper)
       OR pg_has_role(current_user, 'pg_read_all_stats', 'MEMBER WITH ADMIN OPTION') THEN
        GRANT pg_read_all_stats TO ms5_app;
    ELSE
        RAISE NOTICE 'grant pg_read_all_stats to ms5_app to see the age of the transaction holding the horizon';
    END IF;
END
$$;
