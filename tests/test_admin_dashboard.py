"""The Dashboard: numbers per day, top goals, the funnel, stuck entities, pipeline health."""

from __future__ import annotations

import html as html_module
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from admin_support import ADMIN, install_admin, login
from flask import Flask
from flask.testing import FlaskClient
from flask_admin import Admin
from sqlalchemy import update

from flask_gamify import Gamify
from flask_gamify.admin.access import Scope
from flask_gamify.admin.statistics import collect, local_days
from flask_gamify.models import Progress, utcnow
from flask_gamify.testing import RedisServer

PAGE = ADMIN + "/"


def page_of(client: FlaskClient, query: str = "") -> str:
    response = client.get(PAGE + query)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def table(page: str, table_id: str) -> list[list[str]]:
    """The rows of a table (body and footer) as lists of cell texts."""
    body = page.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    body = body.split("</thead>", 1)[-1]
    rows = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        rows.append([html_module.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in cells])
    return rows


# -- seeded data --------------------------------------------------------------------------

#: The time the data was seeded (set by seed(), so the days match the page's).
NOW = utcnow().replace(microsecond=0)
#: (event type, entity, days ago): chronological per entity, so awards land on known days.
EVENTS = [
    ("login", "ann", 3),
    ("login", "ann", 1),
    ("login", "ann", 0),
    ("login", "ben", 2),
    ("login", "cat", 40),  # outside the 30-day period, inside the 90-day one
    ("article.read", "ann", 0),
    ("article.read", "ann", 0),
    ("article.read", "dan", 5),
    ("comment", "eve", 1),
]


def seed(gamify: Gamify) -> None:
    global NOW
    NOW = utcnow().replace(microsecond=0)
    gamify.define_goal(
        "first-login",
        name="First login",
        criteria={"type": "count", "event": "login", "target": 1},
        owner="alice",
    )
    gamify.define_goal(
        "regular",
        name="Regular",
        criteria={"type": "count", "event": "login", "target": 3},
        owner="alice",
    )
    gamify.define_goal(
        "reader",
        name="Reader",
        criteria={"type": "count", "event": "article.read", "target": 5},
        owner="alice",
    )
    gamify.define_goal(
        "talker",
        name="Talker",
        criteria={"type": "count", "event": "comment", "target": 1},
        owner="bob",
    )
    for index, (kind, entity, days_ago) in enumerate(EVENTS):
        moment = NOW - timedelta(days=days_ago, seconds=len(EVENTS) - index)
        gamify.track(kind, entity, occurred_at=moment)


def day(days_ago: int, seconds: int = 0) -> str:
    return (NOW - timedelta(days=days_ago, seconds=seconds)).date().isoformat()


def expected_per_day(types: set[str] | None = None, period: int = 30) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for index, (kind, _entity, days_ago) in enumerate(EVENTS):
        if types is None or kind in types:
            counts[day(days_ago, len(EVENTS) - index)] += 1
    first = (NOW.date() - timedelta(days=period - 1)).isoformat()
    return {date: count for date, count in counts.items() if date >= first}


def nonzero(rows: list[list[str]]) -> dict[str, int]:
    return {row[0]: int(row[1]) for row in rows if row[0] != "Total" and row[1] != "0"}


# -- access -------------------------------------------------------------------------------


@pytest.mark.parametrize("user", [None, "visitor"])
def test_the_dashboard_is_closed_to_people_not_let_in(
    admin_client: FlaskClient, user: str | None
) -> None:
    login(admin_client, user)
    assert admin_client.get(PAGE).status_code == 403


# -- empty states -------------------------------------------------------------------------


def test_without_events_or_goals_it_says_what_to_do(admin_client: FlaskClient) -> None:
    login(admin_client, "staff")
    page = page_of(admin_client)
    assert "No events yet" in page and "No goals yet" in page
    assert "@tracks(&#34;article.read&#34;)" in page or '@tracks("article.read")' in page
    assert "POST /gamify/api/events" in page
    assert "gamify_goals" in page  # a link to the Goals page
    assert "<canvas" not in page  # no empty charts


def test_an_author_without_goals_is_told_to_create_one(
    admin_client: FlaskClient, gamify: Gamify
) -> None:
    gamify.define_goal(
        "talker", criteria={"type": "count", "event": "comment", "target": 1}, owner="bob"
    )
    gamify.track("comment", "eve")
    login(admin_client, "alice")
    page = page_of(admin_client)
    assert "You have no goals yet" in page
    assert "<canvas" not in page
    login(admin_client, "bob")
    page = page_of(admin_client)
    assert "You have no goals yet" not in page
    assert 'id="events-chart"' in page


