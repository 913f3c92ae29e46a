"""Settings module of the RQ workers: ``rq worker -c scheduler.rq_settings ...``.

RQ imports it in the worker's main process, before any job is forked. Importing the job modules here
means every forked work-horse inherits them ready, instead of importing psycopg, requests and our code
again for each job (about 250 ms a job; the difference between 4 and dozens of deliveries a second).
"""

import webhooks.delivery  # noqa: F401  (preload: the delivery job)
from core.settings import load_settings

_settings = load_settings()
REDIS_URL = _settings["REDIS_URL"]
