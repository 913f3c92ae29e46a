-- Obsrv initial schema: every table of DESIGN.md's data model.
-- Money is numeric, times are timestamptz (UTC). Ids are bigint identities.
-- Partitions of `observations` are created by code (db/partitions.py), never here.

CREATE TABLE clients (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id       bigint NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    prefix          text NOT NULL,
    digest          bytea NOT NULL CHECK (length(digest) = 32),          -- SHA-256 of the whole key
    scopes          text[] NOT NULL
                    CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['read', 'write', 'admin']),
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz,
    invalidated_at  timestamptz
);
CREATE INDEX api_keys_prefix_idx ON api_keys (prefix);
CREATE INDEX api_keys_client_idx ON api_keys (client_id, created_at);

CREATE TABLE websites (
    id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id              bigint NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    name                   text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    domain                 text NOT NULL,                                -- normalized host
    seed_urls              text[] NOT NULL CHECK (cardinality(seed_urls) BETWEEN 1 AND 20),
    status                 text NOT NULL DEFAULT 'pending_discovery'
                           CHECK (status IN ('pending_discovery', 'pending_approval', 'active', 'paused', 'failed')),
    status_reason          text,
    schedule               text NOT NULL DEFAULT '0 2 * * *',           -- cron, UTC
    next_crawl_at          timestamptz,
    price_threshold_pct    numeric(6, 3) NOT NULL DEFAULT 1 CHECK (price_threshold_pct BETWEEN 0 AND 100),
    webhook_url            text,
    webhook_mode           text NOT NULL DEFAULT 'immediate' CHECK (webhook_mode IN ('immediate', 'daily_digest')),
    webhook_enabled        boolean NOT NULL DEFAULT true,
    render_js              boolean NOT NULL DEFAULT false,
    selectors              jsonb NOT NULL DEFAULT '{}'::jsonb,
    crawl_rate_per_minute  integer NOT NULL DEFAULT 10 CHECK (crawl_rate_per_minute BETWEEN 1 AND 120),
    consecutive_failures   integer NOT NULL DEFAULT 0,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    UNIQUE (client_id, domain)
);
CREATE INDEX websites_due_idx ON websites (next_crawl_at) WHERE status = 'active';
CREATE INDEX websites_client_status_idx ON websites (client_id, status, id);

CREATE TABLE webhook_secrets (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id    bigint NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    secret       text NOT NULL,                                          -- whsec_..., needed to sign
    created_at   timestamptz NOT NULL DEFAULT now(),
    valid_until  timestamptz                                             -- NULL: current; set: previous, in its grace period
);
CREATE UNIQUE INDEX webhook_secrets_one_current_idx ON webhook_secrets (client_id) WHERE valid_until IS NULL;

CREATE TABLE crawl_runs (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    website_id          bigint NOT NULL REFERENCES websites (id) ON DELETE CASCADE,
    kind                text NOT NULL CHECK (kind IN ('discovery', 'baseline', 'scheduled', 'manual', 'confirm')),
    job_id              text,
    status              text NOT NULL DEFAULT 'running'
                        CHECK (status IN ('running', 'succeeded', 'partially_failed', 'failed')),
    started_at          timestamptz NOT NULL DEFAULT now(),
    finished_at         timestamptz,
    duration_ms         integer,
    heartbeat_at        timestamptz NOT NULL DEFAULT now(),
    worker              text,
    pages_fetched       integer NOT NULL DEFAULT 0,
    products_attempted  integer NOT NULL DEFAULT 0,
    products_ok         integer NOT NULL DEFAULT 0,
    products_failed     integer NOT NULL DEFAULT 0,
    changes_detected    integer NOT NULL DEFAULT 0,
    error_type          text CHECK (error_type IN ('timeout', 'dns', 'network', 'http_status', 'blocked', 'parse', 'robots', 'internal')),
    error_message       text,
    error_products      jsonb NOT NULL DEFAULT '[]'::jsonb
);
CREATE INDEX crawl_runs_website_idx ON crawl_runs (website_id, started_at DESC, id DESC);
CREATE INDEX crawl_runs_running_idx ON crawl_runs (heartbeat_at) WHERE status = 'running';
CREATE UNIQUE INDEX crawl_runs_job_idx ON crawl_runs (job_id) WHERE job_id IS NOT NULL;

