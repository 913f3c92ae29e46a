"""Tenant isolation on every endpoint that names a resource: another client's id is always 404."""

import re

from tests.conftest import bearer

BODIES = {"PATCH": {"crawl_rate_per_minute": 5}, "POST": {"product_ids": [1]}}


def test_every_resource_endpoint_is_404_for_another_client(app, db, new_client):
    owner, _owner_key = new_client("Owner")
    _intruder, intruder_key = new_client("Intruder")
    website = db.execute(
        "INSERT INTO websites (client_id, name, domain, seed_urls, status, webhook_url) VALUES "
        "(%s, 'w', 'w.test', %s, 'active', 'https://hooks.example/x') RETURNING id",
        (owner, ["https://w.test/"]),
    ).fetchone()["id"]
    product = db.execute(
        "INSERT INTO products (website_id, url, identity, status) VALUES (%s, 'https://w.test/p', "
        "'p', 'approved') RETURNING id",
        (website,),
    ).fetchone()["id"]
    key = db.execute("SELECT id FROM api_keys WHERE client_id = %s", (owner,)).fetchone()["id"]
    ids = {"website_id": website, "product_id": product, "key_id": key}
    client = app.test_client()
    checked = []
    for rule in app.url_map.iter_rules():
        params = set(rule.arguments)
        if not params or not params <= set(ids):
            continue
        path = re.sub(r"<(?:int:)?(\w+)>", lambda m: str(ids[m.group(1)]), rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(path, method=method, headers=bearer(intruder_key), json=BODIES.get(method))
            assert response.status_code == 404, (method, path, response.status_code, response.get_json())
            checked.append(f"{method} {rule.rule}")
    assert len(checked) >= 14, checked
    # and nothing of the owner's changed
    assert db.execute("SELECT status FROM websites WHERE id = %s", (website,)).fetchone()["status"] == "active"
    assert db.execute("SELECT invalidated_at FROM api_keys WHERE id = %s", (key,)).fetchone()["invalidated_at"] is None
