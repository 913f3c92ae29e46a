"""#12 (16): the OpenAPI document is valid and says what the API does; schemathesis fuzzes every operation.

The fuzz run is schemathesis's own engine (what ``schemathesis run`` drives) against the app served over
HTTP on 127.0.0.1, with every check enabled, a fixed seed and derandomized generation, and a real API key
with all scopes. It must find 0 failures: no server error, no response that its declared schema, status
codes, content type or headers do not describe, no 405 without ``Allow``, no schema-invalid input accepted.
"""

from __future__ import annotations

import collections
import json
import logging
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import schemathesis
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import OpenAPIV30SpecValidator
from psycopg.types.json import Jsonb
from schemathesis.engine import Status, events
from werkzeug.serving import make_server

from api.auth import PREFIX_LENGTH, SCOPES, create_key
from db.partitions import add_months, ensure_observation_partitions
from tests.conftest import bearer
from tests.support.names import Offline

# Input the schema cannot express is refused with a 400 that says why: a seed or webhook URL that does not
# parse, is not one site or is refused by the SSRF check (a webhook's host must resolve, and in this test no
# name does), a cron expression croniter rejects, a selector that does not compile, a history cursor this
# API did not make or a range that ends before it starts, product ids that are not this website's
# candidates. For these operations alone a 400 counts as an answer to schema-valid input (added to
# positive_data_acceptance's default expected statuses).
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
SEMANTIC_400 = [
    "POST /v1/websites",
    "PATCH /v1/websites/{website_id}",
    "GET /v1/products/{product_id}/history",
    "POST /v1/websites/{website_id}/approve-products",
]

FUZZ = {
    "seed": 1216,
    "continue-on-failure": True,
    # 50 examples an operation: ~2,300 requests in ~35 s here. NUL is not generated: the document says text
    # may not hold it (a 400 before any view, tests/api/test_hostile_input.py), which no `type: string` says.
    "generation": {"max-examples": 50, "deterministic": True, "database": "none", "allow-x00": False},
    "checks": {"enabled": True},
    "operations": [
        {
            "include-name": SEMANTIC_400,
            "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "400"]}},
        }
    ],
}
NOW = datetime.now(UTC)
EVERY_CHECK = {  # schemathesis 4's built-in checks, and this file's own
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "use_after_free",
    "ensure_resource_availability",
    "ignored_auth",
    "object_level_authorization",
    "pagination_header_conformance",
}


def _document(client) -> dict:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def _validator(document: dict, schema: dict) -> OAS30Validator:
    """A validator of ``schema`` whose ``#/components/...`` references resolve in ``document``."""
    return OAS30Validator({**schema, "components": document["components"]})


def _resolve(document: dict, node: dict) -> dict:
    while "$ref" in node:
        target = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def test_the_document_is_valid_openapi(client):
    document = _document(client)
    problems = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in OpenAPIV30SpecValidator(document).iter_errors()
    ]
    assert problems == []
    threshold = document["components"]["schemas"]["WebsiteCreate"]["properties"]["price_threshold_pct"]
    assert threshold["anyOf"][0] == {"type": "number", "minimum": 0, "maximum": 100}


def _website(client, key, **fields):
    response = client.post(
        "/v1/websites", headers=bearer(key), json={"name": "Shop", "seed_urls": ["https://shop.example/"], **fields}
    )
    assert response.status_code == 202, response.get_json()
    return client.get(f"/v1/websites/{response.get_json()['id']}", headers=bearer(key))


def test_decimals_are_documented_as_they_are_sent(client, new_client):
    _client_id, key = new_client()
    document = _document(client)
    website = _website(client, key, price_threshold_pct=2.5)
    assert website.get_json()["price_threshold_pct"] == "2.500"
    _validator(document, {"$ref": "#/components/schemas/Website"}).validate(website.get_json())
    # what a website returns may be sent back as it is
    again = client.patch(website.request.path, headers=bearer(key), json={"price_threshold_pct": "2.500"})
    assert again.status_code == 200 and again.get_json()["price_threshold_pct"] == "2.500"


