DELETE FROM crawl_runs WHERE status = 'cancelled';
ALTER TABLE crawl_runs DROP CONSTRAINT crawl_runs_status_check;
ALTER TABLE crawl_runs ADD CONSTRAINT crawl_runs_status_check
    CHECK (status IN ('running', 'succeeded', 'partially_failed', 'failed'));
ALTER TABLE crawl_runs DROP COLUMN work_id;
DROP TABLE IF EXISTS crawl_work;
