"""Points in a real browser: adjust and revoke from the progress browser, then rank."""

from __future__ import annotations

from typing import Any

import pytest
from admin_support import ADMIN
from browser_support import screenshot
from playwright.sync_api import expect

from flask_gamify import Gamify

pytestmark = pytest.mark.browser

READ = {"type": "count", "event": "article.read", "target": 1}


@pytest.fixture
def seeded(admin_app: Any, gamify: Gamify) -> Gamify:
    """Ada earned Reader (10) and Helper (5); ann, bea, cy and others have points."""
    gamify.define_levels(
        [
            {"name": "Bronze", "points": 0},
            {"name": "Silver", "points": 50},
            {"name": "Gold", "points": 100},
        ]
    )
    gamify.define_goal("reader", name="Reader", criteria=READ, points=10)
    gamify.define_goal("helper", name="Helper", criteria=READ, points=5)
    gamify.track("article.read", "ada")
    gamify.adjust_points("ada", 2, reason="Welcome gift", category="karma", changed_by="staff")
    for entity, amount in (
        ("ann", 60),
        ("bea", 50),
        ("cy", 30),
        ("dan", 20),
        ("eve", 12),
        ("fay", 8),
        ("gus", 4),
    ):
        gamify.adjust_points(entity, amount, reason="Imported from the old forum")
    return gamify


def test_adjust_and_revoke_then_find_the_rank(
    admin_page: Any, live_admin: str, seeded: Gamify
) -> None:
    page = admin_page
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_admin}{ADMIN}/gamify_progress/?entity=ada")
    points = page.locator("#points")
    expect(points.locator("#gamify-balance")).to_have_text("15")
    expect(points.locator("#gamify-level")).to_contain_text("Level 1 · Bronze")
    expect(points.locator("#gamify-level")).to_contain_text("35 more for Silver (at 50)")

    # A reason is required: the server says so at the field, and nothing changes.
    form = points.locator("form.gamify-adjust-form")
    form.locator("input[name=amount]").fill("40")
    form.get_by_role("button", name="Adjust points").click()
    expect(form.locator("[data-field=reason]")).to_contain_text("Say why the points change")
    expect(points.locator("#gamify-balance")).to_have_text("15")

    # Sent twice (a double click): counted once.
    form.locator("textarea[name=reason]").fill("Won the spring writing contest")
    form.get_by_role("button", name="Adjust points").dblclick()
    expect(page.locator(".alert-success, .alert-info").first).to_contain_text("+40 points")
    expect(points.locator("#gamify-balance")).to_have_text("55")
    first = points.locator("table.gamify-ledger tbody tr").first
    expect(first).to_contain_text("+40")
    expect(first).to_contain_text("Won the spring writing contest")
    expect(first).to_contain_text("staff")
    expect(points.locator("#gamify-level")).to_contain_text("Level 2 · Silver")
    assert [e.amount for e in seeded.points_ledger("ada") if e.kind == "adjustment"] == [40, 2]

    # Revoke Helper with a reason, through the confirmation dialog.
    page.locator("#awards tr[data-goal=helper] button.gamify-revoke").click()
    dialog = page.locator("#revoke-modal")
    expect(dialog).to_be_visible()
    expect(dialog.locator(".gamify-revoke-summary")).to_contain_text("Helper")
    expect(dialog.locator("textarea[name=reason]")).to_be_focused()
    dialog.locator("textarea[name=reason]").fill("Answers copied from another site")
    dialog.get_by_role("button", name="Revoke").click()
    expect(page.locator(".alert-success")).to_contain_text(
        "Revoked “Helper” (occurrence 1) from user ada; 5 points taken back."
    )
    expect(page.locator("#awards tr[data-goal=helper]")).to_have_count(0)
    expect(points.locator("#gamify-balance")).to_have_text("50")
    revoked = points.locator("table.gamify-ledger tbody tr").first
    expect(revoked).to_contain_text("-5")
    expect(revoked).to_contain_text("revoked")
    expect(revoked).to_contain_text("Answers copied from another site")
    # The section with the summary line and the success message above it.
    page.evaluate("window.scrollTo(0, document.getElementById('points').offsetTop - 230)")
    screenshot(page, "admin-progress-points", full_page=False)

    # Leaderboards, from the menu: ada ties with bea at 50 (rank 2, listed by id).
    page.get_by_role("link", name="Leaderboards").click()
    board = page.locator("table.gamify-board")
    expect(board.locator("tbody tr").first).to_contain_text("ann")
    page.locator("#board-find").fill("ada")
    page.get_by_role("button", name="Show").click()
    around = page.locator(".gamify-around")
    expect(around.locator(".card-header")).to_contain_text("ada is #2 with 50 points, tied")
    mine = around.locator("tr.gamify-found")
    expect(mine).to_have_attribute("data-rank", "2")
    expect(mine).to_contain_text("ada")
    ranks = page.locator("table.gamify-board").last.locator("tbody tr")
    expect(ranks).to_have_count(8)
    assert [
        (row.get_attribute("data-rank"), row.get_attribute("data-entity"))
        for row in ranks.all()[:4]
    ] == [("1", "ann"), ("2", "ada"), ("2", "bea"), ("4", "cy")]
    expect(ranks.nth(1).locator(".gamify-tie")).to_have_text("=")
    screenshot(page, "admin-leaderboards")

    # This week's board shows its bounds; each entity links to the progress browser.
    page.locator("#board-period").select_option("week")
    page.get_by_role("button", name="Show").click()
    expect(page.locator(".gamify-board-period")).to_contain_text("This week: ")
    expect(page.locator(".gamify-board-period")).to_contain_text("the end not included")
    page.locator(".gamify-around tr.gamify-found a.gamify-id").click()
    expect(page).to_have_url(
        f"{live_admin}{ADMIN}/gamify_progress/?entity=ada&entity_type=user#points"
    )
    expect(page.locator("#gamify-balance")).to_have_text("50")


def test_points_and_leaderboards_fit_a_phone(
    admin_page: Any, live_admin: str, seeded: Gamify
) -> None:
    page = admin_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_admin}{ADMIN}/gamify_leaderboards/?find=ada")
    expect(page.locator(".gamify-around tr.gamify-found")).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "admin-leaderboards-phone")
    page.goto(f"{live_admin}{ADMIN}/gamify_progress/?entity=ada#points")
    expect(page.locator("#gamify-balance")).to_have_text("15")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "admin-progress-points-phone", full_page=False)
