"""REST: leaderboards, an entity's points and ledger, adjustments and revocations, with
the points:write scope and the rules for owner-bound keys and entity-bound callers."""

from __future__ import annotations

from typing import Any

import pytest
from api_support import PREFIX, READER, bearer, error_of, make_token
from flask import Flask
from flask.testing import FlaskClient

from flask_gamify import ApiPrincipal, Gamify
from flask_gamify.api.keys import create_key
from flask_gamify.records import GoalView

ENTITY = f"{PREFIX}/entities/user"
LEVELS = [(0, "Newcomer"), (100, "Regular"), (500, "Veteran")]


def owner_key(owner: str, *scopes: str) -> dict[str, str]:
    from flask import current_app

    with current_app.extensions["gamify"].transaction() as session:
        _, token = create_key(session, f"{owner}-key", list(scopes), owner=owner)
    return bearer(token)


@pytest.fixture
def seeded(app: Flask, gamify: Gamify) -> None:
    for entity, points in [("bob", 50), ("ann", 50), ("cy", 20), ("dan", 5)]:
        gamify.adjust_points(entity, points, reason="seed")


# -- leaderboards ---------------------------------------------------------------------


@pytest.mark.usefixtures("seeded")
def test_leaderboard(client: FlaskClient) -> None:
    headers = bearer(make_token("progress:read"))
    answer = client.get(f"{PREFIX}/leaderboards/user?limit=3&around=dan", headers=headers)
    assert answer.status_code == 200, answer.get_json()
    board = answer.get_json()
    assert board["period"] == "all" and board["starts_at"] is None
    assert board["entries"] == [
        {"rank": 1, "entity": "ann", "points": 50},
        {"rank": 1, "entity": "bob", "points": 50},
        {"rank": 3, "entity": "cy", "points": 20},
    ]
    assert board["around"][-1] == {"rank": 4, "entity": "dan", "points": 5}
    week = client.get(f"{PREFIX}/leaderboards/user?period=week", headers=headers).get_json()
    assert week["period"] == "week" and len(week["entries"]) == 4 and week["around"] is None
    assert week["starts_at"] < week["ends_at"]
    karma = client.get(f"{PREFIX}/leaderboards/user?category=karma", headers=headers)
    assert karma.get_json()["entries"] == []
    teams = client.get(f"{PREFIX}/leaderboards/team", headers=headers)
    assert teams.get_json()["entries"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("period=year", "period"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("around=", "around"),
        ("around=%20%20", "around"),
        ("category=" + "x" * 65, "category"),
    ],
)
def test_bad_leaderboard_queries_name_the_field(
    client: FlaskClient, query: str, field: str
) -> None:
    answer = client.get(f"{PREFIX}/leaderboards/user?{query}", headers=bearer(make_token()))
    assert answer.status_code == 422
    assert field in error_of(answer)["errors"]


def test_bad_entity_type_in_a_leaderboard_url(client: FlaskClient) -> None:
    headers = bearer(make_token())
    for entity_type in ("%20", "x" * 65):
        answer = client.get(f"{PREFIX}/leaderboards/{entity_type}", headers=headers)
        assert answer.status_code == 422
        assert "entity_type" in error_of(answer)["errors"]


# -- points and ledger ----------------------------------------------------------------


def test_points_with_categories_and_level(gamify: Gamify, client: FlaskClient) -> None:
    headers = bearer(make_token("progress:read"))
    gamify.adjust_points("ann", 150, reason="welcome")
    gamify.adjust_points("ann", 5, reason="helpful", category="karma")
    without_levels = client.get(f"{ENTITY}/ann/points", headers=headers).get_json()
    assert without_levels == {
        "entity_type": "user",
        "entity": "ann",
        "points": 150,
        "categories": {"karma": 5, "points": 150},
        "level": None,
    }
    gamify.define_levels(LEVELS)
    level = client.get(f"{ENTITY}/ann/points", headers=headers).get_json()["level"]
    assert level["name"] == "Regular" and level["next_at"] == 500
    assert level["points_to_next"] == 350
    nobody = client.get(f"{ENTITY}/nobody/points", headers=headers).get_json()
    assert (nobody["points"], nobody["categories"], nobody["level"]["number"]) == (0, {}, 1)


