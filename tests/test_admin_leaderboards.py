"""The Leaderboards page of the dashboard: ranks, ties, periods, finding an entity."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from admin_support import ADMIN, install_admin, login
from flask import Flask
from flask.testing import FlaskClient

from flask_gamify import Gamify
from flask_gamify.admin.leaderboards import known_boards
from flask_gamify.leaderboards import period_of

if TYPE_CHECKING:
    from flask_gamify.testing import RedisServer

PAGE = ADMIN + "/gamify_leaderboards/"


def page(client: FlaskClient, query: str = "", status: int = 200) -> str:
    response = client.get(PAGE + query)
    assert response.status_code == status, response.get_data(as_text=True)[:3000]
    return re.sub(r"\s+", " ", html.unescape(response.get_data(as_text=True)))


def words(fragment: str) -> str:
    """The text of an HTML fragment, without its tags."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", fragment))


def ranks(text: str, table: int = -1) -> list[tuple[str, str, str]]:
    """``(rank, entity, points)`` of each row of a standings table (the last by default)."""
    tables = text.split('<table class="table table-sm gamify-board">')[1:]
    assert tables, "no standings table on the page"
    found = re.findall(
        r'data-entity="([^"]*)" data-rank="(\d+)".*?<td class="gamify-number">([\d,-]+)</td>',
        tables[table].split("</table>", 1)[0],
    )
    return [(rank, entity, points) for entity, rank, points in found]


@pytest.fixture
def points(admin_app: Flask, gamify: Gamify) -> Gamify:
    """Five users with ties: ann 50, bea 30, cy 30, dan 10, eve 5; a team; karma."""
    for entity, amount in (("ann", 50), ("bea", 30), ("cy", 30), ("dan", 10), ("eve", 5)):
        gamify.adjust_points(entity, amount, reason="seed", idempotency_key=f"seed-{entity}")
    gamify.adjust_points("red", 7, reason="seed", entity_type="team")
    gamify.adjust_points("ann", 3, reason="helpful", category="karma")
    return gamify


@pytest.mark.parametrize("user", [None, "visitor", "alice"])
def test_only_superusers_see_leaderboards(admin_client: FlaskClient, user: str | None) -> None:
    login(admin_client, user)
    assert admin_client.get(PAGE).status_code == 403
    assert admin_client.get(PAGE + "?find=ann").status_code == 403
    if user == "alice":
        menu = admin_client.get(ADMIN + "/").get_data(as_text=True)
        assert "gamify_leaderboards" not in menu and "gamify_progress" in menu


def test_staff_see_it_in_the_menu_next_to_progress(admin_client: FlaskClient) -> None:
    login(admin_client, "staff")
    menu = admin_client.get(ADMIN + "/").get_data(as_text=True)
    assert menu.index("/gamify_progress/") < menu.index("/gamify_leaderboards/")
    assert menu.index("/gamify_leaderboards/") < menu.index("/gamify_assignments/")


def test_competition_ranks_and_links_to_the_progress_browser(
    admin_client: FlaskClient, points: Gamify
) -> None:
    login(admin_client, "staff")
    text = page(admin_client)
    assert ranks(text) == [
        ("1", "ann", "50"),
        ("2", "bea", "30"),
        ("2", "cy", "30"),
        ("4", "dan", "10"),
        ("5", "eve", "5"),
    ]
    # The shared rank is marked on both rows, and only there.
    board = text.split('class="table table-sm gamify-board"', 1)[1]
    assert board.count('class="gamify-tie"') == 2
    assert re.search(r'data-entity="bea" data-rank="2">.*?2<span class="gamify-tie"', board)
    assert f"{ADMIN}/gamify_progress/?entity=cy&entity_type=user#points" in text
    assert "All time" in text and "Ranks are read from the SQL points ledger" in text


def test_entity_types_and_categories_come_from_the_balances(
    admin_client: FlaskClient, points: Gamify
) -> None:
    login(admin_client, "staff")
    text = page(admin_client)
    entity_types = text.split('id="board-entity-type"', 1)[1].split("</select>", 1)[0]
    assert re.findall(r'<option value="(\w+)"', entity_types) == ["user", "team"]
    categories = text.split('id="board-category"', 1)[1].split("</select>", 1)[0]
    assert re.findall(r'<option value="(\w+)"', categories) == ["karma", "points"]
    assert ranks(page(admin_client, "?entity_type=team")) == [("1", "red", "7")]
    assert ranks(page(admin_client, "?category=karma")) == [("1", "ann", "3")]
    # The team has no karma: only the default category is offered for it.
    team = page(admin_client, "?entity_type=team")
    categories = team.split('id="board-category"', 1)[1].split("</select>", 1)[0]
    assert re.findall(r'<option value="(\w+)"', categories) == ["points"]


def test_known_boards_seek_each_pair_once(admin_app: Flask, points: Gamify) -> None:
    state = admin_app.extensions["gamify"]
    with state.session_factory() as session:
        assert known_boards(session) == [("team", "points"), ("user", "karma"), ("user", "points")]
        assert known_boards(session, limit=2) == [("team", "points"), ("user", "karma")]


