"""The Progress and Assignments pages in a real browser: look a user up, assign a to-do goal."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from admin_support import ADMIN
from browser_support import screenshot
from playwright.sync_api import expect

from flask_gamify import Gamify

pytestmark = pytest.mark.browser

#: "Log in, then read articles A, B and C, or comment 5 times within 24 hours."
ONBOARDING = {
    "type": "all",
    "of": [
        {"type": "count", "event": "login", "target": 1},
        {
            "type": "any",
            "of": [
                {
                    "type": "all_of",
                    "event": "article.read",
                    "field": "article_id",
                    "values": ["A", "B", "C"],
                },
                {"type": "count", "event": "comment.posted", "target": 5, "window": "24h"},
            ],
        },
    ],
}


@pytest.fixture
def seeded(admin_app: Any, gamify: Gamify) -> Gamify:
    gamify.define_goal("onboarding", name="Onboarding", criteria=ONBOARDING, points=10)
    gamify.define_goal(
        "guide",
        name="Read the guide",
        criteria={"type": "count", "event": "guide.read", "target": 1},
        assigned_only=True,
        points=5,
    )
    gamify.define_goal(
        "first-login", name="First login", criteria={"type": "count", "event": "login", "target": 1}
    )
    gamify.track("login", "ada")
    gamify.track("article.read", "ada", attributes={"article_id": "A"})
    gamify.track("comment.posted", "ada", attributes={"text": "Nice article! " * 40, "post": 7})
    gamify.track(
        "profile.updated",
        "ada",
        attributes={"fields": {f"setting_{n}": "a-rather-long-value-" * 3 for n in range(12)}},
    )
    return gamify


def test_look_a_user_up_and_see_what_is_missing(
    admin_page: Any, live_admin: str, seeded: Gamify
) -> None:
    admin_page.goto(f"{live_admin}{ADMIN}/gamify_progress/")
    admin_page.get_by_role("link", name="ada").click()  # recently active
    expect(admin_page.locator(".gamify-entity-title")).to_contain_text("ada")
    admin_page.goto(f"{live_admin}{ADMIN}/gamify_progress/")
    admin_page.get_by_label("Entity id").fill("ada")
    admin_page.get_by_role("button", name="Look up").click()

    onboarding = admin_page.locator('.gamify-goal[data-goal="onboarding"]')
    expect(onboarding).to_have_attribute("data-state", "in progress")
    expect(onboarding.locator(".gamify-tree-root > .gamify-node")).to_have_count(2)
    nested = onboarding.locator('.gamify-node[data-type="any"]')
    expect(nested).to_contain_text("None of the 2 parts is done yet; any one of them is enough.")
    expect(nested).to_contain_text("Not seen yet: 'B', 'C'.")
    expect(nested).to_contain_text("4 more needed.")
    expect(admin_page.locator('.gamify-goal[data-goal="first-login"]')).to_have_attribute(
        "data-state", "completed"
    )
    expect(admin_page.locator("#awards")).to_contain_text("First login")
    expect(admin_page.locator("#events tbody tr")).to_have_count(4)
    screenshot(admin_page, "admin-progress")

    # A phone: nothing wider than the screen, long attributes included.
    admin_page.set_viewport_size({"width": 390, "height": 844})
    admin_page.reload()
    expect(onboarding).to_be_visible()
    assert admin_page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(admin_page, "admin-progress-narrow")


def test_assign_a_to_do_goal_and_see_it_completed(
    admin_page: Any, live_admin: str, seeded: Gamify
) -> None:
    admin_page.goto(f"{live_admin}{ADMIN}/gamify_assignments/")
    expect(admin_page.locator(".gamify-empty")).to_contain_text("Nothing assigned yet.")
    admin_page.get_by_role("link", name="Assign a to-do goal…").click()
    admin_page.get_by_label("To-do goal").select_option("guide")
    admin_page.get_by_label("Assignees").fill("ada\nbob")
    admin_page.locator("#due_at").fill("2099-12-31T17:00")
    admin_page.get_by_role("button", name="Assign").click()

    report = admin_page.locator("#gamify-assign-report")
    expect(report.locator('tr[data-outcome="assigned"]')).to_have_count(2)
    expect(report).to_contain_text("2 assigned")
    screenshot(admin_page, "admin-assign-form")

    # Assigning again says so, honestly.
    admin_page.get_by_label("Assignees").fill("bob")
    admin_page.get_by_role("button", name="Assign").click()
    expect(report.locator('tr[data-assignee="bob"]')).to_have_attribute(
        "data-outcome", "already assigned"
    )

    seeded.track("guide.read", "ada")
    # One more, assigned by a script with a due date already passed: overdue.
    seeded.assign(
        "guide", assignee="carl", assigned_by="alice", due_at=datetime.now(UTC) - timedelta(days=2)
    )
    admin_page.get_by_role("link", name="← All assignments").click()
    rows = admin_page.locator("#gamify-assignments tbody tr")
    expect(rows).to_have_count(3)
    expect(admin_page.locator('tr[data-assignee="carl"]')).to_have_class(
        re.compile("gamify-overdue")
    )
    ada = admin_page.locator('#gamify-assignments tr[data-assignee="ada"]')
    expect(ada).to_have_attribute("data-status", "completed")
    expect(ada).to_contain_text("staff")  # who assigned it
    expect(admin_page.locator('tr[data-assignee="bob"]')).to_have_attribute("data-status", "open")
    admin_page.get_by_role("link", name="completed 1").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("ada")
    admin_page.get_by_role("link", name="all 3").click()
    expect(rows).to_have_count(3)
    screenshot(admin_page, "admin-assignments")

    # The assigner's view on the Progress page: given by staff, and a notification.
    admin_page.locator('#gamify-assignments tr[data-assignee="ada"] a', has_text="staff").click()
    expect(admin_page.locator("#assignments")).to_contain_text("Given by staff")
    expect(admin_page.locator("#notifications")).to_contain_text("assignment-completed")

    admin_page.set_viewport_size({"width": 390, "height": 844})
    admin_page.goto(f"{live_admin}{ADMIN}/gamify_assignments/")
    expect(rows).to_have_count(3)
    assert admin_page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(admin_page, "admin-assignments-narrow")
