-- Credentials and sessions: secrets and their bookkeeping, kept out of the event log (Part 11 AC-05,
-- AC-07). Who was created, granted, locked or reset is in the events; these tables only let the API
-- check a password or a token. Nothing here is a record: rows are replaced when secrets change.

-- The service's token signing key, created by the first instance that needs it and shared by all.
CREATE TABLE signing_keys (
    id         smallint PRIMARY KEY CHECK (id = 1),
    secret     bytea NOT NULL CHECK (octet_length(secret) >= 32),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- One current password per user (argon2id PHC string) and when it was set, for aging.
CREATE TABLE user_credentials (
    user_id      uuid PRIMARY KEY,
    username     text NOT NULL UNIQUE,
    password     text NOT NULL,
    set_at       timestamptz NOT NULL,
    -- Set by an administrator's reset: the user must choose their own before doing anything (AC-05).
    must_change  boolean NOT NULL
);

-- Earlier passwords, so that a new one cannot repeat the last few.
CREATE TABLE password_history (
    user_id  uuid NOT NULL,
    password text NOT NULL,
    set_at   timestamptz NOT NULL
);
CREATE INDEX password_history_by_user ON password_history (user_id, set_at DESC);

-- An enrolled device's secret (argon2id) for device authentication (AC-09).
CREATE TABLE device_credentials (
    device_id text PRIMARY KEY,
    secret    text NOT NULL
);

-- Sessions behind access tokens: revocable at once (AC-07) and ended by inactivity (AC-08).
CREATE TABLE sessions (
    id             uuid PRIMARY KEY,
    user_id        uuid,
    device_id      text,
    -- SHA-256 of the refresh token; the token itself is only ever in the client's hands.
    refresh_digest bytea NOT NULL UNIQUE,
    created_at     timestamptz NOT NULL,
    last_seen_at   timestamptz NOT NULL,
    ended_at       timestamptz,
    end_reason     text,
    CHECK (user_id IS NOT NULL OR device_id IS NOT NULL)
);
CREATE INDEX sessions_open_by_user ON sessions (user_id) WHERE ended_at IS NULL;

-- Responses to commands sent with an Idempotency-Key, per principal: a repeat gets the first answer.
CREATE TABLE idempotency_keys (
    principal    text NOT NULL,
    key          text NOT NULL,
    request_hash bytea NOT NULL,
    status       smallint,
    response     jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal, key)
);

GRANT SELECT, INSERT ON signing_keys TO ms5_app;
GRANT SELECT, INSERT, UPDATE ON user_credentials, device_credentials, sessions TO ms5_app;
GRANT SELECT, INSERT ON password_history TO ms5_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO ms5_app;