def test_ledger_pages_by_keyset(gamify: Gamify, client: FlaskClient) -> None:
    headers = bearer(make_token("progress:read"))
    for number in range(5):
        gamify.adjust_points("ann", number + 1, reason=f"r{number}")
    gamify.adjust_points("ann", 9, reason="karma", category="karma")

    first = client.get(f"{ENTITY}/ann/points/ledger?limit=2", headers=headers).get_json()
    assert [item["reason"] for item in first["items"]] == ["karma", "r4"]
    # Written between two pages: the next page still follows on from the last one.
    gamify.adjust_points("ann", 100, reason="meanwhile")
    second = client.get(first["next"], headers=headers).get_json()
    assert [item["reason"] for item in second["items"]] == ["r3", "r2"]
    assert f"before={first['items'][-1]['id']}" in first["next"] and "limit=2" in first["next"]
    third = client.get(second["next"], headers=headers).get_json()
    assert [item["reason"] for item in third["items"]] == ["r1", "r0"]
    assert third["next"] is None
    entry = third["items"][-1]
    assert entry["kind"] == "adjustment" and entry["amount"] == 1 and entry["goal"] is None
    karma = client.get(f"{ENTITY}/ann/points/ledger?category=karma", headers=headers).get_json()
    assert [item["amount"] for item in karma["items"]] == [9] and karma["next"] is None
    for query, field in (("limit=0", "limit"), ("before=0", "before"), ("before=x", "before")):
        answer = client.get(f"{ENTITY}/ann/points/ledger?{query}", headers=headers)
        assert answer.status_code == 422 and field in error_of(answer)["errors"]


# -- adjustments ----------------------------------------------------------------------


def test_adjustments_are_idempotent(gamify: Gamify, client: FlaskClient) -> None:
    token = make_token("points:write", name="moderation")
    url = f"{ENTITY}/ann/points/adjustments"
    body = {"amount": 50, "reason": "conference talk", "idempotency_key": "talk-42"}

    created = client.post(url, json=body, headers=bearer(token))
    again = client.post(url, json=body, headers=bearer(token))
    conflict = client.post(url, json={**body, "amount": 60}, headers=bearer(token))

    assert created.status_code == 201, created.get_json()
    assert created.get_json()["points"] == 50
    entry = created.get_json()["entry"]
    assert (entry["amount"], entry["changed_by"], entry["kind"]) == (50, "moderation", "adjustment")
    assert again.status_code == 200 and again.get_json()["entry"] == entry
    assert conflict.status_code == 409
    assert "talk-42" in error_of(conflict)["message"]
    assert gamify.points("ann") == 50
    taken = client.post(
        url, json={"amount": -5, "reason": "spam", "category": "karma"}, headers=bearer(token)
    )
    assert taken.status_code == 201 and taken.get_json()["points"] == -5
    assert gamify.points("ann", category="karma") == -5


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": 0, "reason": "r"}, "amount"),
        ({"amount": True, "reason": "r"}, "amount"),
        ({"amount": 1.5, "reason": "r"}, "amount"),
        ({"amount": "5", "reason": "r"}, "amount"),
        ({"amount": 2**31, "reason": "r"}, "amount"),
        ({"reason": "r"}, "amount"),
        ({"amount": 5}, "reason"),
        ({"amount": 5, "reason": " \ufeff "}, "reason"),
        ({"amount": 5, "reason": "r" * 2001}, "reason"),
        ({"amount": 5, "reason": "r", "category": ""}, "category"),
        ({"amount": 5, "reason": "r", "idempotency_key": "k" * 201}, "idempotency_key"),
        ({"amount": 5, "reason": "r", "changed_by": "me"}, "changed_by"),
    ],
)
def test_bad_adjustments_name_the_field(
    gamify: Gamify, client: FlaskClient, body: dict[str, Any], field: str
) -> None:
    answer = client.post(
        f"{ENTITY}/ann/points/adjustments", json=body, headers=bearer(make_token())
    )
    assert answer.status_code == 422, answer.get_json()
    assert field in error_of(answer)["errors"]
    assert gamify.points("ann") == 0


# -- revocations ----------------------------------------------------------------------


def test_revoking_an_award_takes_its_points_back(gamify: Gamify, client: FlaskClient) -> None:
    gamify.define_goal("reader", criteria=READER, points=30)
    gamify.award("ann", "reader", reason="seed")
    headers = bearer(make_token("points:write", name="moderation"))
    url = f"{ENTITY}/ann/awards/reader/revocations"

    answer = client.post(url, json={"reason": "spam"}, headers=headers)

    assert answer.status_code == 201, answer.get_json()
    assert (answer.get_json()["goal"], answer.get_json()["occurrence"]) == ("reader", 1)
    assert gamify.points("ann") == 0 and gamify.awards("ann") == []
    (entry, _) = gamify.points_ledger("ann")
    assert (entry.kind, entry.amount, entry.reason, entry.changed_by) == (
        "revocation",
        -30,
        "spam",
        "moderation",
    )
    again = client.post(url, json={"reason": "spam"}, headers=headers)
    assert again.status_code == 404
    unknown = client.post(
        f"{ENTITY}/ann/awards/nope/revocations", json={"reason": "x"}, headers=headers
    )
    assert unknown.status_code == 404
    for body, field in (
        ({}, "reason"),
        ({"reason": "x", "occurrence": 0}, "occurrence"),
        ({"reason": "x", "reset_progress": "yes"}, "reset_progress"),
    ):
        bad = client.post(url, json=body, headers=headers)
        assert bad.status_code == 422 and field in error_of(bad)["errors"]


