"""Views stored with progress rows: served while they hold, never stale.

The oracle is the read as it was before views were stored: every state evaluated at the
moment of reading (``stored_evaluation`` patched to find nothing).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import event, update

from flask_gamify import Gamify, InvalidInputError
from flask_gamify import progress as progress_store
from flask_gamify.criteria import EvaluationContext, EventData, compile_criteria
from flask_gamify.criteria.base import Criterion, to_milliseconds
from flask_gamify.criteria.expiry import valid_until
from flask_gamify.models import Progress

HOUR = timedelta(hours=1)


def read(gamify: Gamify, entity: str, now: datetime, goal: str | None = None) -> Any:
    state = gamify.state
    with state.transaction() as session:
        views = progress_store.progress(
            session, state.processor, state.entity_type(None), entity, goal, now=now
        )
    return [view.to_dict() for view in views]


def oracle(gamify: Gamify, entity: str, now: datetime, goal: str | None = None) -> Any:
    """The read evaluating every state, as before views were stored."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(progress_store, "stored_evaluation", lambda *args: None)
        return read(gamify, entity, now, goal)


class Evaluations:
    """Counts criterion evaluations (of every criterion class) while active."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        classes: list[type[Criterion]] = []
        pending: list[type[Criterion]] = [Criterion]
        while pending:
            cls = pending.pop()
            classes.append(cls)
            pending.extend(cls.__subclasses__())
        for cls in classes:
            if "evaluate" in vars(cls) and not getattr(cls.evaluate, "__isabstractmethod__", 0):
                monkeypatch.setattr(cls, "evaluate", self._counting(cls.evaluate))

    def _counting(self, evaluate: Any) -> Any:
        def counted(criterion: Criterion, state: Any, context: EvaluationContext) -> Any:
            self.count += 1
            return evaluate(criterion, state, context)

        return counted


@pytest.fixture
def statements(app: Flask, gamify: Gamify) -> Iterator[list[str]]:
    """The SQL statements gamify's engine runs."""
    seen: list[str] = []
    engine = gamify.state.session_factory.kw["bind"]

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def test_a_read_serves_stored_views_in_one_statement(
    app: Flask, gamify: Gamify, statements: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for index in range(5):
        criteria = {"type": "count", "event": "buy", "target": 3}
        gamify.define_goal(f"count-{index}", criteria=criteria)
    window = {"type": "sum", "event": "buy", "field": "amount", "target": 10**6, "window": "7d"}
    gamify.define_goal("spender", criteria=window)
    now = datetime.now(UTC)
    for index in range(20):
        gamify.track("buy", "u1", attributes={"amount": 5}, occurred_at=now - index * HOUR)
    read(gamify, "u1", now)  # loads the catalog
    evaluations = Evaluations(monkeypatch)
    statements.clear()

    views = read(gamify, "u1", now + timedelta(minutes=1))

    assert evaluations.count == 0
    assert len(statements) == 1, statements  # the rows and the catalog version
    assert "state" not in statements[0].split("FROM")[0].replace("stored_view", "")
    assert views == oracle(gamify, "u1", now + timedelta(minutes=1))
    assert views[-1]["current"] == 100


def test_rows_without_a_view_are_evaluated_as_before(app: Flask, gamify: Gamify) -> None:
    """Rows written before the column existed (or by a hand-given award) have none."""
    gamify.define_goal("regular", criteria={"type": "count", "event": "login", "target": 3})
    gamify.track("login", "u1")
    with gamify.state.transaction() as session:
        session.execute(update(Progress).values(stored_view=None))
    now = datetime.now(UTC)
    assert read(gamify, "u1", now) == oracle(gamify, "u1", now)
    assert read(gamify, "u1", now)[0]["current"] == 1


def test_a_view_keeps_only_what_differs_from_the_skeleton(app: Flask, gamify: Gamify) -> None:
    """Labels, types and targets are the same for every entity: no row repeats them."""
    gamify.define_goal(
        "checklist",
        criteria={
            "type": "all",
            "of": [
                {"type": "count", "event": "login", "target": 2, "label": "Sign in twice"},
                {"type": "all_of", "event": "read", "field": "page", "values": ["a", "b"]},
            ],
        },
    )
    gamify.track("login", "u1")
    gamify.track("read", "u1", attributes={"page": "b"})
    (view,) = stored_views(gamify)
    # [current, percent, completed, occurrences], then what differs: the children's
    # numbers, and of the list only what is missing and which items are done.
    assert view["e"] == [
        0,
        0,
        False,
        0,
        {"ch": [[1, 50, False, 0], [1, 50, False, 0, {"m": ["a"], "id": [False, True]}]]},
    ]
    assert "Sign in twice" not in json.dumps(view)
    now = datetime.now(UTC)
    assert read(gamify, "u1", now) == oracle(gamify, "u1", now)


def test_a_view_of_an_earlier_format_is_evaluated_then_rewritten(
    app: Flask, gamify: Gamify, monkeypatch: pytest.MonkeyPatch
) -> None:
    gamify.define_goal("regular", criteria={"type": "count", "event": "login", "target": 3})
    gamify.track("login", "u1")
    (view,) = stored_views(gamify)
    key = view["k"].rsplit("/", 1)[0]  # the key of the first format had no version
    earlier = {"k": key, "at": view["at"], "until": None, "g": {}, "e": {"t": "count"}}
    with gamify.state.transaction() as session:
        session.execute(update(Progress).values(stored_view=earlier))
    now = datetime.now(UTC)
    evaluations = Evaluations(monkeypatch)
    assert read(gamify, "u1", now)[0]["current"] == 1
    assert evaluations.count == 1  # not served: evaluated from the state
    gamify.track("login", "u1")
    assert stored_views(gamify)[0]["k"] == view["k"]


def test_an_expired_window_is_evaluated_again(
    app: Flask, gamify: Gamify, monkeypatch: pytest.MonkeyPatch, statements: list[str]
) -> None:
    gamify.define_goal(
        "busy-hour", criteria={"type": "count", "event": "login", "target": 5, "window": "1h"}
    )
    now = datetime.now(UTC)
    for minutes in (50, 40, 10):
        gamify.track("login", "u1", occurred_at=now - timedelta(minutes=minutes))
    (row,) = stored_views(gamify)
    # Valid until the oldest of the events shown leaves the window.
    oldest = to_milliseconds(now - timedelta(minutes=50))
    assert row["until"] == oldest + 3_600_000

    evaluations = Evaluations(monkeypatch)
    assert read(gamify, "u1", now + timedelta(minutes=9))[0]["current"] == 3
    assert evaluations.count == 0
    later = now + timedelta(minutes=15)
    statements.clear()
    assert read(gamify, "u1", later)[0]["current"] == 2  # one event left the window
    assert evaluations.count == 1
    assert len(statements) == 1, statements  # the state came with the row
    for minutes in (0, 9, 10, 11, 25, 45, 51, 120):
        moment = now + timedelta(minutes=minutes, milliseconds=minutes % 2)
        assert read(gamify, "u1", moment) == oracle(gamify, "u1", moment), minutes


def test_a_read_of_one_goal_leaves_the_other_goals_states_out(
    app: Flask, gamify: Gamify, statements: list[str]
) -> None:
    for key in ("busy-hour", "busier-hour"):
        criteria = {"type": "count", "event": "login", "target": 5, "window": "1h"}
        gamify.define_goal(key, criteria=criteria)
    now = datetime.now(UTC)
    for minutes in (50, 10):
        gamify.track("login", "u1", occurred_at=now - timedelta(minutes=minutes))
    later = now + timedelta(minutes=15)  # both views expired
    statements.clear()
    one = read(gamify, "u1", later, "busy-hour")
    # The rows without any state, then the one state the read evaluates.
    assert len(statements) == 2, statements
    assert "CASE" not in statements[0].upper(), statements[0]
    assert one == oracle(gamify, "u1", later, "busy-hour")
    statements.clear()
    every = read(gamify, "u1", later)
    assert len(statements) == 1, statements  # the list: both states with the rows
    assert every == oracle(gamify, "u1", later)


def test_a_row_written_again_for_a_late_event_keeps_its_view(app: Flask, gamify: Gamify) -> None:
    """A batch reads each row's view as text and parses it only when it needs it: a row
    whose state stays (its only event was late) is written again with the view as a
    document, the same one."""
    gamify.define_goal(
        "busy-hour", criteria={"type": "count", "event": "login", "target": 5, "window": "1h"}
    )
    now = datetime.now(UTC)
    gamify.track("login", "u1", occurred_at=now)
    (before,) = stored_views(gamify)
    gamify.track("login", "u1", occurred_at=now - timedelta(days=30))  # too late to count
    assert gamify.progress("u1", "busy-hour").late_events == 1
    assert stored_views(gamify) == [before]
    assert read(gamify, "u1", now) == oracle(gamify, "u1", now)


def test_a_view_made_ahead_of_the_reader_is_not_served(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal(
        "busy-hour", criteria={"type": "count", "event": "login", "target": 5, "window": "1h"}
    )
    now = datetime.now(UTC)
    gamify.track("login", "u1", occurred_at=now - timedelta(minutes=30))
    earlier = now - timedelta(hours=2)
    assert read(gamify, "u1", earlier) == oracle(gamify, "u1", earlier)


def test_a_streak_view_expires_when_the_streak_would_break(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal(
        "daily", criteria={"type": "streak", "event": "login", "target": 5, "period": "day"}
    )
    now = datetime.now(UTC)
    for days in (2, 1, 0):
        gamify.track("login", "u1", occurred_at=now - timedelta(days=days))
    (row,) = stored_views(gamify)
    midnight = datetime.combine(now.date() + timedelta(days=2), datetime.min.time(), UTC)
    assert row["until"] == to_milliseconds(midnight)
    for hours in (0, 1, 12, 23, 24, 25, 36, 47, 48, 49, 72):
        moment = now + timedelta(hours=hours)
        assert read(gamify, "u1", moment) == oracle(gamify, "u1", moment), hours
    assert read(gamify, "u1", midnight - timedelta(milliseconds=1))[0]["current"] == 3
    assert read(gamify, "u1", midnight)[0]["current"] == 0


def test_completed_goals_are_not_evaluated_again(
    app: Flask, gamify: Gamify, monkeypatch: pytest.MonkeyPatch
) -> None:
    gamify.define_goal(
        "busy-hour", criteria={"type": "count", "event": "login", "target": 2, "window": "1h"}
    )
    now = datetime.now(UTC)
    track_at(gamify, "u1", now - timedelta(minutes=5), now - timedelta(minutes=4))
    (row,) = stored_views(gamify)
    assert "until" not in row  # settled: no clock changes it
    evaluations = Evaluations(monkeypatch)
    assert read(gamify, "u1", now + timedelta(days=400))[0]["completed"] is True
    assert evaluations.count == 0


def test_goal_changes_never_serve_a_stale_view(app: Flask, gamify: Gamify) -> None:
    criteria = {"type": "count", "event": "login", "target": 3, "label": "Come back"}
    gamify.define_goal("regular", criteria=criteria)
    gamify.define_goal("after", criteria={"type": "goal", "goal": "regular"})
    gamify.track("login", "u1")
    gamify.track("login", "u1")
    now = datetime.now(UTC)

    def same() -> list[dict[str, Any]]:
        moment = datetime.now(UTC)
        views = read(gamify, "u1", moment)
        assert views == oracle(gamify, "u1", moment)
        return views

    assert same()[0]["current"] == 2
    # New labels (a new version, same criteria hash): the label shown changes.
    gamify.define_goal("regular", criteria=criteria | {"label": "Visit three times"})
    assert same()[0]["label"] == "Visit three times"
    # A new target: progress starts again (nothing is backfilled without a worker).
    gamify.define_goal("regular", criteria=criteria | {"target": 2})
    views = same()
    # The backfill rebuilds from the event log and stores a new view.
    gamify.backfill("regular", wait=True)
    views = same()
    assert views[0]["completed"] is True and views[1]["completed"] is True
    # Revoked by hand: the goal shows what holds now (the award of the goal that
    # needed it stands, but its criteria no longer hold).
    gamify.revoke_award("u1", "regular", reason="test")
    views = same()
    assert views[0]["completed"] is False and views[1]["completed"] is True
    # Given back by hand, then revoked with a reset of progress.
    gamify.award("u1", "regular", reason="test")
    assert same()[1]["completed"] is True
    gamify.revoke_award("u1", "regular", reason="test", reset_progress=True)
    views = same()
    assert views[0]["current"] == 0
    gamify.track("login", "u1")
    assert same()[0]["current"] == 1
    assert now <= datetime.now(UTC)


def test_a_page_evaluates_only_its_goals(
    app: Flask, gamify: Gamify, monkeypatch: pytest.MonkeyPatch
) -> None:
    for index in range(12):
        criteria = {"type": "count", "event": "x", "target": 2}
        gamify.define_goal(f"goal-{index:02}", criteria=criteria)
    evaluations = Evaluations(monkeypatch)
    page = gamify.progress_page("u1", offset=3, limit=2)
    assert [view.goal for view in page.views] == ["goal-03", "goal-04"]
    assert page.more is True
    assert evaluations.count == 2


def test_a_page_out_of_bounds_names_the_fields(app: Flask, gamify: Gamify) -> None:
    with pytest.raises(InvalidInputError) as raised:
        gamify.progress_page("u1", offset=-1, limit=0)
    assert set(raised.value.errors) == {"offset", "limit"}


def test_a_page_reads_only_its_goals_rows(
    app: Flask, gamify: Gamify, statements: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for index in range(12):
        criteria = {"type": "count", "event": "x", "target": 2}
        gamify.define_goal(f"goal-{index:02}", criteria=criteria, hidden=index == 7)
    prerequisite = {"type": "goal", "goal": "goal-11"}
    gamify.define_goal("goal-12", criteria=prerequisite)
    gamify.track("x", "u1")
    gamify.track("x", "u1")
    gamify.progress_page("u1", offset=0, limit=1)  # loads the catalog
    parameters: list[Any] = []
    engine = gamify.state.session_factory.kw["bind"]

    def record(conn: Any, cursor: Any, statement: str, given: Any, *args: Any) -> None:
        parameters.append(given)

    event.listen(engine, "before_cursor_execute", record)
    evaluations = Evaluations(monkeypatch)
    statements.clear()
    # Nothing depends on the rows (hidden goals shown): cut from the catalog, then one
    # statement for the page's rows, its prerequisite's and the catalog version.
    page = gamify.progress_page("u1", offset=11, limit=2, include_hidden=True)
    event.remove(engine, "before_cursor_execute", record)
    assert [(view.goal, view.completed) for view in page.views] == [
        ("goal-11", True),
        ("goal-12", True),
    ]
    assert page.more is False
    assert len(statements) == 1, statements
    assert "gamify_goals" not in statements[0]
    # The entity type and id, the catalog version row's, the reader's clock and the
    # path of a view's end in its document; the two goals' ids (goal-12's prerequisite
    # is on the page) are written in the statement.
    assert len(parameters[0]) == 5, parameters
    (listed,) = re.findall(r"goal_id IN \(([^)]*)\)", statements[0])
    assert len(listed.split(",")) == 2, statements[0]
    assert evaluations.count == 0  # stored views
    statements.clear()
    # A hidden goal shows once completed: the page is cut in SQL, by the rows.
    page = gamify.progress_page("u1", offset=7, limit=2)
    assert [view.goal for view in page.views] == ["goal-07", "goal-08"]
    assert len(statements) == 2, statements
    assert "LIMIT" in statements[0].upper()


def test_a_page_of_every_goal_reads_the_entity_s_rows_without_listing_ids(
    app: Flask, gamify: Gamify, statements: list[str]
) -> None:
    for index in range(3):
        gamify.define_goal(f"goal-{index}", criteria={"type": "count", "event": "x", "target": 2})
    team = {"type": "count", "event": "x", "target": 1}
    gamify.define_goal("team-goal", criteria=team, entity_type="team")
    gamify.track("x", "u1")
    gamify.track("x", "u1")
    gamify.track("x", "u2")  # another entity's rows stay out
    gamify.progress_page("u1")  # loads the catalog
    statements.clear()
    page = gamify.progress_page("u1", limit=50)
    assert [(view.goal, view.current, view.completed) for view in page.views] == [
        (f"goal-{index}", 2, True) for index in range(3)
    ]
    assert len(statements) == 1, statements
    assert "goal_id IN" not in statements[0], statements[0]
    # Archived goals have rows too: then the page names its goals.
    gamify.archive_goal("goal-0")
    gamify.progress_page("u1")  # loads the new catalog
    statements.clear()
    page = gamify.progress_page("u1", limit=50)
    assert [view.goal for view in page.views] == ["goal-1", "goal-2"]
    assert "goal_id IN" in statements[-1], statements


def track_at(gamify: Gamify, entity: str, *moments: datetime) -> None:
    for moment in moments:
        gamify.track("login", entity, occurred_at=moment)


def stored_views(gamify: Gamify) -> list[dict[str, Any]]:
    with gamify.state.transaction() as session:
        return [view for (view,) in session.query(Progress.stored_view).order_by(Progress.id).all()]


# -- valid_until, criterion by criterion --------------------------------------------

BASE = datetime(2026, 3, 28, 12, tzinfo=UTC)  # a clock change ahead in Europe
CRITERIA = [
    {"type": "count", "event": "a", "target": 3, "window": "2h"},
    {"type": "count", "event": "a", "target": 50, "window": "1d"},
    {"type": "sum", "event": "a", "field": "v", "target": 7, "window": "3h"},
    {"type": "sum", "event": "a", "field": "v", "target": 500, "window": "1d"},
    {
        "type": "sequence",
        "steps": [{"event": "a"}, {"event": "b"}, {"event": "a"}],
        "window": "2h",
    },
    {"type": "streak", "event": "a", "target": 3, "period": "day"},
    {"type": "streak", "event": "b", "target": 2, "period": "week"},
    {
        "type": "any",
        "of": [
            {"type": "count", "event": "b", "target": 4, "window": "90m"},
            {"type": "streak", "event": "a", "target": 9, "period": "day"},
        ],
    },
]


@settings(max_examples=150, deadline=None)
@given(
    index=st.sampled_from(range(len(CRITERIA))),
    events=st.lists(
        st.tuples(
            st.sampled_from("ab"),
            st.integers(min_value=-3 * 24 * 60, max_value=60),
            st.integers(min_value=-3, max_value=9),
        ),
        max_size=30,
    ),
    reader=st.integers(min_value=-60, max_value=60),
    later=st.lists(st.integers(min_value=0, max_value=5 * 24 * 3600 * 1000), max_size=6),
    zone=st.sampled_from(["UTC", "Europe/Paris", "Pacific/Chatham", "America/Sao_Paulo"]),
)
def test_an_evaluation_holds_until_valid_until(
    index: int,
    events: list[tuple[str, int, int]],
    reader: int,
    later: list[int],
    zone: str,
) -> None:
    criterion = compile_criteria(CRITERIA[index], max_occurrences=1)
    timezone = ZoneInfo(zone)
    data = [
        EventData(f"e{i}", kind, BASE + timedelta(minutes=minutes), {"v": value})
        for i, (kind, minutes, value) in enumerate(events)
    ]
    context = EvaluationContext(now=BASE, timezone=timezone)
    state = criterion.apply(None, data, context)
    now = BASE + timedelta(minutes=reader)
    at = EvaluationContext(now=now, timezone=timezone)
    until = valid_until(criterion, state, at)
    evaluation = criterion.evaluate(state, at)
    moments = [to_milliseconds(now) + offset for offset in later]
    if until is not None:
        assert until > to_milliseconds(now) - 1
        moments = [moment for moment in moments if moment < until] + [until - 1]
    for moment in moments:
        if moment < to_milliseconds(now):
            continue
        then = EvaluationContext(
            now=datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=moment),
            timezone=timezone,
        )
        assert criterion.evaluate(state, then) == evaluation, (moment, until)