@pytest.mark.parametrize("value", [100.0004, -0.0001, "100.0004", "1e1", " 5", True, [5]])
def test_threshold_outside_what_the_document_allows_is_refused(client, new_client, value):
    """The bounds hold for the value sent, not for what it rounds to; strings are plain decimals only."""
    _client_id, key = new_client()
    document = _document(client)
    declared = document["components"]["schemas"]["WebsiteCreate"]["properties"]["price_threshold_pct"]
    assert not _validator(document, declared).is_valid(value)
    response = client.post(
        "/v1/websites",
        headers=bearer(key),
        json={"name": "Shop", "seed_urls": ["https://shop.example/"], "price_threshold_pct": value},
    )
    assert response.status_code == 400 and "price_threshold_pct" in response.get_json()["errors"]["json"]


@pytest.mark.parametrize(
    "method, path",
    [("PUT", "/v1/websites"), ("DELETE", "/v1/products"), ("TRACE", "/health/live"), ("POST", "/v1/products/1")],
)
def test_405_says_allow_in_the_error_shape(client, method, path):
    response = client.open(path, method=method)
    assert response.status_code == 405
    allowed = {m.strip() for m in response.headers.get("Allow", "").split(",")}
    assert method not in allowed and allowed & {"GET", "POST"}, response.headers
    body = response.get_json()
    assert body["code"] == 405 and body["status"] == "Method Not Allowed" and body["request_id"]


def test_x_pagination_matches_its_declared_schema(client, new_client):
    _client_id, key = new_client()
    document = _document(client)
    for _ in range(3):
        _website(client, key, name=f"Shop {_}", seed_urls=[f"https://shop{_}.example/"])
    declared = _resolve(
        document, document["paths"]["/v1/websites"]["get"]["responses"]["200"]["headers"]["X-Pagination"]
    )
    # a JSON object in a header is media-type content; a `schema` of type object would be `k,v,k,v`
    assert "schema" not in declared
    validator = _validator(document, declared["content"]["application/json"]["schema"])
    for query, expected in (
        (
            "page=1&page_size=2",
            {"total": 3, "total_pages": 2, "first_page": 1, "last_page": 2, "page": 1, "next_page": 2},
        ),
        (
            "page=2&page_size=2",
            {"total": 3, "total_pages": 2, "first_page": 1, "last_page": 2, "page": 2, "previous_page": 1},
        ),
        ("page=9", {"total": 3, "total_pages": 1, "first_page": 1, "last_page": 1}),
    ):
        response = client.get(f"/v1/websites?{query}", headers=bearer(key))
        metadata = json.loads(response.headers["X-Pagination"])
        validator.validate(metadata)
        assert metadata == expected


# ---- schemathesis over every operation ------------------------------------------------------------------


@pytest.fixture
def served(make_app, monkeypatch):
    """The app (production settings: no private targets, https webhooks) over HTTP on 127.0.0.1, on a
    machine where no name resolves and no connection leaves loopback: whatever URL the fuzzer registers,
    nothing is dialled."""
    offline = Offline().install(monkeypatch)
    app = make_app(TESTING=False)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", offline
    server.shutdown()
    thread.join(10)


@pytest.fixture
def same_draws_in_any_run(monkeypatch):
    """Hypothesis mixes literals from the project's loaded modules into what it draws, so the same seed drew
    differently alone and in the whole suite (where more modules are loaded): it draws without them here."""
    from hypothesis.internal.conjecture import providers
    from hypothesis.internal.constants_ast import Constants

    monkeypatch.setattr(providers, "_get_local_constants", lambda: Constants())
    providers.CONSTANTS_CACHE.cache.clear()
    yield
    providers.CONSTANTS_CACHE.cache.clear()


