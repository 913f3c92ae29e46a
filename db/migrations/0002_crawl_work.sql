-- Crawl work in Postgres: scheduled, on-demand, discovery and baseline crawls are rows here, claimed by
-- any crawler process with FOR UPDATE SKIP LOCKED (crawler/manager.py, db/queries/work.py).
-- A crawl run can be closed as cancelled (the crawler stopped; its work is handed back and taken up again).

CREATE TABLE crawl_work (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    website_id      bigint NOT NULL REFERENCES websites (id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('discovery', 'baseline', 'scheduled', 'manual')),
    job_id          text NOT NULL UNIQUE,                      -- what the API returns; a slot's id for scheduled
    product_ids     bigint[],                                  -- baseline: only these products
    status          text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
    run_after       timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    claimed_by      text,                                      -- the crawler process holding it
    heartbeat_at    timestamptz,
    note            text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
CREATE INDEX crawl_work_queued_idx ON crawl_work (run_after, id) WHERE status = 'queued';
CREATE INDEX crawl_work_running_idx ON crawl_work (heartbeat_at) WHERE status = 'running';
-- one crawl of a website at a time, whatever races the claimers run
CREATE UNIQUE INDEX crawl_work_one_running_idx ON crawl_work (website_id) WHERE status = 'running';
CREATE INDEX crawl_work_website_idx ON crawl_work (website_id, status);

ALTER TABLE crawl_runs ADD COLUMN work_id bigint REFERENCES crawl_work (id) ON DELETE SET NULL;
CREATE INDEX crawl_runs_work_idx ON crawl_runs (work_id) WHERE work_id IS NOT NULL;
ALTER TABLE crawl_runs DROP CONSTRAINT crawl_runs_status_check;
ALTER TABLE crawl_runs ADD CONSTRAINT crawl_runs_status_check
    CHECK (status IN ('running', 'succeeded', 'partially_failed', 'failed', 'cancelled'));
