-- Connections: the user's spec as JSON (fields evolve without migrations),
-- plus the columns Latch queries and updates on its own.
CREATE TABLE connections (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL UNIQUE COLLATE NOCASE,
    kind                TEXT NOT NULL DEFAULT 'oauth2',
    spec                TEXT NOT NULL,
    status              TEXT NOT NULL DEFAULT 'new',
    access_expires_at   TEXT,
    refresh_expires_at  TEXT,
    access_issued_at    TEXT,
    granted_scopes      TEXT,
    account             TEXT,
    has_client_secret   INTEGER NOT NULL DEFAULT 0,
    has_refresh_token   INTEGER NOT NULL DEFAULT 0,
    last_error          TEXT,
    last_error_details  TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
