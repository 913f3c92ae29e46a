-- Several offers on one product page (variants, sellers) and the price before a sale.
-- list_price: the price before a sale (strikethrough/list price), kept apart from price; NULL when none.
-- offers: every offer the page carries, as the API serves them (amounts as decimal strings), exactly one
-- with "selected": true (the one whose price and availability the row reports); NULL when the page has
-- a single plain offer, and on rows written before this migration.
-- Adding nullable columns without a default rewrites nothing, partitions of observations included.

ALTER TABLE products
    ADD COLUMN list_price numeric,
    ADD COLUMN offers     jsonb CHECK (offers IS NULL OR jsonb_typeof(offers) = 'array');
ALTER TABLE observations
    ADD COLUMN list_price numeric,
    ADD COLUMN offers     jsonb;