def test_find_an_entity_shows_its_rank_and_neighbours(
    admin_client: FlaskClient, gamify: Gamify, admin_app: Flask
) -> None:
    for number in range(1, 21):  # u01 has 20 points ... u20 has 1
        gamify.adjust_points(f"u{number:02d}", 21 - number, reason="seed")
    login(admin_client, "staff")
    text = page(admin_client, "?find=u10&limit=10")
    around = text.split('class="gamify-around', 1)[1].split("</section>", 1)[0]
    assert "u10 is #10 with 11 points" in words(around)
    assert [entity for _, entity, _ in ranks(around, 0)] == [f"u{n:02d}" for n in range(5, 16)]
    found = re.findall(r'<tr data-entity="([^"]+)"[^>]*class="gamify-found"', around)
    assert found == ["u10"]
    assert "looked up" in around
    # The top 10 is listed too, with the hint that more can be shown.
    assert len(ranks(text)) == 10 and "The first 10 are shown" in text


def test_find_an_entity_without_points(admin_client: FlaskClient, points: Gamify) -> None:
    login(admin_client, "staff")
    text = page(admin_client, "?find=zed")
    around = text.split('class="gamify-around', 1)[1].split("</section>", 1)[0]
    assert "zed has no points yet" in words(around)
    assert ranks(around, 0)[-1] == ("6", "zed", "0")


def test_periods_show_their_bounds_in_the_site_timezone(
    admin_client: FlaskClient, points: Gamify
) -> None:
    login(admin_client, "staff")
    now = datetime.now(UTC)
    text = page(admin_client, "?period=month")
    start = now.replace(day=1).strftime("%Y-%m-01 00:00")
    assert f"This month: {start} to " in text and "(UTC, the end not included)" in text
    assert [entity for _, entity, _ in ranks(text)] == ["ann", "bea", "cy", "dan", "eve"]
    assert "Today: " + now.strftime("%Y-%m-%d 00:00") in page(admin_client, "?period=day")


def test_a_site_timezone_cuts_the_periods(database_url: str, gamify: Gamify) -> None:
    from conftest import db

    app = Flask("zoned")
    app.config.update(
        SECRET_KEY="x",
        SQLALCHEMY_DATABASE_URI=database_url,
        GAMIFY_TIMEZONE="Asia/Tokyo",
    )
    db.init_app(app)
    gamify.init_app(app)
    install_admin(app)
    with app.app_context():
        gamify.drop_all()
        gamify.create_all()
        try:
            client = app.test_client()
            login(client, "staff")
            text = page(client, "?period=day")
            assert "Today: " in text and " 00:00 to " in text and "(Asia/Tokyo," in text
        finally:
            gamify.drop_all()
            for engine in db.engines.values():
                engine.dispose()


def test_empty_states_say_what_to_do(admin_client: FlaskClient, gamify: Gamify) -> None:
    login(admin_client, "staff")
    text = page(admin_client)
    assert "No entity has points yet." in text and "Adjust points" in text
    gamify.adjust_points("ann", 5, reason="seed")
    text = page(admin_client, "?entity_type=team")
    assert "No team has points yet." in text


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("?period=year", "period", "Choose a period: all, day, week, month."),
        ("?limit=0", "limit", "Show a whole number of entries from 1 to 100."),
        ("?limit=101", "limit", "from 1 to 100"),
        ("?limit=ten", "limit", "from 1 to 100"),
        ("?limit=%D9%A3", "limit", "from 1 to 100"),  # an Arabic-Indic digit
        ("?find=" + "x" * 256, "find", "gamify stores at most 255"),
        ("?find=a%00b", "find", "NUL"),
        ("?entity_type=" + "t" * 65, "entity_type", "The entity type is 65 characters long"),
        ("?category=" + "c" * 65, "category", "categories have at most 64"),
    ],
)
def test_bad_input_is_explained_at_the_field(
    admin_client: FlaskClient, points: Gamify, query: str, field: str, message: str
) -> None:
    login(admin_client, "staff")
    text = page(admin_client, query, status=400)
    error = re.search(rf'data-field="{field}">([^<]*)<', text)
    assert error is not None and message in error.group(1)
    assert "is-invalid" in text and "could not be shown" in text


def test_redis_answers_and_the_note_says_where_ranks_come_from(
    papp: Flask, redis_server: RedisServer
) -> None:
    papp.config["SECRET_KEY"] = "test-secret"
    install_admin(papp)
    gamify: Gamify = papp.extensions["gamify"].extension
    state = papp.extensions["gamify"]
    gamify.adjust_points("ann", 10, reason="seed")
    gamify.adjust_points("bea", 20, reason="seed")
    client = papp.test_client()
    login(client, "staff")
    text = page(client, "?period=week")
    assert "until the Redis leaderboards are built" in text
    assert "(America/New_York, the end not included)" in text
    assert ranks(text) == [("1", "bea", "20"), ("2", "ann", "10")]

    gamify.rebuild_leaderboards()
    # Proof that Redis answers now: a member only Redis knows is listed.
    key = state.boards.key("user", "points", period_of("all", datetime.now(UTC), state.timezone))
    state.pipeline.client.zadd(key, {"redis-only": -5})
    text = page(client)
    assert "Ranks are read from Redis" in text
    assert ranks(text) == [("1", "bea", "20"), ("2", "ann", "10"), ("3", "redis-only", "5")]

    redis_server.stop()
    try:
        text = page(client)
        assert "Redis is unreachable right now" in text
        assert ranks(text) == [("1", "bea", "20"), ("2", "ann", "10")]
    finally:
        redis_server.start()
