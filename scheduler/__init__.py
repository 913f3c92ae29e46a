"""The scheduler process and the jobs it starts (crawls, retention, statistics); the website lifecycle."""
