-- Rejects booked with a start-up reject reason (docs/oee.md, "The loss tree"), per counting event, in
-- both colours of the OEE read model. Every earlier count stays 0: before reject reasons were a tree
-- no reject had a category, and the loss tree books those as production rejects, so no rebuild is
-- needed. The view is replaced to show the new column (ADR 0006).
ALTER TABLE rm_oee_blue.read_oee_counts ADD COLUMN startup_reject bigint NOT NULL DEFAULT 0;
ALTER TABLE rm_oee_green.read_oee_counts ADD COLUMN startup_reject bigint NOT NULL DEFAULT 0;

CREATE OR REPLACE VIEW public.read_oee_counts AS
    SELECT * FROM rm_oee_blue.read_oee_counts
     WHERE (SELECT active FROM public.read_model_colors WHERE name = 'oee') = 'blue'
    UNION ALL
    SELECT * FROM rm_oee_green.read_oee_counts
     WHERE (SELECT active FROM public.read_model_colors WHERE name = 'oee') = 'green';
