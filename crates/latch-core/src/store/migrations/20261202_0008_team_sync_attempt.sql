-- When Latch last tried to mirror the team, whether or not the store
-- answered: commands try again at most once a minute, so a team store that
-- is down does not slow every command.
ALTER TABLE teams ADD COLUMN last_sync_attempt_at TEXT;
