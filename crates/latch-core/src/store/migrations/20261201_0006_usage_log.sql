-- Every time a credential was handed out: when, for which connection,
-- through what, to which process and host. Never the credential itself.
CREATE TABLE usage_log (
    id             INTEGER PRIMARY KEY,
    at             TEXT NOT NULL,
    connection_id  TEXT NOT NULL,
    via            TEXT NOT NULL,
    what           TEXT NOT NULL,
    pid            INTEGER,
    exe            TEXT,
    parent_pid     INTEGER,
    host           TEXT
);
CREATE INDEX usage_log_by_connection ON usage_log (connection_id, at);
CREATE INDEX usage_log_by_time ON usage_log (at);
