-- Teams: how this Latch signs in to the team's OpenBao, without the secret
-- (which is in the OS keyring, or only in memory for `latch agent
-- --headless`): `auth_method` is token, approle, userpass or jwt;
-- `auth_mount` the auth method's mount; `auth_name` the AppRole role ID,
-- the username or the JWT role. With them Latch logs in again by itself
-- when the token cannot be renewed any more.
ALTER TABLE teams ADD COLUMN auth_method TEXT NOT NULL DEFAULT 'token';
ALTER TABLE teams ADD COLUMN auth_mount TEXT;
ALTER TABLE teams ADD COLUMN auth_name TEXT;
