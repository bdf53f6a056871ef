"""The Awards page in a real browser: revoke with a reason, award by hand, bulk award."""

from __future__ import annotations

from typing import Any

import pytest
from admin_support import ADMIN
from browser_support import screenshot
from playwright.sync_api import expect

from flask_gamify import Gamify

pytestmark = pytest.mark.browser

READ = {"type": "count", "event": "article.read", "target": 2}


@pytest.fixture
def seeded(gamify: Gamify) -> Gamify:
    gamify.define_goal("reader", name="Reader", criteria=READ, points=10)
    gamify.define_goal("helper", name="Helper", criteria=READ, points=5, repeatable=True)
    for entity in ("ann", "bea", "cy"):
        for _ in range(2):
            gamify.track("article.read", entity)
    gamify.award("bea", "helper", reason="answered questions", changed_by="staff")
    return gamify


def test_revoke_an_award_with_a_reason(admin_page: Any, live_admin: str, seeded: Gamify) -> None:
    page = admin_page
    page.goto(f"{live_admin}{ADMIN}/gamify_awards/?goal=reader")
    rows = page.locator("table.gamify-earners tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("tr[data-entity=ann]")).to_contain_text("earned")
    screenshot(page, "admin-awards")

    page.locator("tr[data-entity=ann] button.gamify-revoke").click()
    dialog = page.locator("#revoke-modal")
    expect(dialog).to_be_visible()
    expect(dialog.locator(".gamify-revoke-summary")).to_contain_text("Reader")
    expect(dialog.locator(".gamify-revoke-summary")).to_contain_text("ann")
    expect(dialog.locator("textarea[name=reason]")).to_be_focused()

    # Without a reason the server refuses and the dialog opens again, saying why.
    dialog.get_by_role("button", name="Revoke").click()
    expect(dialog).to_be_visible()
    expect(dialog.locator("[data-field=reason]")).to_contain_text("Say why")
    expect(page.locator("tr[data-entity=ann]")).to_have_count(1)

    dialog.locator("textarea[name=reason]").fill("Spam: read the same article by script")
    screenshot(page, "admin-award-revoke", full_page=False)
    dialog.get_by_role("button", name="Revoke").click()

    expect(page.locator(".alert-success")).to_contain_text("Revoked “Reader” (occurrence 1)")
    expect(page.locator("tr[data-entity=ann]")).to_have_count(0)
    expect(rows).to_have_count(2)
    assert not seeded.has_completed("ann", "reader")

    page.get_by_role("link", name="Audit trail").first.click()
    audit = page.locator("table.gamify-audit tbody tr").first
    expect(audit).to_contain_text("revoked")
    expect(audit).to_contain_text("Spam: read the same article by script")
    expect(audit).to_contain_text("ann")
    expect(audit).to_contain_text("staff")
    screenshot(page, "admin-awards-audit")


def test_award_by_hand(admin_page: Any, live_admin: str, seeded: Gamify) -> None:
    page = admin_page
    page.goto(f"{live_admin}{ADMIN}/gamify_awards/")
    form = page.locator("form.gamify-award-form")
    form.locator("select[name=goal]").select_option("helper")
    form.locator("input[name=entity]").fill("dan")
    form.locator("textarea[name=reason]").fill("Ran the onboarding session")
    form.get_by_role("button", name="Award").click()

    expect(page.locator(".alert-success")).to_contain_text("Awarded “Helper” to user dan")
    expect(page.locator("tr[data-entity=dan]")).to_contain_text("by hand")
    assert seeded.has_completed("dan", "helper")

    # An entity's awards, across goals; its id links to the progress browser.
    page.locator("#search-goal").select_option("")
    page.locator("#search-entity").fill("bea")
    page.get_by_role("button", name="Show").click()
    # Reader and Helper earned, and Helper's second occurrence given by hand.
    expect(page.locator("table.gamify-earners tbody tr")).to_have_count(3)
    link = page.locator("h2 a.gamify-entity")
    progress = f"{ADMIN}/gamify_progress/?entity=bea&entity_type=user"
    expect(link).to_have_attribute("href", progress)


def test_bulk_award_from_a_pasted_list(admin_page: Any, live_admin: str, seeded: Gamify) -> None:
    page = admin_page
    page.goto(f"{live_admin}{ADMIN}/gamify_awards/bulk/")
    expect(page.locator(".gamify-empty")).to_contain_text("Paste entity ids")
    page.locator("#bulk-goal").select_option("reader")
    page.locator("#bulk-entities").fill("dan\neve, ann\nbea\n" + "z" * 300)
    page.locator("#bulk-reason").fill("Launch week readers")
    page.get_by_role("button", name="Award them").click()

    summary = page.locator(".gamify-bulk-summary")
    expect(summary).to_contain_text("2 awarded")
    expect(summary).to_contain_text("2 already had it")
    expect(summary).to_contain_text("1 refused")
    expect(page.locator(".gamify-bulk-report tbody tr")).to_have_count(5)
    expect(page.locator("tr[data-outcome=refused]")).to_contain_text("at most 255 characters")
    screenshot(page, "admin-awards-bulk")
    assert seeded.has_completed("eve", "reader")


def test_the_awards_page_fits_a_phone(admin_page: Any, live_admin: str, seeded: Gamify) -> None:
    page = admin_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_admin}{ADMIN}/gamify_awards/?goal=reader")
    expect(page.locator("table.gamify-earners tbody tr")).to_have_count(3)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow} px wider than a 390 px screen"
    screenshot(page, "admin-awards-phone")