def test_a_quiet_period_says_so_instead_of_empty_charts(
    admin_client: FlaskClient, gamify: Gamify
) -> None:
    gamify.define_goal("first-login", criteria={"type": "count", "event": "login", "target": 1})
    gamify.track("login", "old", occurred_at=NOW - timedelta(days=50))
    login(admin_client, "staff")
    page = page_of(admin_client, "?days=7")
    assert "No events and no awards in the last 7 days." in page
    assert 'id="events-chart"' not in page
    assert "No events yet" not in page


# -- the numbers --------------------------------------------------------------------------


def test_the_tables_hold_the_seeded_numbers(admin_client: FlaskClient, gamify: Gamify) -> None:
    seed(gamify)
    login(admin_client, "staff")
    page = page_of(admin_client)

    events = table(page, "events-table")
    assert len(events) == 31  # 30 days, newest first, and the total
    assert events[0][0] == NOW.date().isoformat()
    assert nonzero(events) == expected_per_day()
    assert events[-1] == ["Total", str(sum(expected_per_day().values()))]

    # first-login: ann (3 days ago), ben (2), cat (40: outside); regular: ann (today);
    # talker: eve (1). Each on the day of the event that completed it.
    expected: Counter[str] = Counter([day(3, 9), day(2, 6), day(0, 7), day(1, 1)])
    assert nonzero(table(page, "awards-table")) == dict(expected)
    assert table(page, "awards-table")[-1] == ["Total", "4"]

    assert table(page, "top-goals-table") == [
        ["First login", "2"],
        ["Regular", "1"],
        ["Talker", "1"],
    ]

    funnel = {row[0]: row[1:] for row in table(page, "funnel-table")}
    # started, completed, rate, stuck
    assert funnel["First login"] == ["3", "3", "100 %", "0"]  # ann, ben, cat
    assert funnel["Regular"] == ["3", "1", "33 %", "0"]
    assert funnel["Reader"] == ["2", "0", "0 %", "0"]
    assert funnel["Talker"] == ["1", "1", "100 %", "0"]

    data = page.split('id="gamify-dashboard-data">', 1)[1].split("</script>", 1)[0]
    assert '"events": [' in data and "Regular" in data
    assert "vendor/chart.js-4.6.1/chart.umd.min.js" in page
    assert "gamify_admin/dashboard.js" in page
    assert "cdn" not in page.lower()

    ninety = page_of(admin_client, "?days=90")
    assert nonzero(table(ninety, "events-table")) == expected_per_day(period=90)
    assert funnel == {row[0]: row[1:] for row in table(ninety, "funnel-table")}


def test_the_awards_per_day_are_on_the_days_the_goals_were_met(
    admin_client: FlaskClient, gamify: Gamify
) -> None:
    seed(gamify)
    login(admin_client, "staff")
    awards = nonzero(table(page_of(admin_client), "awards-table"))
    expected: Counter[str] = Counter()
    for view in [*gamify.awards("ann"), *gamify.awards("ben"), *gamify.awards("eve")]:
        expected[view.achieved_at.date().isoformat()] += 1
    assert awards == dict(expected)


def test_authors_see_only_their_goals_and_the_events_they_count(
    admin_client: FlaskClient, gamify: Gamify
) -> None:
    seed(gamify)
    login(admin_client, "alice")
    page = page_of(admin_client)
    assert "Events your goals count, per day" in page
    assert nonzero(table(page, "events-table")) == expected_per_day({"login", "article.read"})
    assert [row[0] for row in table(page, "funnel-table")] == ["First login", "Regular", "Reader"]
    assert "Talker" not in page
    assert "data-gamify-pipeline" not in page and "gamify_operations" not in page

    login(admin_client, "bob")
    page = page_of(admin_client)
    assert nonzero(table(page, "events-table")) == expected_per_day({"comment"})
    assert [row[0] for row in table(page, "funnel-table")] == ["Talker"]

    login(admin_client, "staff")
    page = page_of(admin_client)
    assert nonzero(table(page, "events-table")) == expected_per_day()
    assert 'data-gamify-pipeline="inline"' in page


def test_stuck_entities_link_to_the_progress_browser(
    admin_app: Flask, admin_client: FlaskClient, gamify: Gamify
) -> None:
    seed(gamify)
    state = admin_app.extensions["gamify"]
    with state.transaction() as session:  # dan read once, 10 days ago: 20 % of "reader"
        session.execute(
            update(Progress)
            .where(Progress.entity_id == "dan")
            .values(updated_at=NOW - timedelta(days=10))
        )
    login(admin_client, "staff")
    page = page_of(admin_client)
    [row] = table(page, "stuck-table")
    assert row[:3] == ["user:dan", "reader", "20 %"]
    assert "/gamify_progress/?entity=dan&amp;entity_type=user" in page
    assert {r[0]: r[4] for r in table(page, "funnel-table")}["Reader"] == "1"

    later = page_of(admin_client, "?stuck_days=30")
    assert 'id="stuck-table"' not in later
    assert "Nobody is stuck: no unfinished progress has waited 30 days." in later