CREATE TABLE products (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    website_id            bigint NOT NULL REFERENCES websites (id) ON DELETE CASCADE,
    url                   text NOT NULL,                                 -- canonical URL
    identity              text NOT NULL,                                 -- sku:/gtin:/platform:/url: key
    sku                   text,
    gtin                  text,
    platform_id           text,
    status                text NOT NULL DEFAULT 'discovered'
                          CHECK (status IN ('discovered', 'approved', 'removed')),
    discovery_score       real,
    name                  text,
    brand                 text,
    image                 text,
    price                 numeric,
    currency              char(3),
    availability          text CHECK (availability IN ('InStock', 'OutOfStock', 'PreOrder', 'BackOrder',
                                                       'LimitedAvailability', 'Discontinued')),
    sources               jsonb NOT NULL DEFAULT '{}'::jsonb,
    last_observed_at      timestamptz,                                   -- last observation, ok or not
    last_ok_at            timestamptz,                                   -- last observation that rendered the product
    last_changed_at       timestamptz,
    notified_price        numeric,                                       -- what the client was last told
    notified_currency     char(3),
    notified_availability text,
    approved_at           timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    UNIQUE (website_id, url)
);
CREATE INDEX products_website_status_idx ON products (website_id, status, discovery_score DESC NULLS LAST, id);
CREATE INDEX products_identity_idx ON products (website_id, identity);

-- Product history: one row per product per crawl, partitioned by month.
CREATE TABLE observations (
    id            bigint GENERATED ALWAYS AS IDENTITY,
    product_id    bigint NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    crawl_run_id  bigint,
    observed_at   timestamptz NOT NULL DEFAULT now(),
    ok            boolean NOT NULL,
    price         numeric,
    currency      char(3),
    availability  text,
    http_status   smallint,
    error_type    text,
    error         text,
    flagged       boolean NOT NULL DEFAULT false,                        -- suspicious change not confirmed
    PRIMARY KEY (product_id, observed_at, id)
) PARTITION BY RANGE (observed_at);
-- The primary key's index serves (product_id, observed_at) ranges and keyset pages in both orders.
CREATE INDEX observations_crawl_run_idx ON observations (crawl_run_id);

-- The outbox.
CREATE TABLE change_events (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uid              uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,     -- stable delivery id
    website_id       bigint NOT NULL REFERENCES websites (id) ON DELETE CASCADE,
    product_id       bigint REFERENCES products (id) ON DELETE CASCADE,
    type             text NOT NULL CHECK (type IN ('price_changed', 'stock_changed', 'website.paused', 'test', 'digest')),
    before           jsonb,
    after            jsonb,
    change_pct       numeric,
    observed_at      timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    exhausted_at     timestamptz,
    digest_id        bigint REFERENCES change_events (id) ON DELETE SET NULL
);
CREATE INDEX change_events_pending_idx ON change_events (next_attempt_at)
    WHERE delivered_at IS NULL AND exhausted_at IS NULL;
CREATE INDEX change_events_website_idx ON change_events (website_id, created_at DESC);
CREATE INDEX change_events_product_idx ON change_events (product_id) WHERE product_id IS NOT NULL;

CREATE TABLE webhook_deliveries (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id      bigint NOT NULL REFERENCES change_events (id) ON DELETE CASCADE,
    website_id    bigint NOT NULL REFERENCES websites (id) ON DELETE CASCADE,
    attempt       integer NOT NULL,
    attempted_at  timestamptz NOT NULL DEFAULT now(),
    url           text NOT NULL,
    status_code   integer,
    latency_ms    integer,
    success       boolean NOT NULL,
    error         text
);
CREATE INDEX webhook_deliveries_website_idx ON webhook_deliveries (website_id, attempted_at DESC, id DESC);
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id);

CREATE TABLE product_statistics (
    product_id       bigint NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    month            date NOT NULL CHECK (extract(day FROM month) = 1),
    currency         char(3),
    min_price        numeric,
    max_price        numeric,
    avg_price        numeric,
    last_price       numeric,
    observations     integer NOT NULL,
    ok_observations  integer NOT NULL,
    in_stock_ratio   numeric(5, 4),
    computed_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (product_id, month)
);

CREATE TABLE audit_log (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id    bigint REFERENCES clients (id) ON DELETE CASCADE,
    api_key_id   bigint REFERENCES api_keys (id) ON DELETE SET NULL,      -- who; NULL for the CLI
    action       text NOT NULL,                                          -- e.g. key.created, website.deleted
    target_type  text NOT NULL,
    target_id    bigint,
    details      jsonb NOT NULL DEFAULT '{}'::jsonb,
    request_id   text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_client_idx ON audit_log (client_id, created_at DESC);
