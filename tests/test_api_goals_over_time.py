"""Goals over time over HTTP: previews, drafts made active, backfills with a status URL."""

from __future__ import annotations

import pytest
from api_support import PREFIX, bearer, error_of, make_token
from flask import Flask
from flask.testing import FlaskClient

from flask_gamify import Gamify

COMMENTS = {"type": "count", "event": "comment.posted", "target": 2}


@pytest.fixture
def headers(app: Flask) -> dict[str, str]:
    return bearer(make_token("goals:read", "goals:write"))


@pytest.fixture
def history(app: Flask, gamify: Gamify) -> None:
    for entity, times in (("ann", 3), ("bob", 1)):
        for _ in range(times):
            gamify.track("comment.posted", entity)


@pytest.mark.usefixtures("history")
def test_preview_unsaved_criteria_and_saved_goals(
    client: FlaskClient, headers: dict[str, str], gamify: Gamify
) -> None:
    response = client.post(
        f"{PREFIX}/previews", json={"criteria": COMMENTS, "sample": 1}, headers=headers
    )
    assert response.status_code == 200, response.get_json()
    preview = response.get_json()
    assert (preview["entities"], preview["completed"], preview["events_scanned"]) == (2, 1, 4)
    assert [entry["entity"] for entry in preview["sample"]] == ["ann"]

    gamify.define_goal("talker", criteria=COMMENTS, status="draft")
    saved = client.post(
        f"{PREFIX}/previews",
        json={"goal": "talker", "criteria_override": None} | {"entity_type": "user"},
        headers=headers,
    )
    assert saved.status_code == 422, "unknown options are refused, naming them"
    saved = client.post(f"{PREFIX}/previews", json={"goal": "talker"}, headers=headers)
    assert saved.get_json()["completed"] == 1

    both = client.post(
        f"{PREFIX}/previews", json={"goal": "talker", "criteria": COMMENTS}, headers=headers
    )
    assert both.status_code == 422 and "goal" in error_of(both)["errors"]
    bad = client.post(
        f"{PREFIX}/previews", json={"criteria": {**COMMENTS, "target": 0}}, headers=headers
    )
    assert bad.status_code == 422 and "criteria.target" in error_of(bad)["errors"]
    unknown = client.post(f"{PREFIX}/previews", json={"goal": "nope"}, headers=headers)
    assert unknown.status_code == 404


@pytest.mark.usefixtures("history")
def test_activating_a_draft_starts_a_backfill_with_a_status_url(
    client: FlaskClient, headers: dict[str, str], gamify: Gamify
) -> None:
    gamify.define_goal("talker", criteria=COMMENTS, status="draft")
    response = client.post(f"{PREFIX}/goals/talker/activate", json={}, headers=headers)
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["goal"]["status"] == "active"
    status = client.get(response.headers["Location"], headers=headers)
    assert status.status_code == 200
    assert status.get_json()["status"] == "done" and status.get_json()["awarded"] == 1
    assert gamify.has_completed("ann", "talker")

    again = client.post(f"{PREFIX}/goals/talker/activate", json={}, headers=headers)
    assert again.status_code == 200 and again.get_json()["backfill"] is None


@pytest.mark.usefixtures("history")
def test_a_backfill_with_revocation_over_http(
    client: FlaskClient, headers: dict[str, str], gamify: Gamify
) -> None:
    gamify.define_goal("talker", criteria=COMMENTS)
    gamify.define_goal("talker", criteria={**COMMENTS, "target": 5})
    assert gamify.has_completed("ann", "talker"), "grandfathered"
    response = client.post(
        f"{PREFIX}/goals/talker/backfills", json={"revoke": True}, headers=headers
    )
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["backfill"]["revoked"] == 1
    assert not gamify.has_completed("ann", "talker")
    listed = client.get(f"{PREFIX}/goals/talker/backfills", headers=headers).get_json()
    assert [item["status"] for item in listed["items"]] == ["done", "done", "done"]
    missing = client.get(f"{PREFIX}/goals/talker/backfills/999", headers=headers)
    assert missing.status_code == 404
    wrong = client.post(
        f"{PREFIX}/goals/talker/backfills", json={"revoke": "maybe"}, headers=headers
    )
    assert wrong.status_code == 422 and "revoke" in error_of(wrong)["errors"]


def test_reading_scopes_cannot_change(client: FlaskClient, gamify: Gamify) -> None:
    gamify.define_goal("talker", criteria=COMMENTS, status="draft")
    reader = bearer(make_token("goals:read"))
    refused = client.post(f"{PREFIX}/goals/talker/activate", json={}, headers=reader)
    assert refused.status_code == 403
    assert client.get(f"{PREFIX}/goals/talker/backfills", headers=reader).status_code == 200
