"""The demo in a real browser: a badge earned shows as a toast, and phones fit the pages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import LiveServer, PageProblems, screenshot
from flask import Flask
from playwright.sync_api import expect

from demo_app import create_app
from demo_app.extensions import db

pytestmark = pytest.mark.browser


@pytest.fixture
def live_demo(tmp_path: Path) -> Iterator[str]:
    """The demo app on a fresh SQLite database, served on a free port."""
    config = {
        "TESTING": True,
        "SECRET_KEY": "test",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'demo.db'}",
    }
    app: Flask = create_app(config)
    with LiveServer(app) as server:
        yield server.url
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture
def demo_page(page: Any) -> Iterator[Any]:
    problems = PageProblems(page)
    page.set_default_timeout(15_000)
    yield page
    problems.check()


def _sign_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_role("button", name=username, exact=True).click()
    expect(page.locator("nav .me")).to_contain_text(username)


def test_a_badge_earned_shows_as_a_toast_without_reloading(demo_page: Any, live_demo: str) -> None:
    page = demo_page
    _sign_in(page, live_demo, "bob")
    for title in ("Article A", "Article B", "Article C"):
        page.goto(f"{live_demo}/")
        page.get_by_role("link", name=title).click()
        expect(page.locator("h1")).to_contain_text(title)
    # Mark the page: a reload would lose the mark.
    page.evaluate("window.stillTheSamePage = true")
    toasts = page.locator("#toasts .toast")
    expect(toasts.filter(has_text="Badge earned: Explorer (+10 points)")).to_be_visible()
    expect(
        toasts.filter(has_text="Unlocked the premium page: Premium access (+25 points)")
    ).to_be_visible()
    assert page.evaluate("window.stillTheSamePage") is True
    expect(page.locator("#unread-count")).to_have_text("0")  # shown means read
    screenshot(page, "demo-toast", full_page=False)
    toasts.first.get_by_role("button", name="Close").click()
    expect(toasts).to_have_count(1)


@pytest.mark.parametrize("path", ["/", "/articles/1", "/badges", "/todos", "/users/bob"])
def test_pages_fit_a_phone(demo_page: Any, live_demo: str, path: str) -> None:
    page = demo_page
    page.set_viewport_size({"width": 390, "height": 844})
    _sign_in(page, live_demo, "bob")
    page.goto(f"{live_demo}{path}")
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow == 0, f"{path} is {overflow}px wider than the phone"
    if path == "/":
        screenshot(page, "demo-mobile")


def test_progress_reads_right(demo_page: Any, live_demo: str) -> None:
    """Explorer done, one comment: Engaged member is 1 of 2 parts (50 %), its "one of"
    part shows the option closest to completion, and each number agrees with its bar."""
    page = demo_page
    _sign_in(page, live_demo, "bob")
    for title in ("Article A", "Article B", "Article D"):
        page.goto(f"{live_demo}/")
        page.get_by_role("link", name=title).click()
        expect(page.locator("h1")).to_contain_text(title)
    page.get_by_label("Your comment").fill("Clear and short.")
    page.get_by_role("button", name="Post comment").click()
    page.goto(f"{live_demo}/users/bob")
    engaged = page.locator("tr", has_text="Engaged member")
    expect(engaged.locator("td").nth(1)).to_contain_text("50% 1/2")
    parts = engaged.locator(".tree li")
    expect(parts.nth(0)).to_contain_text("✔ Be an Explorer 1/1")
    # The best option of the "one of" part: two days in a row is half done (login).
    expect(parts.nth(1)).to_contain_text("○ Comment 3 times or log in 2 days in a row 1/2")
    expect(parts.nth(2)).to_contain_text("○ Comment 3 times 1/3")
    widths = page.evaluate(
        """() => [...document.querySelectorAll('.bar')].map(bar => [
            bar.title, bar.firstElementChild.style.width])"""
    )
    assert widths and all(title == width for title, width in widths)
    screenshot(page, "demo-progress")