# -- who may ------------------------------------------------------------------------------


@pytest.mark.usefixtures("seeded")
def test_scopes(gamify: Gamify, client: FlaskClient) -> None:
    gamify.define_goal("reader", criteria=READER, points=30)
    gamify.award("ann", "reader", reason="seed")
    reader = bearer(make_token("progress:read"))
    writer = bearer(make_token("points:write"))
    for url in (
        f"{PREFIX}/leaderboards/user",
        f"{ENTITY}/ann/points",
        f"{ENTITY}/ann/points/ledger",
    ):
        assert client.get(url, headers=reader).status_code == 200
        refused = client.get(url, headers=writer)
        assert refused.status_code == 403 and "progress:read" in error_of(refused)["message"]
    for url, body in (
        (f"{ENTITY}/ann/points/adjustments", {"amount": 5, "reason": "r"}),
        (f"{ENTITY}/ann/awards/reader/revocations", {"reason": "r"}),
    ):
        refused = client.post(url, json=body, headers=reader)
        assert refused.status_code == 403 and "points:write" in error_of(refused)["message"]
    assert gamify.points("ann") == 80


@pytest.mark.usefixtures("seeded")
def test_owner_bound_keys(gamify: Gamify, client: FlaskClient) -> None:
    gamify.define_goal("alice-goal", criteria=READER, points=10, owner="alice")
    gamify.define_goal("bob-goal", criteria=READER, points=10, owner="bob")
    gamify.award("ann", "alice-goal", reason="seed")
    gamify.award("ann", "bob-goal", reason="seed")
    alice = owner_key("alice", "progress:read", "points:write")
    for url in (
        f"{PREFIX}/leaderboards/user",
        f"{ENTITY}/ann/points",
        f"{ENTITY}/ann/points/ledger",
    ):
        refused = client.get(url, headers=alice)
        assert refused.status_code == 403
        assert "owner-bound (owner 'alice')" in error_of(refused)["message"]
    refused = client.post(
        f"{ENTITY}/ann/points/adjustments", json={"amount": 5, "reason": "r"}, headers=alice
    )
    assert refused.status_code == 403 and "owner-bound" in error_of(refused)["message"]
    # Its own goal's awards it may revoke; another owner's goal is like an unknown one.
    own = client.post(
        f"{ENTITY}/ann/awards/alice-goal/revocations", json={"reason": "r"}, headers=alice
    )
    assert own.status_code == 201
    other = client.post(
        f"{ENTITY}/ann/awards/bob-goal/revocations", json={"reason": "r"}, headers=alice
    )
    assert other.status_code == 404
    assert [award.goal for award in gamify.awards("ann")] == ["bob-goal"]
    assert gamify.points("ann") == 60


@pytest.mark.usefixtures("seeded")
def test_entity_bound_callers_read_but_never_change_points(
    app: Flask, gamify: Gamify, client: FlaskClient
) -> None:
    gamify.define_goal("reader", criteria=READER, points=30)
    gamify.award("ann", "reader", reason="seed")

    @gamify.api_authorizer
    def as_ann(action: str, goal: GoalView | None) -> ApiPrincipal:
        return ApiPrincipal(entity="ann")

    board = client.get(f"{PREFIX}/leaderboards/user?around=ann")
    assert board.status_code == 200 and board.get_json()["entries"][0]["entity"] == "ann"
    assert client.get(f"{ENTITY}/ann/points").get_json()["points"] == 80
    assert client.get(f"{ENTITY}/ann/points/ledger").status_code == 200
    assert client.get(f"{ENTITY}/bob/points").status_code == 403
    for url, body in (
        (f"{ENTITY}/ann/points/adjustments", {"amount": 500, "reason": "me"}),
        (f"{ENTITY}/ann/awards/reader/revocations", {"reason": "me"}),
    ):
        refused = client.post(url, json=body)
        assert refused.status_code == 403
        assert "may not change points or awards" in error_of(refused)["message"]
    assert gamify.points("ann") == 80


def test_keys_create_accepts_points_write(app: Flask, client: FlaskClient) -> None:
    result = app.test_cli_runner().invoke(
        args=["gamify", "keys", "create", "moderation", "--scopes", "points:write,progress:read"]
    )
    assert result.exit_code == 0, result.output
    assert "with scopes progress:read, points:write" in result.output
    token = next(word for word in result.output.split() if word.startswith("gmf_"))
    answer = client.post(
        f"{ENTITY}/ann/points/adjustments",
        json={"amount": 5, "reason": "welcome"},
        headers=bearer(token),
    )
    assert answer.status_code == 201
