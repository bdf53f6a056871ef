"""Event time, not wall-clock time (issue 9, item 2), through ``track()`` and REST.

A back-dated history completes windowed goals exactly as a live run would have; awards
record when the goal was met by event time (``achieved_at``) and when they were
recorded (``awarded_at``); events too late to count are counted, visibly.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api_support import PREFIX, bearer, make_token
from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import select

from flask_gamify import Gamify
from flask_gamify.models import Event
from flask_gamify.testing import RedisServer

NINE_MONTHS_AGO = datetime.now(UTC).replace(microsecond=0) - timedelta(days=270)
MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)
PINGS = {"type": "count", "event": "ping", "target": 3, "window": "1h"}


def pings_at(gamify: Gamify, entity: str, *moments: datetime) -> None:
    for moment in moments:
        gamify.track("ping", entity, occurred_at=moment)


def test_back_dated_pings_complete_a_windowed_goal(app: Flask, gamify: Gamify) -> None:
    """The issue's example: 3 pings within 20 minutes, nine months ago."""
    gamify.define_goal("pinger", criteria=PINGS)
    third = NINE_MONTHS_AGO + 20 * MINUTE
    before = datetime.now(UTC)
    pings_at(gamify, "u1", NINE_MONTHS_AGO, NINE_MONTHS_AGO + 10 * MINUTE, third)

    assert gamify.has_completed("u1", "pinger")
    [award] = gamify.awards("u1")
    assert award.achieved_at == third
    assert award.awarded_at >= before - timedelta(seconds=1)
    assert award.to_dict()["achieved_at"] == third.isoformat()
    view = gamify.progress("u1", "pinger")
    assert view.completed and view.completed_at == third
    assert view.late_events == 0