def _seed(db, client_id: int) -> None:
    """Rows for the low ids a fuzzer tries first, so that 200s with bodies are checked too."""
    active = db.execute(
        "INSERT INTO websites (client_id, name, domain, seed_urls, status, webhook_url, next_crawl_at) VALUES "
        "(%s, 'Books', 'books.example', %s, 'active', 'https://hooks.example/obsrv', now()) RETURNING id",
        (client_id, ["https://books.example/"]),
    ).fetchone()["id"]
    pending = db.execute(
        "INSERT INTO websites (client_id, name, domain, seed_urls, status) VALUES "
        "(%s, 'Tea', 'tea.example', %s, 'pending_approval') RETURNING id",
        (client_id, ["https://tea.example/"]),
    ).fetchone()["id"]
    offers = [
        {
            "sku": "K-1",
            "name": "M",
            "url": None,
            "price": "20.00",
            "list_price": "25.00",
            "currency": "GBP",
            "availability": "InStock",
            "selected": True,
            "high_price": None,
            "offer_count": None,
        }
    ]
    product = db.execute(
        "INSERT INTO products (website_id, url, identity, name, price, list_price, currency, availability, status, "
        "sku, offers, sources, last_observed_at, last_changed_at) VALUES (%s, 'https://books.example/p/1', "
        "'sku:K-1', 'Kettle', 20.00, 25.00, 'GBP', 'InStock', 'approved', 'K-1', %s, %s, now(), now()) "
        "RETURNING id",
        (active, Jsonb(offers), Jsonb({"price": "jsonld"})),
    ).fetchone()["id"]
    for website, i in ((active, 2), (active, 3), (pending, 4), (pending, 5)):
        db.execute(
            "INSERT INTO products (website_id, url, identity, name, price, currency, status, discovery_score) "
            "VALUES (%s, %s, %s, %s, 9.99, 'GBP', 'discovered', 0.8)",
            (website, f"https://shop.example/p/{i}", f"url:{i}", f"Candidate {i}"),
        )
    this_month = NOW.date().replace(day=1)
    ensure_observation_partitions(db, first=add_months(this_month, -2), last=this_month)
    for days, ok in ((40, True), (3, False), (1, True)):
        db.execute(
            "INSERT INTO observations (product_id, observed_at, ok, price, currency, availability, offers, "
            "error_type, error) VALUES (%s, %s, %s, %s, 'GBP', %s, %s, %s, %s)",
            (
                product,
                NOW - timedelta(days=days),
                ok,
                Decimal("20.00") if ok else None,
                "InStock" if ok else None,
                Jsonb(offers if ok else []),
                None if ok else "blocked",
                None if ok else "captcha page",
            ),
        )
    db.execute(
        "INSERT INTO product_statistics (product_id, month, currency, min_price, max_price, avg_price, "
        "last_price, observations, ok_observations, in_stock_ratio) VALUES (%s, %s, 'GBP', 20, 20, 20, 20, "
        "1, 1, 1)",
        (product, add_months(this_month, -1)),
    )
    db.execute(
        "INSERT INTO crawl_runs (website_id, kind, status, started_at, finished_at, duration_ms, "
        "products_attempted, products_ok, products_failed, error_type, error_message, error_products) "
        "VALUES (%s, 'scheduled', 'partially_failed', now() - interval '1 hour', now(), 1200, 2, 1, 1, "
        "'blocked', 'one page was a captcha', %s)",
        (active, Jsonb([{"url": "https://books.example/p/2", "error_type": "blocked"}])),
    )
    event = db.execute(
        "INSERT INTO change_events (website_id, product_id, type, before, after) VALUES "
        "(%s, %s, 'price_changed', %s, %s) RETURNING id",
        (active, product, Jsonb({"price": "21.00"}), Jsonb({"price": "20.00"})),
    ).fetchone()["id"]
    db.execute(
        "INSERT INTO webhook_deliveries (event_id, website_id, attempt, url, status_code, latency_ms, "
        "success) VALUES (%s, %s, 1, 'https://hooks.example/obsrv', 200, 35, true)",
        (event, active),
    )


