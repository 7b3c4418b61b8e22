-- Two columns of the OEE read model's counts, in both colours (ADR 0006), for the loss tree and the
-- shift report (docs/oee.md), and the counts summed per hour (below):
-- * startup_reject: rejects booked with a start-up reject reason. Every earlier count keeps 0, which is
--   right without a rebuild: before reject reasons were a tree no reject had a category, and the loss
--   tree books those as production rejects.
-- * job_id: the job that made the units, for a shift report's counts per job. Earlier rows have none;
--   version 2 of the projection (a blue/green rebuild the service requests by itself) fills it, and the
--   hourly sums below.
ALTER TABLE rm_oee_blue.read_oee_counts ADD COLUMN startup_reject bigint NOT NULL DEFAULT 0, ADD COLUMN job_id text;
ALTER TABLE rm_oee_green.read_oee_counts ADD COLUMN startup_reject bigint NOT NULL DEFAULT 0, ADD COLUMN job_id text;

CREATE OR REPLACE VIEW public.read_oee_counts AS
    SELECT * FROM rm_oee_blue.read_oee_counts
     WHERE (SELECT active FROM public.read_model_colors WHERE name = 'oee') = 'blue'
    UNION ALL
    SELECT * FROM rm_oee_green.read_oee_counts
     WHERE (SELECT active FROM public.read_model_colors WHERE name = 'oee') = 'green';

-- The same counts summed per line, UTC hour and product, kept by the projector beside every count it
-- books, so a period reads an hour's row instead of its minute-by-minute counts. Units are priced when
-- asked (an ideal cycle time version may take effect in the past); an hour that a version boundary
-- splits, and a period's partial first and last hours, are still read from the counts
-- (`projections::read_models::oee::query`).
DO $$
DECLARE
    color text;
BEGIN
    FOREACH color IN ARRAY ARRAY['blue', 'green'] LOOP
        EXECUTE format(
            'CREATE TABLE rm_oee_%s.read_oee_count_hours (
                 line            text NOT NULL,
                 hour            timestamptz NOT NULL,
                 product         text NOT NULL,
                 total           bigint NOT NULL,
                 good            bigint NOT NULL,
                 startup_reject  bigint NOT NULL,
                 PRIMARY KEY (line, hour, product))', color);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON rm_oee_%s.read_oee_count_hours TO ms5_app', color);
        -- Summed from the counts already booked, so that queries of the active colour are whole from
        -- the moment this migration commits, before any rebuild.
        EXECUTE format(
            'INSERT INTO rm_oee_%1$s.read_oee_count_hours (line, hour, product, total, good, startup_reject)
             SELECT line, date_trunc(''hour'', made_at, ''UTC''), product, sum(total), sum(good), sum(startup_reject)
             FROM rm_oee_%1$s.read_oee_counts GROUP BY 1, 2, 3', color);
    END LOOP;
END
$$;

CREATE VIEW public.read_oee_count_hours AS
    SELECT * FROM rm_oee_blue.read_oee_count_hours
     WHERE (SELECT active FROM public.read_model_colors WHERE name = 'oee') = 'blue'
    UNION ALL
    SELECT * FROM rm_oee_green.read_oee_count_hours
     WHERE (SELECT active FROM public.read_model_colors WHERE name = 'oee') = 'green';
GRANT SELECT ON public.read_oee_count_hours TO ms5_app;
