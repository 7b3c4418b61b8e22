-- Read models rebuilt blue/green (docs/event-store.md, "Rebuilding a read model"). Each read model keeps
-- its tables in two schemas, `rm_<name>_blue` and `rm_<name>_green`; a pointer row per read model says
-- which one queries read. Queries name the tables as before: each is now a view in `public` that reads
-- the pointer in the same statement and returns the active schema's rows only. A projector worker writes
-- into one schema through its transaction's search_path. A rebuild fills the inactive schema from the
-- first event and switches the pointer in one transaction; no live table is renamed or dropped.

CREATE TABLE read_model_colors (
    name          text PRIMARY KEY,
    active        text NOT NULL DEFAULT 'blue' CHECK (active IN ('blue', 'green')),
    -- The schema being rebuilt, while a rebuild runs.
    building      text CHECK (building IN ('blue', 'green') AND building <> active),
    -- A recomputation to compare with, never switched to (`ms5-replay compare`).
    compare_only  boolean NOT NULL DEFAULT false,
    -- The last switch: when, to which version, and where in the log the rebuilt version then stood
    -- (recorded as an event of the read model after the switch; see `projections::rebuilds`).
    switched_at              timestamptz,
    switched_version         integer,
    switched_transaction_id  bigint,
    switched_position        bigint,
    switched_events_applied  bigint
);
GRANT SELECT, UPDATE ON read_model_colors TO ms5_app;

DO $$
DECLARE
    model record;
    tbl text;
    color text;
BEGIN
    FOR model IN SELECT * FROM (VALUES
        ('jobs', ARRAY['read_jobs']),
        ('downtime', ARRAY['read_downtime']),
        ('andon', ARRAY['read_andon']),
        ('oee', ARRAY['read_oee_lines', 'read_oee_cycle_times', 'read_oee_jobs', 'read_oee_counts', 'read_oee_stops']),
        ('audit_trail', ARRAY['audit_trail', 'audit_records'])
    ) AS m(name, tables)
    LOOP
        INSERT INTO read_model_colors (name) VALUES (model.name);
        FOREACH color IN ARRAY ARRAY['blue', 'green'] LOOP
            EXECUTE format('CREATE SCHEMA rm_%s_%s', model.name, color);
            EXECUTE format('GRANT USAGE ON SCHEMA rm_%s_%s TO ms5_app', model.name, color);
        END LOOP;
        FOREACH tbl IN ARRAY model.tables LOOP
            -- The tables as they are become blue, rows and all; green starts as an empty copy.
            EXECUTE format('ALTER TABLE public.%I SET SCHEMA rm_%s_blue', tbl, model.name);
            EXECUTE format('CREATE TABLE rm_%s_green.%I (LIKE rm_%s_blue.%I INCLUDING ALL)',
                           model.name, tbl, model.name, tbl);
            FOREACH color IN ARRAY ARRAY['blue', 'green'] LOOP
                EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON rm_%s_%s.%I TO ms5_app',
                               model.name, color, tbl);
            END LOOP;
            EXECUTE format(
                'CREATE VIEW public.%I AS
                   SELECT * FROM rm_%s_blue.%I
                    WHERE (SELECT active FROM public.read_model_colors WHERE name = %L) = ''blue''
                   UNION ALL
                   SELECT * FROM rm_%s_green.%I
                    WHERE (SELECT active FROM public.read_model_colors WHERE name = %L) = ''green''',
                tbl, model.name, tbl, model.name, model.name, tbl, model.name);
            EXECUTE format('GRANT SELECT ON public.%I TO ms5_app', tbl);
        END LOOP;
    END LOOP;
END
$$;

-- A rebuilt schema is analysed before queries switch to it; the application role does not own the
-- tables, so it asks this function, which runs as the migrations' owner and analyses nothing else.
CREATE FUNCTION analyse_read_model(model text, color text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
    tbl record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM public.read_model_colors WHERE name = model) OR color NOT IN ('blue', 'green') THEN
        RAISE EXCEPTION 'no read model % in %', model, color;
    END IF;
    FOR tbl IN SELECT tablename FROM pg_tables WHERE schemaname = format('rm_%s_%s', model, color) LOOP
        EXECUTE format('ANALYZE rm_%s_%s.%I', model, color, tbl.tablename);
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION analyse_read_model(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION analyse_read_model(text, text) TO ms5_app;
