"""The Operations page: pipeline health, dead letters, backfills and API keys."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from admin_support import ADMIN, csrf_token, install_admin, login
from api_support import PREFIX, bearer
from conftest import wait_for
from flask import Flask
from flask.testing import FlaskClient
from pipeline_app import POISON
from pipeline_support import Workers, emit, gamify_of, logged_events

from flask_gamify import Gamify
from flask_gamify.events import make_event
from flask_gamify.testing import RedisServer

PAGE = ADMIN + "/gamify_operations/"
POSTS = ["dead-letters/replay/", "dead-letters/drop/", "api-keys/", "api-keys/revoke/"]
MARKER = "explodes-in-sql"


def html_of(response: object) -> str:
    return response.get_data(as_text=True)  # type: ignore[attr-defined,no-any-return]


# -- access and CSRF ----------------------------------------------------------------------


@pytest.mark.parametrize("user", [None, "visitor", "alice"])
@pytest.mark.parametrize("path", ["", *POSTS])
def test_only_superusers_reach_operations(admin_client: FlaskClient, user: str, path: str) -> None:
    login(admin_client, "staff")
    token = csrf_token(admin_client, PAGE)
    login(admin_client, user)
    if path:
        response = admin_client.post(PAGE + path, data={"csrf_token": token, "name": "x"})
    else:
        response = admin_client.get(PAGE)
    assert response.status_code == 403


@pytest.mark.parametrize("path", POSTS)
def test_every_post_needs_the_csrf_token(
    admin_client: FlaskClient, gamify: Gamify, path: str
) -> None:
    gamify.create_api_key("kept", scopes=["goals:read"])
    login(admin_client, "staff")
    form = {"name": "new", "scopes": "goals:read", "key": "kept", "which": "all"}
    response = admin_client.post(PAGE + path, data=form)
    assert response.status_code == 400
    assert "security token" in html_of(response)
    response = admin_client.post(PAGE + path, data={**form, "csrf_token": "forged"})
    assert response.status_code == 400
    assert [key.name for key in gamify.api_keys()] == ["kept"]
    assert not gamify.api_keys()[0].revoked


# -- inline mode and empty states ---------------------------------------------------------


def test_inline_mode_says_there_is_no_pipeline(admin_client: FlaskClient) -> None:
    login(admin_client, "staff")
    response = admin_client.get(PAGE)
    assert response.status_code == 200
    html = html_of(response)
    assert 'data-gamify-pipeline="inline"' in html
    assert "processed <strong>inline</strong>" in html
    assert "GAMIFY_REDIS_URL" in html
    assert "No backfill has run yet." in html
    assert "No API keys yet." in html
    assert "gamify_admin/operations.js" in html


def test_dead_letter_actions_in_inline_mode_explain_why_not(admin_client: FlaskClient) -> None:
    login(admin_client, "staff")
    token = csrf_token(admin_client, PAGE)
    response = admin_client.post(
        PAGE + "dead-letters/replay/", data={"csrf_token": token, "which": "all"}
    )
    assert response.status_code == 302
    assert "events are processed inline" in html_of(admin_client.get(PAGE))


def test_backfills_are_listed_with_their_progress(
    admin_client: FlaskClient, gamify: Gamify
) -> None:
    gamify.track("login", "ann")
    gamify.define_goal(
        "first-login", criteria={"type": "count", "event": "login", "target": 1}, status="draft"
    )
    gamify.activate_goal("first-login")  # inline: the backfill runs at once
    login(admin_client, "staff")
    html = html_of(admin_client.get(PAGE))
    table = html.split('id="finished-backfills"', 1)[1].split("</table>", 1)[0]
    assert "first-login" in table
    assert "1 of 1" in table  # entities rebuilt
    assert "badge-success" in table


# -- API keys -----------------------------------------------------------------------------


def test_a_key_created_here_is_shown_once_and_works_until_revoked(
    admin_client: FlaskClient, gamify: Gamify
) -> None:
    login(admin_client, "staff")
    token = csrf_token(admin_client, PAGE)
    response = admin_client.post(
        PAGE + "api-keys/",
        data={
            "csrf_token": token,
            "name": "mobile-app",
            "scopes": ["goals:read", "progress:read"],
            "owner": "",
        },
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = html_of(response)
    [view] = gamify.api_keys()
    secret = html.split('id="created-key-secret" readonly\n           value="', 1)[1].split('"')[0]
    assert secret.startswith(view.prefix + "_")
    assert "it is shown only this\n    once" in html
    assert view.scopes == ("goals:read", "progress:read") and view.owner is None
    # Not kept anywhere the browser stores: not in the session cookie, not on reload.
    cookie = admin_client.get_cookie("session")
    assert cookie is not None and secret not in cookie.value
    again = html_of(admin_client.get(PAGE))
    assert secret not in again and view.prefix in again

    api = admin_client.application.test_client()
    assert api.get(f"{PREFIX}/goals", headers=bearer(secret)).status_code == 200
    response = admin_client.post(
        PAGE + "api-keys/revoke/", data={"csrf_token": token, "key": view.prefix}
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("#api-keys")
    listing = html_of(admin_client.get(PAGE))
    assert "Revoked the API key &#39;mobile-app&#39;" in listing
    assert 'badge-secondary">revoked' in listing
    assert gamify.api_keys()[0].revoked
    assert api.get(f"{PREFIX}/goals", headers=bearer(secret)).status_code == 401


def test_an_owner_bound_key(admin_client: FlaskClient, gamify: Gamify) -> None:
    login(admin_client, "staff")
    token = csrf_token(admin_client, PAGE)
    response = admin_client.post(
        PAGE + "api-keys/",
        data={"csrf_token": token, "name": "alice", "scopes": "goals:write", "owner": " alice "},
    )
    assert response.status_code == 200
    assert "bound to the goal owner <strong>alice</strong>" in html_of(response)
    assert gamify.api_keys()[0].owner == "alice"


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"name": "", "scopes": "goals:read"}, "key-name", "1 to 100 characters"),
        ({"name": "dup", "scopes": "goals:read"}, "key-name", "exists already"),
        ({"name": "new", "scopes": "admin"}, "scope-", "Unknown scope(s) admin"),
        ({"name": "new"}, "scope-", "(none given)"),
        ({"name": "new", "scopes": "goals:read", "owner": "x" * 300}, "key-owner", "owner must"),
    ],
)
def test_bad_key_input_is_shown_at_its_field(
    admin_client: FlaskClient, gamify: Gamify, form: dict[str, str], field: str, message: str
) -> None:
    gamify.create_api_key("dup", scopes=["goals:read"])
    login(admin_client, "staff")
    token = csrf_token(admin_client, PAGE)
    response = admin_client.post(PAGE + "api-keys/", data={"csrf_token": token, **form})
    assert response.status_code == 422
    html = html_of(response)
    assert "created-key-secret" not in html
    # The message follows the field it is about, which is marked invalid.
    before = html.split(message.replace("'", "&#39;"), 1)[0]
    field_tag = before.rsplit(f'id="{field}', 1)[0].rsplit("<input", 1)[1]
    assert "is-invalid" in field_tag
    assert 'class="invalid-feedback' in before[-60:]
    # What was typed stays in the form.
    if form.get("name"):
        assert f'value="{form["name"]}"' in html
    assert len(gamify.api_keys()) == 1


def test_revoking_an_unknown_key_says_so(admin_client: FlaskClient) -> None:
    login(admin_client, "staff")
    token = csrf_token(admin_client, PAGE)
    response = admin_client.post(
        PAGE + "api-keys/revoke/", data={"csrf_token": token, "key": "gmf_nope"}
    )
    assert response.status_code == 302
    assert "No API key is named &#39;gmf_nope&#39;" in html_of(admin_client.get(PAGE))


# -- with the Redis pipeline --------------------------------------------------------------


@pytest.fixture
def ops_client(papp: Flask) -> FlaskClient:
    """The pipeline app with the dashboard, signed in as staff."""
    papp.config["SECRET_KEY"] = "test-secret"
    install_admin(papp)
    client = papp.test_client()
    login(client, "staff")
    return client


@pytest.fixture
def poison_workers(pipeline_env: dict[str, str], tmp_path: Path) -> Iterator[Workers]:
    """Workers for which an event carrying MARKER fails in SQL (then is dead-lettered)."""
    started = Workers({**pipeline_env, POISON: MARKER}, tmp_path)
    yield started
    started.stop_all()


def dead_letter_count(client: FlaskClient) -> int:
    html = html_of(client.get(PAGE))
    return int(html.split('id="stat-dead-letters">', 1)[1].split("<", 1)[0])


def make_dead_letters(papp: Flask, client: FlaskClient, count: int) -> None:
    emit(
        papp,
        [
            make_event("login", f"victim-{n}", attributes={"note": MARKER}, event_id=f"bad-{n}")
            for n in range(count)
        ],
    )
    wait_for(
        lambda: dead_letter_count(client) == count,
        timeout=60,
        message=f"{count} poisoned event(s) were dead-lettered",
    )


def test_pipeline_health_and_a_dead_letter_replayed(
    papp: Flask,
    ops_client: FlaskClient,
    workers: Workers,
    poison_workers: Workers,
) -> None:
    poisoned = poison_workers.start("poisoned")
    emit(papp, [make_event("login", "ann", event_id="good-1")])
    make_dead_letters(papp, ops_client, 1)
    html = html_of(ops_client.get(PAGE))
    assert 'data-gamify-pipeline="ok"' in html
    assert 'id="stat-workers">1<' in html and "poisoned" in html
    assert "1 event(s) could not be processed (dead letters)" in html
    row = html.split('data-dead-letter="', 1)[1].split("</tr>", 1)[0]
    assert "<code>login</code>" in row and "user:victim-0" in row
    assert "ValueError" in row and MARKER in row
    assert '<td class="gamify-number">2</td>' in row  # attempts (GAMIFY_MAX_ATTEMPTS)
    dead_id = row.split('"', 1)[0]

    poisoned.kill()
    poisoned.wait(timeout=10)
    workers.start("healthy")
    token = csrf_token(ops_client, PAGE)
    form = {"csrf_token": token, "which": "selected", "ids": dead_id}
    response = ops_client.post(PAGE + "dead-letters/replay/", data=form)
    assert response.status_code == 302
    assert "Replayed 1 dead letter(s)" in html_of(ops_client.get(PAGE))
    assert dead_letter_count(ops_client) == 0
    wait_for(lambda: logged_events(papp) == 2, timeout=60, message="the replayed event counted")
    progress = gamify_of(papp).progress("victim-0", "login-3")
    assert progress.current == 1  # processed once, by the healthy worker


def test_dead_letters_dropped_one_then_all(
    papp: Flask, ops_client: FlaskClient, poison_workers: Workers
) -> None:
    poison_workers.start("poisoned")
    make_dead_letters(papp, ops_client, 3)
    html = html_of(ops_client.get(PAGE))
    ids = [part.split('"', 1)[0] for part in html.split('data-dead-letter="')[1:]]
    assert len(ids) == 3
    token = csrf_token(ops_client, PAGE)
    nothing = ops_client.post(
        PAGE + "dead-letters/drop/", data={"csrf_token": token, "which": "selected"}
    )
    assert nothing.status_code == 302
    assert "No dead letter was selected" in html_of(ops_client.get(PAGE))
    assert dead_letter_count(ops_client) == 3

    ops_client.post(
        PAGE + "dead-letters/drop/", data={"csrf_token": token, "which": "selected", "ids": ids[0]}
    )
    assert "Dropped 1 dead letter(s)" in html_of(ops_client.get(PAGE))
    assert dead_letter_count(ops_client) == 2
    form = {"csrf_token": token, "which": "selected", "ids": ids[0]}
    gone = ops_client.post(PAGE + "dead-letters/replay/", data=form)
    assert gone.status_code == 302
    assert "No dead letter with id" in html_of(ops_client.get(PAGE))

    ops_client.post(PAGE + "dead-letters/drop/", data={"csrf_token": token, "which": "all"})
    assert "Dropped 2 dead letter(s)" in html_of(ops_client.get(PAGE))
    html = html_of(ops_client.get(PAGE))
    assert "No dead letters: every event was processed." in html
    assert logged_events(papp) == 0


def test_without_workers_the_page_says_to_start_one(ops_client: FlaskClient, papp: Flask) -> None:
    emit(papp, [make_event("login", "ann")])
    html = html_of(ops_client.get(PAGE))
    assert 'id="stat-workers">0<' in html
    assert 'id="stat-backlog">1<' in html
    assert "No worker is running" in html


def test_redis_down_is_a_red_status_not_an_error_page(
    papp: Flask, ops_client: FlaskClient, redis_server: RedisServer
) -> None:
    redis_server.stop()
    started = time.monotonic()
    response = ops_client.get(PAGE)
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    html = html_of(response)
    assert 'data-gamify-pipeline="unreachable"' in html and "alert-danger" in html
    assert f"Cannot reach Redis at 127.0.0.1:{redis_server.port} (GAMIFY_REDIS_URL)" in html
    assert elapsed < 5, f"the page took {elapsed:.1f} s with Redis down"
    token = csrf_token(ops_client, PAGE)
    response = ops_client.post(
        PAGE + "dead-letters/replay/", data={"csrf_token": token, "which": "all"}
    )
    assert response.status_code == 302
    assert "Cannot reach Redis" in html_of(ops_client.get(PAGE))


def test_a_dead_letter_whose_event_is_not_json_is_listed(
    ops_client: FlaskClient, redis_server: RedisServer
) -> None:
    redis_server.client().xadd(
        "gamify:dead-letters",
        {
            "shard": "0",
            "entry": "1-0",
            "event": "{not json",
            "error": "JSONDecodeError: bad",
            "attempts": "1",
            "failed_at": "2026-01-02T03:04:05+00:00",
        },
    )
    html = html_of(ops_client.get(PAGE))
    row = html.split('data-dead-letter="', 1)[1].split("</tr>", 1)[0]
    assert "(unreadable event)" in row and "{not json" in row
    assert "2026-01-01 22:04" in row  # in GAMIFY_TIMEZONE (America/New_York)


def test_a_queued_backfill_comes_first_with_its_progress_bar(
    papp: Flask, ops_client: FlaskClient
) -> None:
    view = gamify_of(papp).backfill("reader")  # with Redis: an RQ job, and no worker runs
    assert view.status == "queued"
    html = html_of(ops_client.get(PAGE))
    section = html.split('id="backfills"', 1)[1].split("</section>", 1)[0]
    assert section.index("Running and queued") < section.index("Recently finished")
    item = section.split(f'data-backfill="{view.id}"', 1)[1].split("</li>", 1)[0]
    assert "<strong>reader</strong>" in item and ">queued<" in item
    assert 'role="progressbar"' in item and "waiting for a worker" in item
