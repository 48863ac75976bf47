-- Teams (OpenBao/Vault KV v2): where each team's connections are kept. Only
-- the non-secret part is here; the OpenBao token is in the OS keyring.
CREATE TABLE teams (
    name            TEXT PRIMARY KEY COLLATE NOCASE,
    addr            TEXT NOT NULL,
    mount           TEXT NOT NULL,
    path            TEXT NOT NULL,
    ca_file         TEXT,
    -- The keyring entry (account `<token_entry>/openbao_token`) with the token.
    token_entry     TEXT NOT NULL,
    joined_at       TEXT NOT NULL,
    last_synced_at  TEXT,
    -- When Latch last tried to mirror the team, whether or not the store
    -- answered: commands try again at most once a minute, so a team store
    -- that is down does not slow every command.
    last_sync_attempt_at TEXT
);

-- The local rows that mirror a team's connections. `access_version` is the
-- KV version of the access document the row's state (expiry, status) was
-- read from or written as: when the store's is newer, another machine
-- stored new tokens.
CREATE TABLE team_connections (
    connection_id   TEXT PRIMARY KEY REFERENCES connections(id) ON DELETE CASCADE,
    team            TEXT NOT NULL REFERENCES teams(name) ON DELETE CASCADE,
    access_version  INTEGER,
    last_refresh_at TEXT
);
