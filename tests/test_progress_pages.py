"""Pages of an entity's progress list: the same goals, in the same order, as the full
list cut in Python, whatever the filters, reading only the page's goals.

The oracle is the full list (:func:`flask_gamify.progress.progress`, every row read),
filtered and cut as the REST API did before pages were read on their own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_support import PREFIX, bearer, make_token
from flask import Flask, current_app
from flask.testing import FlaskClient

from flask_gamify import Gamify
from flask_gamify import progress as progress_store
from flask_gamify.api.keys import create_key

GOALS = 45
#: What ann sends of each event type: e3 never (its goals have no row).
SENT = {"e0": 3, "e1": 1, "e2": 2, "e4": 5}
BEFORE = timedelta(hours=2)


def goal(index: int) -> dict[str, Any]:
    key = f"g{index:02}"
    criteria: dict[str, Any] = {"type": "count", "event": f"e{index % 5}", "target": 1 + index % 4}
    if index % 9 == 4:
        criteria["window"] = "1d"  # its view expires a day after the events
    if index % 13 == 12:
        # A prerequisite far from the goal (on another page), and an event never sent:
        # half done while the prerequisite is held.
        prerequisite = {"type": "goal", "goal": f"g{(index * 7) % 12:02}"}
        never = {"type": "count", "event": "e3", "target": 1}
        criteria = {"type": "all", "of": [prerequisite, never]}
    return {
        "key": key,
        "name": key,
        "criteria": criteria,
        "hidden": index % 7 == 3,
        "assigned_only": index % 11 == 5,
        "owner": "alice" if index % 3 == 0 else "bob",
    }


@pytest.fixture
def catalog(app: Flask, gamify: Gamify) -> datetime:
    """Goals of every kind, and ann's progress on them; the moment of her events."""
    plain = [goal(index) for index in range(GOALS) if index % 13 != 12]
    gamify.define_goals(plain)
    gamify.define_goals([goal(index) for index in range(GOALS) if index % 13 == 12])
    gamify.define_goal(
        "draft", criteria={"type": "count", "event": "e0", "target": 1}, status="draft"
    )
    gamify.define_goal(
        "team-goal", criteria={"type": "count", "event": "e0", "target": 1}, entity_type="team"
    )
    gamify.assign("g05", assignee="ann")  # g16, g27, g38 stay unassigned
    moment = datetime.now(UTC) - BEFORE
    for event, times in SENT.items():
        for _ in range(times):
            gamify.track(event, "ann", occurred_at=moment)
    gamify.track("e0", "bob", occurred_at=moment)
    # Archived goals keep their rows; a revoked award leaves times_completed behind.
    for key in ("g00", "g11", "g22"):
        gamify.archive_goal(key)
    gamify.revoke_award("ann", "g10", reason="test")
    return moment


def full_list(gamify: Gamify, include_hidden: bool, now: datetime) -> list[dict[str, Any]]:
    state = gamify.state
    with state.transaction() as session:
        views = progress_store.progress(
            session, state.processor, "user", "ann", include_hidden=include_hidden, now=now
        )
    return [view.to_dict() for view in views]


def page(
    gamify: Gamify,
    offset: int,
    limit: int,
    now: datetime,
    *,
    include_hidden: bool,
    completed: bool | None,
    shown: Callable[[str, bool], bool] | None,
) -> tuple[list[dict[str, Any]], bool]:
    state = gamify.state
    with state.transaction() as session:
        found = progress_store.progress_page(
            session,
            state.processor,
            "user",
            "ann",
            offset=offset,
            limit=limit,
            include_hidden=include_hidden,
            completed=completed,
            shown=shown,
            now=now,
        )
    return [view.to_dict() for view in found.views], found.more


def number(key: str) -> int:
    return int(key[1:]) if key[1:].isdigit() else -1


#: Readers: everyone, an owner's tool (its goals; hidden ones once completed), and one
#: that depends on completion both ways.
SHOWN: dict[str, Callable[[str, bool], bool] | None] = {
    "all": None,
    "alice": lambda key, done: number(key) % 3 == 0 and (number(key) % 7 != 3 or done),
    "odd": lambda key, done: done != (number(key) % 2 == 0),
}


