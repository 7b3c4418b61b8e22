-- Two columns of the OEE read model's counts, in both colours (ADR 0006), for the loss tree and the
-- shift report (docs/oee.md):
-- * startup_reject: rejects booked with a start-up reject reason. Every earlier count keeps 0, which is
--   right without a rebuild: before reject reasons were a tree no reject had a category, and the loss
--   tree books those as production rejects.
-- * job_id: the job that made the units, for a shift report's counts per job. Earlier rows have none;
--   version 2 of the projection (a blue/green rebuild the service requests by itself) fills it.
ALTER TABLE rm_oee_blue.read_oee_counts ADD COLUMN startup_reject bigint NOT NULL DEFAULT 0, ADD COLUMN job_id text;
ALTER TABLE rm_oee_green.read_oee_counts ADD COLUMN startup_reject bigint NOT NULL DEFAULT 0, ADD COLUMN job_id text;

CREATE OR REPLACE VIEW public.read_oee_counts AS
    SELECT * FROM rm_oee_blue.read_oee_counts
     WHERE (SELECT active FROM public.read_model_colors WHERE name = 'oee') = 'blue'
    UNION ALL
    SELECT * FROM rm_oee_green.read_oee_counts
     WHERE (SELECT active FROM public.read_model_colors WHERE name = 'oee') = 'green';
