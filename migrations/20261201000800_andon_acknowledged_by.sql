-- Who took an Andon call, for the Andon board (docs/dashboard.md): the printed name recorded with the
-- call's `AndonAcknowledged` event, in both colours of the Andon read model. Filled here from the log for
-- the calls acknowledged so far, so that the active colour is whole without a rebuild; the projector
-- writes it from then on, and a rebuild writes it from the same events.
ALTER TABLE rm_andon_blue.read_andon ADD COLUMN acknowledged_by text;
ALTER TABLE rm_andon_green.read_andon ADD COLUMN acknowledged_by text;

UPDATE rm_andon_blue.read_andon call SET acknowledged_by = event.metadata->>'actor_name'
  FROM events event
 WHERE event.aggregate_type = 'andon' AND event.aggregate_id = call.call_id
   AND event.event_type = 'AndonAcknowledged';
UPDATE rm_andon_green.read_andon call SET acknowledged_by = event.metadata->>'actor_name'
  FROM events event
 WHERE event.aggregate_type = 'andon' AND event.aggregate_id = call.call_id
   AND event.event_type = 'AndonAcknowledged';

CREATE OR REPLACE VIEW public.read_andon AS
    SELECT * FROM rm_andon_blue.read_andon
     WHERE (SELECT active FROM public.read_model_colors WHERE name = 'andon') = 'blue'
    UNION ALL
    SELECT * FROM rm_andon_green.read_andon
     WHERE (SELECT active FROM public.read_model_colors WHERE name = 'andon') = 'green';
