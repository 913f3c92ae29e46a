DROP TABLE IF EXISTS audit_log, product_statistics, webhook_deliveries, change_events, observations,
    products, crawl_runs, webhook_secrets, websites, api_keys, clients CASCADE;
