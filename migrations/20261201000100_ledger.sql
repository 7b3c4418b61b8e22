-- Layer 3 of tamper evidence (docs/event-store.md, "Tamper evidence"): the sealer gives every event, in
-- commit order, a dense ledger number and appends it to an RFC 6962 Merkle tree; signed checkpoints of
-- the tree are written at intervals. All three tables are append-only like the events.

CREATE TABLE ledger (
    -- 1, 2, 3, ...: the event's leaf is number - 1 in the tree.
    ledger_number  bigint      PRIMARY KEY CHECK (ledger_number >= 1),
    position       bigint      NOT NULL UNIQUE,
    -- SHA-256(0x00 || canonical bytes of the event || its stream hash).
    leaf_hash      bytea       NOT NULL CHECK (octet_length(leaf_hash) = 32),
    sealed_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Every hash of the tree, leaves and complete subtrees, by the "stored hash" index of Crosby and
-- Wallach: what proofs and the root of any earlier size are read from.
CREATE TABLE ledger_hashes (
    stored_index   bigint PRIMARY KEY CHECK (stored_index >= 0),
    hash           bytea  NOT NULL CHECK (octet_length(hash) = 32)
);

-- Signed tree heads. `note` is the C2SP signed note, the signed truth; the other columns repeat what it
-- says for queries. The signing key is never in the database.
CREATE TABLE ledger_checkpoints (
    tree_size      bigint      PRIMARY KEY CHECK (tree_size >= 1),
    root_hash      bytea       NOT NULL CHECK (octet_length(root_hash) = 32),
    signed_at      timestamptz NOT NULL,
    note           text        NOT NULL
);

CREATE TRIGGER ledger_no_update_or_delete
    BEFORE UPDATE OR DELETE ON ledger FOR EACH ROW EXECUTE FUNCTION events_reject_change();
CREATE TRIGGER ledger_no_truncate
    BEFORE TRUNCATE ON ledger FOR EACH STATEMENT EXECUTE FUNCTION events_reject_change();
CREATE TRIGGER ledger_hashes_no_update_or_delete
    BEFORE UPDATE OR DELETE ON ledger_hashes FOR EACH ROW EXECUTE FUNCTION events_reject_change();
CREATE TRIGGER ledger_hashes_no_truncate
    BEFORE TRUNCATE ON ledger_hashes FOR EACH STATEMENT EXECUTE FUNCTION events_reject_change();
CREATE TRIGGER ledger_checkpoints_no_update_or_delete
    BEFORE UPDATE OR DELETE ON ledger_checkpoints FOR EACH ROW EXECUTE FUNCTION events_reject_change();
CREATE TRIGGER ledger_checkpoints_no_truncate
    BEFORE TRUNCATE ON ledger_checkpoints FOR EACH STATEMENT EXECUTE FUNCTION events_reject_change();

REVOKE ALL ON ledger, ledger_hashes, ledger_checkpoints FROM PUBLIC;
GRANT SELECT, INSERT ON ledger, ledger_hashes, ledger_checkpoints TO ms5_app;