def test_back_dated_pings_too_far_apart_do_not_complete(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("pinger", criteria=PINGS)
    pings_at(gamify, "u1", NINE_MONTHS_AGO, NINE_MONTHS_AGO + 30 * MINUTE)
    pings_at(gamify, "u1", NINE_MONTHS_AGO + 60 * MINUTE)
    view = gamify.progress("u1", "pinger")
    assert not view.completed
    # a reader today sees the window ending today: those pings are long out of it
    assert view.current == 0


def test_back_dated_history_over_rest(app: Flask, gamify: Gamify, client: FlaskClient) -> None:
    gamify.define_goal("pinger", criteria=PINGS)
    headers = bearer(make_token())
    third = NINE_MONTHS_AGO + 20 * MINUTE
    events = [
        {"type": "ping", "entity": "u2", "occurred_at": moment.isoformat()}
        for moment in (NINE_MONTHS_AGO, NINE_MONTHS_AGO + 10 * MINUTE, third)
    ]
    response = client.post(f"{PREFIX}/events", json={"events": events}, headers=headers)
    assert response.status_code == 202

    body = client.get(f"{PREFIX}/entities/user/u2/awards", headers=headers).get_json()
    [award] = body["items"] if isinstance(body, dict) and "items" in body else body
    assert datetime.fromisoformat(award["achieved_at"]) == third
    assert datetime.fromisoformat(award["awarded_at"]) > third + 200 * DAY
    progress = client.get(f"{PREFIX}/entities/user/u2/progress/pinger", headers=headers)
    assert progress.get_json()["late_events"] == 0
    assert datetime.fromisoformat(progress.get_json()["completed_at"]) == third


def test_repeatable_windowed_goal_over_a_year_awards_each_burst(app: Flask, gamify: Gamify) -> None:
    """Each burst of the history earns its award, dated by its own completing event."""
    gamify.define_goal("pinger", criteria=PINGS, repeatable=True)
    thirds = []
    for month in range(12):
        start = NINE_MONTHS_AGO - timedelta(days=30 * (11 - month)) + 2 * DAY
        pings_at(gamify, "u3", start, start + MINUTE, start + 2 * MINUTE)
        thirds.append(start + 2 * MINUTE)
    awards = gamify.awards("u3")
    assert [award.occurrence for award in awards] == list(range(1, 13))
    assert [award.achieved_at for award in awards] == thirds


def test_streak_sum_and_sequence_judge_event_time(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("streaker", criteria={"type": "streak", "event": "visit", "target": 3})
    gamify.define_goal(
        "spender",
        criteria={"type": "sum", "event": "buy", "field": "amount", "target": 10, "window": "1d"},
    )
    gamify.define_goal(
        "checkout",
        criteria={
            "type": "sequence",
            "steps": [{"event": "cart"}, {"event": "pay"}],
            "window": "1h",
        },
    )
    noon = NINE_MONTHS_AGO.replace(hour=12, minute=0, second=0)
    for day in range(3):
        gamify.track("visit", "u4", occurred_at=noon + day * DAY)
    gamify.track("buy", "u4", attributes={"amount": 6}, occurred_at=noon)
    gamify.track("buy", "u4", attributes={"amount": 4}, occurred_at=noon + 2 * MINUTE)
    gamify.track("cart", "u4", occurred_at=noon)
    gamify.track("pay", "u4", occurred_at=noon + 5 * MINUTE)

    achieved = {award.goal: award.achieved_at for award in gamify.awards("u4")}
    assert achieved == {
        "streaker": noon + 2 * DAY,
        "spender": noon + 2 * MINUTE,
        "checkout": noon + 5 * MINUTE,
    }


def test_prerequisite_awards_carry_the_prerequisite_event_time(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("pinger", criteria=PINGS)
    gamify.define_goal("veteran", criteria={"type": "goal", "goal": "pinger"})
    third = NINE_MONTHS_AGO + 2 * MINUTE
    pings_at(gamify, "u5", NINE_MONTHS_AGO, NINE_MONTHS_AGO + MINUTE, third)
    achieved = {award.goal: award.achieved_at for award in gamify.awards("u5")}
    assert achieved == {"pinger": third, "veteran": third}


def test_goal_start_and_end_judge_event_time(app: Flask, gamify: Gamify) -> None:
    """A goal that ran in the past counts the history of its own period."""
    gamify.define_goal(
        "campaign",
        criteria=PINGS,
        starts_at=NINE_MONTHS_AGO,
        ends_at=NINE_MONTHS_AGO + DAY,
    )
    pings_at(gamify, "early", *(NINE_MONTHS_AGO - (i + 1) * MINUTE for i in range(3)))
    pings_at(gamify, "in-time", *(NINE_MONTHS_AGO + i * MINUTE for i in range(3)))
    assert not gamify.has_completed("early", "campaign")
    assert gamify.has_completed("in-time", "campaign")


def test_late_events_are_counted_and_flagged(app: Flask, gamify: Gamify) -> None:
    """An event older than what the goal has seen minus the allowance (7 days) does not
    count, and is never dropped silently: the progress row counts it and the event log
    flags it."""
    gamify.define_goal("pinger", criteria=PINGS)
    now = datetime.now(UTC)
    pings_at(gamify, "u6", now - MINUTE, now - 2 * MINUTE)
    stale = now - 30 * DAY
    late_id = gamify.track("ping", "u6", occurred_at=stale)
    on_time_id = gamify.track("ping", "u6", occurred_at=now - 6 * DAY)

    view = gamify.progress("u6", "pinger")
    assert view.late_events == 1
    assert view.to_dict()["late_events"] == 1
    assert not view.completed  # the late ping does not make three within the hour
    state = app.extensions["gamify"]
    with state.transaction() as session:
        flags = dict(session.execute(select(Event.id, Event.late)).all())
    assert flags[late_id] is True
    assert flags[on_time_id] is False
    assert sum(flags.values()) == 1


def test_batch_result_counts_late_events_per_goal(app: Flask, gamify: Gamify) -> None:
    from flask_gamify.events import make_event

    gamify.define_goal("pinger", criteria=PINGS)
    gamify.define_goal("plain", criteria={"type": "count", "event": "ping", "target": 100})
    now = datetime.now(UTC)
    processor = app.extensions["gamify"].processor
    processor.process([make_event("ping", "u7", occurred_at=now)])
    result = processor.process(
        [make_event("ping", "u7", occurred_at=now - 8 * DAY), make_event("ping", "u7")]
    )
    assert result.late_events == {"pinger": 1}
    # a criterion without a window counts every event, however old
    assert gamify.progress("u7", "plain").current == 3


def test_status_shows_the_late_events(database_url: str, redis_server: RedisServer) -> None:
    from flask_gamify.events import make_event

    app = Flask("late_status_app")
    app.config.update(SQLALCHEMY_DATABASE_URI=database_url, GAMIFY_REDIS_URL=redis_server.url)
    db = SQLAlchemy()
    db.init_app(app)
    gamify = Gamify(app, db=db)
    with app.app_context():
        gamify.drop_all()
        gamify.create_all()
        try:
            gamify.define_goal("pinger", criteria=PINGS)
            processor = app.extensions["gamify"].processor
            now = datetime.now(UTC)
            processor.process([make_event("ping", "u8", occurred_at=now)])
            processor.process([make_event("ping", "u8", occurred_at=now - 9 * DAY)])
            output = app.test_cli_runner().invoke(args=["gamify", "status"]).output
            assert "late events (too late for a windowed goal, per goal): 1" in output
        finally:
            gamify.drop_all()
            for engine in db.engines.values():
                engine.dispose()
