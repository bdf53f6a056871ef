"""The REST API docs page in a real browser: Swagger UI under a strict CSP, try-it-out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from api_support import PREFIX, READER
from browser_support import LiveServer, PageProblems, screenshot
from flask import Flask

from flask_gamify import Gamify

pytestmark = pytest.mark.browser


@pytest.fixture
def docs_page(app: Flask, gamify: Gamify, page: Any) -> Iterator[tuple[Any, str]]:
    """The docs page open in a browser, and a key that may read goals."""
    gamify.define_goal("reader", criteria=READER, name="Reader")
    _, key = app.extensions["gamify"].extension.create_api_key("docs", scopes=["goals:read"])
    problems = PageProblems(page)
    # Chromium reports violations on the console too; this records each one for sure.
    page.add_init_script(
        "window.cspViolations = [];"
        " document.addEventListener('securitypolicyviolation',"
        " e => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    page.set_default_timeout(15_000)
    with LiveServer(app) as server:
        page.goto(f"{server.url}{PREFIX}/docs")
        yield page, key
        assert page.evaluate("window.cspViolations") == []
    problems.check()


def test_the_docs_page_shows_every_operation(docs_page: tuple[Any, str]) -> None:
    page, _ = docs_page
    page.locator(".opblock-summary-path", has_text="/events").first.wait_for()
    tags = page.locator(".opblock-tag").all_inner_texts()
    assert [tag.split("\n")[0] for tag in tags] == [
        "Events",
        "Goals",
        "Entities",
        "Leaderboards",
        "Badges",
        "Webhooks",
        "Document",
    ]
    assert page.locator(".info .title").inner_text().startswith("Flask-Gamify REST API")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/goals" in [path.replace("\u200b", "") for path in paths]
    assert page.locator("#operations-Events-sendEvents .opblock-summary-method").inner_text() == (
        "POST"
    )


def test_try_it_out_with_a_bearer_key(docs_page: tuple[Any, str]) -> None:
    page, key = docs_page
    page.get_by_role("button", name="Authorize").first.click()
    page.locator(".auth-container input").first.fill(key)
    page.locator(".auth-btn-wrapper .authorize").click()
    page.locator(".auth-btn-wrapper .btn-done").click()
    operation = page.locator("#operations-Goals-listGoals")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    status = operation.locator(".live-responses-table .response .response-col_status")
    status.first.wait_for()
    assert status.first.inner_text().strip() == "200"
    assert (
        '"key": "reader"'
        in operation.locator(".live-responses-table .microlight").first.inner_text()
    )
    curl = operation.locator(".curl-command").inner_text()
    assert f"Authorization: Bearer {key}" in curl
    # The goal-create operation offers one example per criterion type.
    page.set_viewport_size({"width": 1280, "height": 1000})
    operation.locator(".curl-command").evaluate("e => e.scrollIntoView({block: 'start'})")
    screenshot(page, "api-docs", full_page=False)
    # The goal-create operation offers one example per criterion type.
    define = page.locator("#operations-Goals-defineGoal")
    define.locator(".opblock-summary").click()
    choices = define.locator(".examples-select select").first.locator("option").all_inner_texts()
    for kind in ("count", "sum", "distinct", "all_of", "streak", "sequence", "all", "any", "goal"):
        assert any(choice.startswith(f"{kind}:") for choice in choices), (kind, choices)