@pytest.mark.parametrize("shown", sorted(SHOWN))
def test_pages_are_the_full_list_cut(gamify: Gamify, catalog: datetime, shown: str) -> None:
    reader = SHOWN[shown]
    # Views that hold, then a day later: the windowed goals' views expired.
    for now in (catalog + BEFORE + timedelta(minutes=1), catalog + timedelta(days=2)):
        for include_hidden in (False, True):
            everything = full_list(gamify, include_hidden, now)
            for completed in (None, True, False):
                expected = [
                    view
                    for view in everything
                    if (completed is None or view["completed"] == completed)
                    and (reader is None or reader(view["goal"], view["completed"]))
                ]
                for limit in (2, 7, 200):
                    pages = []
                    offset = 0
                    while True:
                        views, more = page(
                            gamify,
                            offset,
                            limit,
                            now,
                            include_hidden=include_hidden,
                            completed=completed,
                            shown=reader,
                        )
                        case = (now, include_hidden, completed, limit, offset)
                        assert views == expected[offset : offset + limit], case
                        assert more == (len(expected) > offset + limit), case
                        pages.extend(views)
                        if not more:
                            break
                        offset += limit
                    assert pages == expected
                after = page(
                    gamify,
                    len(expected) + 3,
                    5,
                    now,
                    include_hidden=include_hidden,
                    completed=completed,
                    shown=reader,
                )
                assert after == ([], False)


def test_the_catalog_holds_every_case(gamify: Gamify, catalog: datetime) -> None:
    """The fixture has what the comparisons are about (else they prove little)."""
    now = catalog + BEFORE
    listed = {view["goal"]: view for view in full_list(gamify, True, now)}
    assert len(listed) > 30
    assert {"g00", "g11", "g22", "g16", "draft", "team-goal"}.isdisjoint(listed)
    assert "g05" in listed  # assigned
    assert listed["g03"]["completed"] is False and listed["g17"]["completed"] is True  # hidden
    assert listed["g10"]["completed"] is False  # revoked
    assert listed["g03"]["current"] == 0  # e3: no row
    assert listed["g12"]["percent"] == 50 and listed["g25"]["percent"] == 0  # prerequisites
    expired = {view["goal"]: view for view in full_list(gamify, True, catalog + timedelta(days=2))}
    assert listed["g31"]["current"] == 1 and expired["g31"]["current"] == 0


def rest_pages(client: FlaskClient, url: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every page of a list, following its ``next`` links."""
    items: list[dict[str, Any]] = []
    pages = 0
    while url:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        items.extend(body["items"])
        pages += 1
        url = body["next"]
    assert pages > 1 or len(items) <= 4
    return items


def alice_token() -> dict[str, str]:
    with current_app.extensions["gamify"].transaction() as session:
        _, token = create_key(session, "alice-progress", ["progress:read"], owner="alice")
    return bearer(token)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "completed=true",
        "completed=false",
        "include_hidden=true",
        "include_hidden=true&completed=false",
    ],
)
def test_rest_pages_follow_the_cursor(
    app: Flask, gamify: Gamify, client: FlaskClient, catalog: datetime, query: str
) -> None:
    options = dict(part.split("=") for part in query.split("&") if part)
    completed = {"true": True, "false": False}.get(options.get("completed", ""))
    include_hidden = options.get("include_hidden") == "true"
    everything = [
        view.to_dict()
        for view in gamify.progress("ann", include_hidden=include_hidden)
        if completed is None or view.completed == completed
    ]
    url = f"{PREFIX}/entities/user/ann/progress?limit=4" + (f"&{query}" if query else "")
    assert rest_pages(client, url, bearer(make_token("progress:read"))) == everything
    # An owner's key: its goals only; hidden ones once completed.
    assert rest_pages(client, url, alice_token()) == [
        view
        for view in everything
        if number(view["goal"]) % 3 == 0 and (number(view["goal"]) % 7 != 3 or view["completed"])
    ]