@pytest.mark.parametrize("value", ["0", "abc", "366", "1.5"])
def test_a_bad_stuck_period_is_shown_at_its_field(
    admin_client: FlaskClient, gamify: Gamify, value: str
) -> None:
    seed(gamify)
    login(admin_client, "staff")
    page = page_of(admin_client, f"?stuck_days={value}")
    assert f"Give a whole number of days from 1 to 365 (got &#39;{value}&#39;)" in page
    field = page.split('id="stuck-days"', 1)[1].split(">", 1)[0]
    assert "is-invalid" in field
    assert "no progress for 7 days" in page  # the default is used meanwhile


def test_a_period_that_is_not_offered_is_refused(admin_client: FlaskClient, gamify: Gamify) -> None:
    seed(gamify)
    login(admin_client, "staff")
    page = page_of(admin_client, "?days=5")
    assert "Choose a period of 7, 30, 90 days." in page
    assert len(table(page, "events-table")) == 31


def test_the_retention_period_is_stated(admin_app: Flask, gamify: Gamify) -> None:
    seed(gamify)
    client = admin_app.test_client()
    login(client, "staff")
    assert "events for 90 days (<code>GAMIFY_EVENT_RETENTION</code>)" in page_of(client)


# -- days in GAMIFY_TIMEZONE --------------------------------------------------------------


def test_days_are_days_of_the_configured_time_zone() -> None:
    zone = ZoneInfo("America/New_York")
    # 2026-03-09 03:00 UTC is still March 8 in New York; DST began on March 8.
    days, bounds = local_days(datetime(2026, 3, 9, 3, 0, tzinfo=UTC), zone, 3)
    assert [d.isoformat() for d in days] == ["2026-03-06", "2026-03-07", "2026-03-08"]
    assert bounds[0] == datetime(2026, 3, 6, 5, 0, tzinfo=UTC)  # EST, UTC-5
    assert bounds[2] == datetime(2026, 3, 8, 5, 0, tzinfo=UTC)
    assert bounds[3] == datetime(2026, 3, 9, 4, 0, tzinfo=UTC)  # EDT, UTC-4: a 23-hour day


def test_events_fall_on_their_local_day(app: Flask, gamify: Gamify) -> None:
    zone = ZoneInfo("America/New_York")
    now = utcnow()
    local_midnight = datetime.combine(now.astimezone(zone).date(), datetime.min.time(), zone)
    just_before = local_midnight - timedelta(minutes=1)  # yesterday, in New York
    just_after = local_midnight + timedelta(minutes=1)
    if just_after > now:  # the test runs in the first minute of a New York day
        just_after = now
    gamify.track("login", "ann", occurred_at=just_before)
    gamify.track("login", "ben", occurred_at=just_after)
    with app.extensions["gamify"].transaction() as session:
        numbers = collect(
            session,
            Scope(everything=True),
            now=now,
            zone=zone,
            days=2,
            stuck_after=timedelta(days=7),
            max_future=timedelta(minutes=5),
        )
    assert numbers.events_per_day == [1, 1]
    assert numbers.days[-1] == now.astimezone(zone).date()


# -- pipeline health and hosting ----------------------------------------------------------


def test_redis_down_shows_red_on_the_dashboard(papp: Flask, redis_server: RedisServer) -> None:
    papp.config["SECRET_KEY"] = "test-secret"
    install_admin(papp)
    client = papp.test_client()
    login(client, "staff")
    page = page_of(client)
    assert 'data-gamify-pipeline="ok"' in page
    assert "workers <span" in page and "No worker is running" in page
    redis_server.stop()
    page = page_of(client)
    assert 'data-gamify-pipeline="unreachable"' in page and "alert-danger" in page
    assert "Cannot reach Redis" in page
    assert "/gamify/admin/gamify_operations/" in page


def test_on_a_hosts_admin_links_stay_on_the_dashboard_view(app: Flask, gamify: Gamify) -> None:
    install_admin(app, admin=Admin(app, name="Back office"))
    seed(gamify)
    client = app.test_client()
    login(client, "staff")
    response = client.get("/admin/gamify_dashboard/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'href="/admin/gamify_dashboard/?days=7&amp;stuck_days=7"' in page
    assert 'action="/admin/gamify_dashboard/"' in page
    assert nonzero(table(page, "events-table")) == expected_per_day()
