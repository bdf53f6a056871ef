"""Goals over time over HTTP: previews, drafts made active, backfills with a status URL."""

from __future__ import annotations

import pytest
from api_support import PREFIX, bearer, error_of, make_token
from flask import Flask
from flask.testing import FlaskClient

from flask_gamify import Gamify

COMMENTS = {"type": "count", "event": "comment.posted", "target": 2}


def goal_notifications(gamify: Gamify, entity: str) -> list[str]:
    return [n.data["goal"] for n in gamify.notifications(entity) if n.kind == "goal-completed"]


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
def test_activating_without_a_body_counts_history(
    client: FlaskClient, headers: dict[str, str], gamify: Gamify
) -> None:
    gamify.define_goal("talker", criteria=COMMENTS, status="draft")
    response = client.post(f"{PREFIX}/goals/talker/activate", headers=headers)
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["backfill"]["notify"] is True
    assert gamify.has_completed("ann", "talker")
    assert goal_notifications(gamify, "ann") == ["talker"]


@pytest.mark.usefixtures("history")
def test_activating_without_history_counts_only_new_events(
    client: FlaskClient, headers: dict[str, str], gamify: Gamify
) -> None:
    gamify.define_goal("talker", criteria=COMMENTS, status="draft")
    response = client.post(
        f"{PREFIX}/goals/talker/activate", json={"count_history": False}, headers=headers
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["goal"]["status"] == "active" and body["backfill"] is None
    assert "Location" not in response.headers
    assert gamify.backfills("talker") == []
    assert not gamify.has_completed("ann", "talker"), "ann's 3 past comments do not count"
    gamify.track("comment.posted", "bob")
    assert not gamify.has_completed("bob", "talker"), "bob's past comment does not count"
    gamify.track("comment.posted", "ann")
    gamify.track("comment.posted", "ann")
    assert gamify.has_completed("ann", "talker"), "new events count"
    assert goal_notifications(gamify, "ann") == ["talker"]


@pytest.mark.usefixtures("history")
@pytest.mark.parametrize("notify", [True, False])
def test_activating_notifies_backfilled_awards_only_when_asked(
    client: FlaskClient, headers: dict[str, str], gamify: Gamify, notify: bool
) -> None:
    gamify.define_goal("talker", criteria=COMMENTS, status="draft")
    response = client.post(
        f"{PREFIX}/goals/talker/activate", json={"notify": notify}, headers=headers
    )
    assert response.status_code == 202, response.get_json()
    backfill = response.get_json()["backfill"]
    assert (backfill["notify"], backfill["awarded"]) == (notify, 1)
    assert gamify.has_completed("ann", "talker")
    assert goal_notifications(gamify, "ann") == (["talker"] if notify else [])


@pytest.mark.usefixtures("history")
@pytest.mark.parametrize("notify", [True, False])
def test_a_backfill_notifies_only_when_asked(
    client: FlaskClient, headers: dict[str, str], gamify: Gamify, notify: bool
) -> None:
    gamify.define_goal("talker", criteria=COMMENTS, status="draft")
    gamify.activate_goal("talker", count_history=False)
    response = client.post(
        f"{PREFIX}/goals/talker/backfills", json={"notify": notify}, headers=headers
    )
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["backfill"]["notify"] is notify
    assert gamify.has_completed("ann", "talker")
    assert goal_notifications(gamify, "ann") == (["talker"] if notify else [])


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("activate", {"count_history": "yes"}, "count_history"),
        ("activate", {"notify": 1}, "notify"),
        ("activate", {"count_history": False, "history": False}, "history"),
        ("backfills", {"notify": "no"}, "notify"),
        ("backfills", {"revoke": False, "quiet": True}, "quiet"),
    ],
)
def test_activation_and_backfill_options_are_checked(
    client: FlaskClient,
    headers: dict[str, str],
    gamify: Gamify,
    path: str,
    body: dict[str, object],
    field: str,
) -> None:
    gamify.define_goal(
        "talker", criteria=COMMENTS, status="active" if path == "backfills" else "draft"
    )
    before = gamify.backfills("talker")
    response = client.post(f"{PREFIX}/goals/talker/{path}", json=body, headers=headers)
    assert response.status_code == 422, response.get_json()
    assert list(error_of(response)["errors"]) == [field]
    assert gamify.backfills("talker") == before, "nothing started"
    expected = "active" if path == "backfills" else "draft"
    assert gamify.goal("talker").status == expected, "nothing changed"


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
