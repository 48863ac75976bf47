-- Connection kinds (oauth2 now; oauth1 and spec later): the settings of a
-- connection's kind become one versioned JSON document. The old `spec`
-- document held the same fields plus the name, which already has its own
-- column; the name is dropped from the document, every other field kept.
ALTER TABLE connections ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
ALTER TABLE connections ADD COLUMN settings_version INTEGER NOT NULL DEFAULT 1;
UPDATE connections SET settings = json_remove(spec, '$.name');
ALTER TABLE connections DROP COLUMN spec;

-- The next step that fixes the last error (sign in again, edit a field),
-- for front ends to offer in their own words.
ALTER TABLE connections ADD COLUMN last_error_action TEXT;
