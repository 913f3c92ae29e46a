"""#12 (16): the OpenAPI document is valid and says what the API does."""

from __future__ import annotations

import json

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import OpenAPIV30SpecValidator

from tests.conftest import bearer


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
    problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                for e in OpenAPIV30SpecValidator(document).iter_errors()]
    assert problems == []
    threshold = document["components"]["schemas"]["WebsiteCreate"]["properties"]["price_threshold_pct"]
    assert threshold["anyOf"][0] == {"type": "number", "minimum": 0, "maximum": 100}


def _website(client, key, **fields):
    response = client.post("/v1/websites", headers=bearer(key),
                           json={"name": "Shop", "seed_urls": ["https://shop.example/"], **fields})
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
    response = client.post("/v1/websites", headers=bearer(key),
                           json={"name": "Shop", "seed_urls": ["https://shop.example/"], "price_threshold_pct": value})
    assert response.status_code == 400 and "price_threshold_pct" in response.get_json()["errors"]["json"]


@pytest.mark.parametrize("method, path", [("PUT", "/v1/websites"), ("DELETE", "/v1/products"),
                                          ("TRACE", "/health/live"), ("POST", "/v1/products/1")])
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
    declared = _resolve(document, document["paths"]["/v1/websites"]["get"]["responses"]["200"]["headers"][
        "X-Pagination"])
    # a JSON object in a header is media-type content; a `schema` of type object would be `k,v,k,v`
    assert "schema" not in declared
    validator = _validator(document, declared["content"]["application/json"]["schema"])
    for query, expected in (("page=1&page_size=2", {"total": 3, "total_pages": 2, "first_page": 1, "last_page": 2,
                                                    "page": 1, "next_page": 2}),
                            ("page=2&page_size=2", {"total": 3, "total_pages": 2, "first_page": 1, "last_page": 2,
                                                    "page": 2, "previous_page": 1}),
                            ("page=9", {"total": 3, "total_pages": 1, "first_page": 1, "last_page": 1})):
        response = client.get(f"/v1/websites?{query}", headers=bearer(key))
        metadata = json.loads(response.headers["X-Pagination"])
        validator.validate(metadata)
        assert metadata == expected
