-- Which token set is current, so a refresh that finishes after a disconnect,
-- a new sign-in or another process's refresh cannot store stale tokens over
-- newer ones: every write of a connection's tokens bumps it.
ALTER TABLE connections ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 0;

-- Set while a Latch process holds tokens newer than the secret store's (the
-- store refused them: a locked keyring). Others then never send the older,
-- already-rotated refresh token the store still has.
ALTER TABLE connections ADD COLUMN tokens_unsaved_by TEXT;
