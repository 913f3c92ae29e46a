ALTER TABLE crawl_runs DROP COLUMN summary;
