ALTER TABLE change_events DROP COLUMN IF EXISTS leased_until;
ALTER TABLE change_events DROP COLUMN IF EXISTS lease_token;
