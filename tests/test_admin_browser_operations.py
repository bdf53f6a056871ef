"""Operations and the Dashboard in a real browser: dead letters, API keys, charts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from admin_support import ADMIN, install_admin
from browser_support import LiveServer, PageProblems, screenshot
from conftest import wait_for
from flask import Flask
from pipeline_app import POISON
from pipeline_support import Workers, emit, logged_events
from playwright.sync_api import expect
from rq import Worker

from flask_gamify import Gamify
from flask_gamify.events import make_event
from flask_gamify.models import utcnow
from flask_gamify.testing import RedisServer

pytestmark = pytest.mark.browser

OPERATIONS = ADMIN + "/gamify_operations/"
MARKER = "explodes-in-sql"


@pytest.fixture
def pipeline_admin(papp: Flask) -> Iterator[str]:
    """The pipeline app (real Redis) with the dashboard, served; yields its base URL."""
    papp.config["SECRET_KEY"] = "test-secret"
    install_admin(papp)
    with LiveServer(papp) as server:
        yield server.url


@pytest.fixture
def pipeline_page(page: Any, pipeline_admin: str) -> Iterator[Any]:
    """A browser page on the pipeline app, signed in as staff, watched for errors."""
    problems = PageProblems(page)
    page.set_default_timeout(15_000)
    page.goto(f"{pipeline_admin}/_test/login/staff")
    yield page
    problems.check()


def test_dead_letters_are_dropped_and_replayed(
    papp: Flask,
    pipeline_page: Any,
    pipeline_admin: str,
    pipeline_env: dict[str, str],
    redis_server: RedisServer,
    tmp_path: Path,
) -> None:
    page = pipeline_page
    client = redis_server.client()
    poisoned = Workers({**pipeline_env, POISON: MARKER}, tmp_path / "poisoned")
    healthy = Workers(pipeline_env, tmp_path / "healthy")
    (tmp_path / "poisoned").mkdir()
    (tmp_path / "healthy").mkdir()
    try:
        poisoned_process = poisoned.start("poisoned-worker")
        emit(
            papp,
            [
                make_event("login", "ann", attributes={"note": MARKER}, event_id="bad-ann"),
                make_event("login", "bob", attributes={"note": MARKER}, event_id="bad-bob"),
            ],
        )
        wait_for(
            lambda: client.xlen("gamify:dead-letters") == 2,
            timeout=60,
            message="both poisoned events were dead-lettered",
        )
        poisoned_process.terminate()  # a warm shutdown: it leaves RQ's worker registry
        poisoned_process.wait(timeout=30)
        healthy.start("healthy-worker")
        wait_for(
            lambda: [worker.name for worker in Worker.all(connection=client)] == ["healthy-worker"],
            timeout=30,
            message="only the healthy worker is registered",
        )

        page.goto(f"{pipeline_admin}{OPERATIONS}")
        expect(page.locator("#stat-dead-letters")).to_have_text("2")
        rows = page.locator("tr[data-dead-letter]")
        expect(rows).to_have_count(2)
        expect(rows.first).to_contain_text("ValueError")
        expect(page.locator("#workers")).to_contain_text("healthy-worker")
        screenshot(page, "admin-operations")

        # Dropping asks first; dismissing changes nothing.
        bob = page.locator("tr[data-dead-letter]", has_text="bob")
        bob.locator('input[name="ids"]').check()
        page.once("dialog", lambda dialog: dialog.dismiss())
        page.get_by_role("button", name="Drop selected").click()
        expect(page.locator("#stat-dead-letters")).to_have_text("2")
        assert client.xlen("gamify:dead-letters") == 2

        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Drop selected").click()
        expect(page.locator(".alert-success", has_text="Dropped 1 dead letter(s)")).to_be_visible()
        expect(page.locator("#stat-dead-letters")).to_have_text("1")
        expect(page.locator("tr[data-dead-letter]")).to_have_count(1)

        page.locator("tr[data-dead-letter]", has_text="ann").locator('input[name="ids"]').check()
        page.get_by_role("button", name="Replay selected").click()
        expect(page.locator(".alert-success", has_text="Replayed 1 dead letter(s)")).to_be_visible()
        expect(page.locator("#stat-dead-letters")).to_have_text("0")
        expect(page.get_by_text("No dead letters: every event was processed.")).to_be_visible()
        wait_for(
            lambda: logged_events(papp) == 1,
            timeout=60,
            message="the healthy worker processed the replayed event",
        )
    finally:
        poisoned.stop_all()
        healthy.stop_all()


def test_an_api_key_is_created_shown_once_and_revoked(
    admin_page: Any, live_admin: str, gamify: Gamify
) -> None:
    page = admin_page
    page.goto(f"{live_admin}{OPERATIONS}")
    expect(page.locator('[data-gamify-pipeline="inline"]')).to_be_visible()
    expect(page.get_by_text("No API keys yet.")).to_be_visible()

    # A mistake first: no scope ticked. The message is at the scopes.
    page.get_by_label("Name").fill("mobile-app")
    page.get_by_role("button", name="Create the key").click()
    problem = page.locator(".invalid-feedback", has_text="Unknown scope(s) (none given)")
    expect(problem).to_be_visible()
    expect(page.get_by_label("Name")).to_have_value("mobile-app")

    page.get_by_label("goals:read").check()
    page.get_by_label("progress:read").check()
    page.get_by_label("Owner (optional)").fill("alice")
    page.get_by_role("button", name="Create the key").click()
    secret_box = page.locator("#created-key-secret")
    expect(secret_box).to_be_visible()
    secret = secret_box.input_value()
    [key] = gamify.api_keys()
    assert secret.startswith(f"{key.prefix}_") and key.owner == "alice"
    expect(page.locator("#created-key")).to_contain_text("shown only this")
    screenshot(page, "admin-api-key-created")

    api = f"{live_admin}/gamify/api/goals"
    headers = {"Authorization": f"Bearer {secret}"}
    assert page.request.get(api, headers=headers).status == 200

    page.goto(f"{live_admin}{OPERATIONS}")  # shown once: not on the next visit
    expect(page.locator("#created-key-secret")).to_have_count(0)
    assert secret not in page.content()
    row = page.locator(f'tr[data-api-key="{key.prefix}"]')
    expect(row).to_contain_text("mobile-app")
    expect(row).to_contain_text("alice")

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke").click()
    expect(page.locator(".alert-success", has_text="Revoked the API key")).to_be_visible()
    expect(page.locator(f'tr[data-api-key="{key.prefix}"]')).to_contain_text("revoked")
    assert page.request.get(api, headers=headers).status == 401


def seed(gamify: Gamify) -> None:
    gamify.define_goal(
        "first-login",
        name="First login",
        criteria={"type": "count", "event": "login", "target": 1},
    )
    gamify.define_goal(
        "regular", name="Regular", criteria={"type": "count", "event": "login", "target": 3}
    )
    gamify.define_goal(
        "reader", name="Reader", criteria={"type": "count", "event": "article.read", "target": 4}
    )
    now = utcnow()
    for offset in range(12):
        for person in range(offset % 4 + 1):
            gamify.track(
                "login",
                f"user-{person + offset}",
                occurred_at=now - timedelta(days=12 - offset, minutes=person),
            )
    for person in range(5):
        gamify.track("article.read", f"user-{person}", occurred_at=now - timedelta(hours=person))


def test_the_dashboard_draws_its_charts_with_the_numbers(
    admin_page: Any, live_admin: str, gamify: Gamify
) -> None:
    seed(gamify)
    page = admin_page
    page.goto(f"{live_admin}{ADMIN}/")
    for chart in ("events-chart", "awards-chart", "top-goals-chart", "funnel-chart"):
        expect(page.locator(f"#{chart}")).to_have_attribute("data-rendered", "true")
        box = page.locator(f"#{chart}").bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 100, chart
    # A chart library that drew nothing would leave the canvas blank.
    drawn = page.evaluate(
        """() => {
          const canvas = document.getElementById('events-chart');
          const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
          return pixels.data.some((value, index) => index % 4 === 3 && value > 0);
        }"""
    )
    assert drawn
    total = page.locator("#events-table tfoot td")
    expect(total).to_have_text(str(sum(offset % 4 + 1 for offset in range(12)) + 5))
    expect(page.locator("#top-goals-table tbody tr").first).to_contain_text("First login")
    expect(page.locator('[data-gamify-pipeline="inline"]')).to_be_visible()
    screenshot(page, "admin-dashboard")

    page.set_viewport_size({"width": 390, "height": 800})
    page.reload()
    expect(page.locator("#events-chart")).to_have_attribute("data-rendered", "true")
    overflow = page.evaluate("() => document.documentElement.scrollWidth")
    assert overflow <= 390, f"the page is {overflow} px wide at 390 px"
    screenshot(page, "admin-dashboard-narrow")
