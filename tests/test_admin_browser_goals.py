"""The Goals view in a real browser: create a draft, make it active with history counted,
edit the live goal after seeing what will happen, read the version history."""

from __future__ import annotations

import json
from typing import Any

import pytest
from admin_support import ADMIN
from browser_support import screenshot
from flask import Flask
from playwright.sync_api import expect

from flask_gamify import Gamify

pytestmark = pytest.mark.browser

GOALS = ADMIN + "/gamify_goals"
THREE_LOGINS = {"type": "count", "event": "login", "target": 3}


def gamify_of(app: Flask) -> Gamify:
    return app.extensions["gamify"].extension  # type: ignore[no-any-return]


def seed(app: Flask) -> None:
    """History in the event log: ann and bob logged in 3 times, cid twice."""
    gamify = gamify_of(app)
    for entity, count in (("ann", 3), ("bob", 4), ("cid", 2)):
        for _ in range(count):
            gamify.track("login", entity)


def test_the_goals_list(admin_app: Flask, admin_page: Any, live_admin: str) -> None:
    gamify = gamify_of(admin_app)
    gamify.define_goal(
        "first-login",
        name="First login",
        criteria={**THREE_LOGINS, "target": 1},
        points=5,
        icon="star",
        owner="alice",
    )
    gamify.define_goal("regular", name="Regular", criteria=THREE_LOGINS, points=20, icon="medal")
    gamify.define_goal(
        "night-owl",
        name="Night owl",
        criteria={"type": "count", "event": "login.night", "target": 5},
        icon="flame",
        status="draft",
        owner="bob",
        hidden=True,
    )
    seed(admin_app)
    admin_page.goto(f"{live_admin}{GOALS}/")
    row = admin_page.locator("tr", has_text="first-login")
    expect(row.locator(".col-completion")).to_have_text("100%")
    expect(admin_page.locator("tr", has_text="regular").locator(".col-completion")).to_have_text(
        "67%"
    )
    expect(admin_page.locator("tr", has_text="night-owl").locator(".gamify-status")).to_have_text(
        "draft"
    )
    images = admin_page.locator(".col-name img.gamify-icon")
    expect(images).to_have_count(3)
    assert admin_page.evaluate(
        "Array.from(document.querySelectorAll('.col-name img')).every(i => i.naturalWidth > 0)"
    ), "every icon loaded"
    screenshot(admin_page, "admin-goals-list")


def test_create_activate_edit_and_read_the_history(
    admin_app: Flask, admin_page: Any, live_admin: str
) -> None:
    seed(admin_app)
    page = admin_page
    page.goto(f"{live_admin}{GOALS}/new/")
    page.fill("#key", "regular")
    page.fill("#name", "Regular visitor")
    page.fill("#description", "Logged in three times.")
    page.fill("#points", "15")
    card = page.locator("#gamify-badge-card")
    expect(card.locator(".gamify-badge-name")).to_have_text("Regular visitor")
    expect(card.locator(".gamify-badge-points")).to_have_text("15 points")
    page.locator('.gamify-icon-choice[data-icon="trophy"]').click()
    expect(page.locator("#icon")).to_have_value("trophy")
    expect(card.locator("img.gamify-badge-icon")).to_have_attribute(
        "src", "/gamify/api/icons/trophy.svg"
    )
    page.click('[data-gc-tab="json"]')  # the criteria as JSON, beside the builder
    page.fill("#criteria", json.dumps(THREE_LOGINS, indent=2))
    page.evaluate("window.scrollTo(0, 0)")  # the sticky badge card beside the top of the form
    screenshot(page, "admin-goal-edit")
    page.locator('input[type="submit"][value="Save"]').click()

    # The draft's page.
    expect(page.locator(".gamify-goal-title .gamify-status")).to_have_text("draft")
    assert gamify_of(admin_app).goal("regular").status == "draft"
    assert not gamify_of(admin_app).has_completed("ann", "regular")

    # Make active, counting history, with notifications. (The button opens its dialog
    # once the page's scripts ran: on a loaded machine they may run after it shows.)
    page.wait_for_load_state("load")
    page.locator("#gamify-activate-button").click()
    modal = page.locator("#gamify-activate-modal")
    expect(modal).to_be_visible()
    expect(modal.locator("#gamify-count-history")).to_be_checked()
    modal.locator("#gamify-activate-confirm").click()
    expect(modal.locator(".gamify-activate-finished")).to_have_text("This goal now has 2 awards.")
    expect(modal.locator("#gamify-backfill-bar")).to_have_attribute("aria-valuenow", "100")
    expect(modal.locator(".gamify-activate-message")).to_contain_text("2 awards given")
    expect(page.locator(".gamify-draft-note")).to_be_hidden()  # the page behind says so too
    screenshot(page, "admin-goal-activate", full_page=False)
    assert gamify_of(admin_app).has_completed("ann", "regular")
    assert [n.kind for n in gamify_of(admin_app).notifications("bob")] == ["goal-completed"]
    modal.locator("#gamify-activate-done").click()
    expect(page.locator(".gamify-goal-title .gamify-status")).to_have_text("active")
    expect(page.locator("#gamify-awards-count")).to_have_text("2")

    # Edit the live goal: the impact shows before the save.
    page.goto(page.url.replace("/details/", "/edit/"))
    page.click('[data-gc-tab="json"]')
    page.fill("#criteria", json.dumps({**THREE_LOGINS, "target": 2}, indent=2))
    page.fill("#name", "Regular")
    page.locator('input[type="submit"][value="Save"]').click()
    impact = page.locator("#gamify-impact-modal")
    expect(impact).to_be_visible()
    expect(impact.locator(".gamify-impact-messages")).to_contain_text(
        "Progress will be rebuilt from the event log (criteria changed): under the new"
        " definition 3 entities have progress and 3 would complete."
    )
    expect(impact.locator(".gamify-impact-messages")).to_contain_text(
        "The 2 awards already given (to 2 entities) stay"
    )
    assert gamify_of(admin_app).goal("regular").name == "Regular visitor", "not saved yet"
    impact.locator("#gamify-impact-confirm").click()
    expect(page.locator(".gamify-goal-title")).to_contain_text("Regular")
    expect(page.locator("#gamify-awards-count")).to_have_text("3")
    assert gamify_of(admin_app).goal("regular").criteria["target"] == 2

    # The version history.
    page.locator("a", has_text="Version history").click()
    versions = page.locator(".gamify-version")
    expect(versions).to_have_count(3)
    newest = versions.first
    expect(newest).to_contain_text("Version 3")
    expect(newest).to_contain_text("by staff")
    expect(newest.locator(".gamify-diff-removed")).to_contain_text('"target": 3')
    expect(newest.locator(".gamify-diff-added")).to_contain_text('"target": 2')
    expect(newest.locator(".gamify-change-before")).to_have_text("Regular visitor")
    expect(versions.nth(1).locator('[data-field="status"]')).to_contain_text("draft")
    screenshot(page, "admin-goal-versions")