def _run(stream) -> tuple[list[str], dict[str, collections.Counter], collections.Counter]:
    """Every failed check and engine error of a run, one line each; the statuses each operation answered;
    how often each check ran."""
    found: collections.Counter = collections.Counter()
    ran: collections.Counter = collections.Counter()
    statuses: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for event in stream:
        if isinstance(event, (events.ScenarioFinished, events.FuzzScenarioFinished)):
            for case_id, interaction in event.recorder.interactions.items():
                operation = event.recorder.cases[case_id].value.operation
                # the operation's own method (not the OPTIONS, TRACE... probes of undeclared methods)
                if interaction.response is not None and interaction.request.method == operation.method.upper():
                    statuses[operation.label][interaction.response.status_code] += 1
            for checks in event.recorder.checks.values():
                for check in checks:
                    ran[check.name] += 1
                    if check.status == Status.FAILURE:
                        failure = check.failure_info.failure
                        sample = check.failure_info.code_sample.splitlines()[-1][:400]
                        found[
                            f"{event.recorder.label} {check.name}: {failure.title}: "
                            f"{failure.message[:300]!r} | {sample}"
                        ] += 1
        elif isinstance(event, events.NonFatalError):
            found[f"{event.label} error: {event.info.title}: {str(event.value)[:300]}"] += 1
        elif isinstance(event, events.FatalError):
            found[f"fatal: {event.exception!r}"[:400]] += 1
    return [f"{count}x {line}" for line, count in sorted(found.items())], statuses, ran


@schemathesis.check
def pagination_header_conformance(ctx, response, case):
    """X-Pagination, declared as application/json content, parses as JSON and matches its schema
    (schemathesis's response_headers_conformance reads only a header's `schema`)."""
    value = response.headers.get("x-pagination")
    if not value:
        return None
    document = case.operation.schema.raw_schema
    definition = case.operation.definition.raw["responses"].get(str(response.status_code), {})
    declared = _resolve(document, _resolve(document, definition).get("headers", {}).get("X-Pagination", {}))
    assert declared, f"X-Pagination sent with a {response.status_code} that does not declare it"
    assert "content" in declared, "X-Pagination is JSON, but declared with a `schema` (its simple style, k,v,k,v)"
    errors = [
        e.message
        for e in _validator(document, declared["content"]["application/json"]["schema"]).iter_errors(
            json.loads(value[0])
        )
    ]
    assert not errors, f"X-Pagination {value[0]} does not match its schema: {errors}"
    return None


def test_schemathesis_finds_nothing_in_any_operation(served, same_draws_in_any_run, new_client, db):
    base_url, offline = served
    client_id, key = new_client("Fuzz")
    _seed(db, client_id)
    config = schemathesis.Config.from_dict(FUZZ)
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", config=config)
    declared = {
        (method.upper(), path)
        for path, item in schema.raw_schema["paths"].items()
        for method in item
        if method != "parameters"
    }
    tested = {(op.ok().method.upper(), op.ok().path) for op in schema.get_all_operations()}
    assert tested == declared and len(declared) == 22
    keys = [key]

    @schema.auth(refresh_interval=None)
    class LiveKey:
        """The fuzzer's key; a new one once the fuzzer has invalidated it (it reads the key's id from
        GET /v1/auth/keys and tries DELETE /v1/auth/keys/{key_id} with it), so the whole run is authenticated."""

        def get(self, case, context):
            if (
                db.execute(
                    "SELECT invalidated_at FROM api_keys WHERE prefix = %s", (keys[-1][:PREFIX_LENGTH],)
                ).fetchone()["invalidated_at"]
                is not None
            ):
                keys.append(create_key(db, client_id=client_id, name="fuzz", scopes=SCOPES)[1])
            return keys[-1]

        def set(self, case, data, context):
            case.headers = {**(case.headers or {}), **bearer(data)}

    failures, statuses, ran = _run(schemathesis.engine.from_schema(schema).execute())

    for operation, counts in sorted(statuses.items()):
        print(operation, dict(sorted(counts.items())))
    print("checks run", dict(ran), "keys used", len(keys), "connections refused", len(offline.refused))
    assert failures == [], "\n".join(failures)
    assert set(ran) >= EVERY_CHECK and sum(ran.values()) > 10_000
    # every operation got past authentication to its view (a 2xx, or a 400/409 of its own), not only
    # 401/404s; which ones answered a 2xx is printed above (with -s)
    assert {label for label, counts in statuses.items() if set(counts) - {401, 403, 404, 429}} == {
        f"{method} {path}" for method, path in declared
    }
