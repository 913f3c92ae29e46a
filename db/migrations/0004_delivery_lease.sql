-- Delivery leases. An attempt takes its event for a bounded time in a short transaction that commits before
-- the POST (lease_token: which attempt holds it; leased_until: when it lapses, should its worker die), so no
-- transaction, row lock or pool connection is held while a receiver answers, and at most one attempt of an
-- event is in flight. The outcome is recorded afterwards, in a new transaction, by the holder of the token.
-- (0003 is another change's number: this one does not depend on it.)

ALTER TABLE change_events ADD COLUMN lease_token uuid;
ALTER TABLE change_events ADD COLUMN leased_until timestamptz;
