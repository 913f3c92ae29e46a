"""Rows the crawl tests start from, written straight to Postgres."""

from __future__ import annotations

from core.urls import domain_of


def make_website(db, seeds, *, status="pending_discovery", domain=None, **fields):
    client_id = db.execute("INSERT INTO clients (name) VALUES ('c') RETURNING id").fetchone()["id"]
    columns = {
        "client_id": client_id,
        "name": "shop",
        "domain": domain or domain_of(seeds[0]),
        "seed_urls": seeds,
        "status": status,
        **fields,
    }
    names = ", ".join(columns)
    marks = ", ".join(["%s"] * len(columns))
    return db.execute(
        f"INSERT INTO websites ({names}) VALUES ({marks}) RETURNING id", list(columns.values())
    ).fetchone()["id"]


def approve_products(db, website_id, urls):
    ids = []
    for url in urls:
        ids.append(
            db.execute(
                "INSERT INTO products (website_id, url, identity, status) VALUES (%s, %s, %s, 'approved') RETURNING id",
                (website_id, url, f"url:{url}"),
            ).fetchone()["id"]
        )
    return ids


def last_run(db, website_id):
    return db.execute(
        "SELECT * FROM crawl_runs WHERE website_id = %s ORDER BY id DESC LIMIT 1", (website_id,)
    ).fetchone()
