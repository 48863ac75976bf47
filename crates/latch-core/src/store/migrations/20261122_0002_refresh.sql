-- Single-flight refresh across processes: whoever holds an unexpired lease
-- on a connection is the only one asking the provider for new tokens.
CREATE TABLE refresh_leases (
    connection_id  TEXT PRIMARY KEY,
    holder         TEXT NOT NULL,
    expires_at_ms  INTEGER NOT NULL
);

-- What the refresher needs to remember between runs and processes.
ALTER TABLE connections ADD COLUMN retry_at TEXT;            -- next attempt after a passing failure
ALTER TABLE connections ADD COLUMN failed_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE connections ADD COLUMN reauth_notified INTEGER NOT NULL DEFAULT 0;  -- one notification per episode
ALTER TABLE connections ADD COLUMN expiry_warned INTEGER NOT NULL DEFAULT 0;    -- one early warning per sign-in

CREATE TABLE settings (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
