"""The OpenAPI document, the docs page, and a schemathesis run against the live API."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from api_support import PREFIX, READER, bearer, make_token
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from schemathesis.checks import positive_data_acceptance

from flask_gamify import Gamify

# -- the document ---------------------------------------------------------------------


def test_document_validates(client: FlaskClient) -> None:
    response = client.get(f"{PREFIX}/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    validate(document)
    assert document["openapi"].startswith("3.")
    assert document["servers"] == [{"url": PREFIX + "/"}]


def test_document_describes_every_route(app: Flask, client: FlaskClient) -> None:
    document = client.get(f"{PREFIX}/openapi.json").get_json()
    documented = {
        (f"{PREFIX}{path}".replace("{", "<").replace("}", ">"), method.upper())
        for path, operations in document["paths"].items()
        for method in operations
    }
    served = {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("gamify_api.")
        and rule.endpoint not in {"gamify_api.unmatched", "gamify_api.index", "gamify_api.docs"}
        for method in rule.methods or ()
        if method not in {"HEAD", "OPTIONS"}
    }
    assert served == documented


def test_every_operation_documents_its_errors(client: FlaskClient) -> None:
    document = client.get(f"{PREFIX}/openapi.json").get_json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert "500" in codes, (method, path)
            if operation["security"]:
                assert {"401", "403"} <= codes, (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "415", "422"} <= codes, (method, path)
            if operation["security"] and method in {"post", "put", "patch", "delete"}:
                # Without a bearer key, a state-changing request needs JSON (CSRF).
                assert "415" in codes, (method, path)
    assert set(document["components"]["responses"]) >= {"Error401", "Error422", "Error413"}


def test_document_follows_configuration(app: Flask, client: FlaskClient) -> None:
    app.config["GAMIFY_MAX_BATCH"] = 7
    document = client.get(f"{PREFIX}/openapi.json").get_json()
    batch = document["components"]["schemas"]["EventBatch"]
    assert batch["properties"]["events"]["maxItems"] == 7


def test_docs_page_links_to_the_document(client: FlaskClient) -> None:
    response = client.get(f"{PREFIX}/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert f"href='{PREFIX}/openapi.json'" in page
    assert "/entities/{entity_type}/{entity}/progress/{goal}" in page
    assert "http://" not in page and "https://" not in page  # nothing loaded from elsewhere


def test_index_links(client: FlaskClient) -> None:
    assert client.get(f"{PREFIX}/").get_json() == {
        "openapi": f"{PREFIX}/openapi.json",
        "docs": f"{PREFIX}/docs",
    }


# -- schemathesis ---------------------------------------------------------------------


@pytest.fixture
def api_schema(app: Flask, gamify: Gamify) -> Any:
    """The live document of an app with data to find, and a key with every scope."""
    gamify.define_goal("reader", criteria=READER, points=5)
    gamify.define_goal(
        "todo",
        criteria={"type": "all", "of": [{"type": "count", "event": "login", "target": 1}, READER]},
        assigned_only=True,
    )
    gamify.assign("todo", assignee="1", assigned_by="2")
    gamify.track("article.read", "1", attributes={"article_id": 1})
    token = make_token()
    schema = schemathesis.openapi.from_wsgi(f"{PREFIX}/openapi.json", app)
    schema.config.headers = bearer(token)  # type: ignore[attr-defined]
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")

#: Bodies whose rules go beyond what JSON Schema can say (goal references, repeatable
#: with max_awards, events too far in the future, attribute size): a schema-valid body
#: may rightly get a 409 or 422 there, so "schema-valid request rejected" does not apply.
SEMANTIC_BODIES = {
    ("POST", "/events"),
    ("POST", "/goals"),
    ("PATCH", "/goals/{key}"),
    ("POST", "/goals/{key}/assignments"),
}


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_conforms_to_its_document(case: Any) -> None:
    excluded = []
    if (case.method, case.path) in SEMANTIC_BODIES:
        excluded.append(positive_data_acceptance)
    case.call_and_validate(excluded_checks=excluded)
