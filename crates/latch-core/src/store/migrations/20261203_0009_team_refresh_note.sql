-- Teams: what this Latch last saw of a team connection's refresh document.
-- `refresh_version` is the KV version of the `refresh` document the row's
-- tokens were read or written as: a renewal that finds the same version
-- knows nobody else renewed meanwhile without reading the access document.
-- `connected_by` names the member whose sign-in the tokens come from (the
-- team entry of their Latch), so only that member is told when it must be
-- signed in again. `settings_version` is the version of the `settings`
-- document the row's settings came from: an edit is written over exactly
-- that version, so two members' edits never silently overwrite each other.
ALTER TABLE team_connections ADD COLUMN refresh_version INTEGER;
ALTER TABLE team_connections ADD COLUMN connected_by TEXT;
ALTER TABLE team_connections ADD COLUMN settings_version INTEGER;
