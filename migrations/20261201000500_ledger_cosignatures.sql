-- Witness cosignatures of the ledger's checkpoints (docs/event-store.md, "Witnesses"): each is a
-- C2SP cosignature/v1 signature line by a witness outside the database, checked with the witness's key
-- before it is stored. Appended to the checkpoint's signed note it gives the cosigned checkpoint.
-- Append-only like the checkpoints themselves.

CREATE TABLE ledger_cosignatures (
    tree_size      bigint      NOT NULL REFERENCES ledger_checkpoints (tree_size),
    -- The witness key's name.
    witness        text        NOT NULL,
    -- The time the witness states in its cosignature.
    cosigned_at    timestamptz NOT NULL,
    -- The signature line (`— <witness> <base64>`), newline included.
    signature      text        NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (tree_size, witness)
);

CREATE TRIGGER ledger_cosignatures_no_update_or_delete
    BEFORE UPDATE OR DELETE ON ledger_cosignatures FOR EACH ROW EXECUTE FUNCTION events_reject_change();
CREATE TRIGGER ledger_cosignatures_no_truncate
    BEFORE TRUNCATE ON ledger_cosignatures FOR EACH STATEMENT EXECUTE FUNCTION events_reject_change();

REVOKE ALL ON ledger_cosignatures FROM PUBLIC;
GRANT SELECT, INSERT ON ledger_cosignatures TO ms5_app;
