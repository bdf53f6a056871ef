"""Demo feature 1 in a real browser: bob defines a badge, previews who would earn it,
saves it, and carol, who qualifies already, sees the toast without reloading."""

from __future__ import annotations

from typing import Any

import pytest
import test_demo_browser
from browser_support import screenshot
from playwright.sync_api import expect
from test_demo_browser import _sign_in

pytestmark = pytest.mark.browser

# The demo served on a free port, and a page that fails on JavaScript errors.
live_demo = test_demo_browser.live_demo
demo_page = test_demo_browser.demo_page


def _read_python_articles(page: Any, base: str) -> None:
    for title in ("Article B", "Article C"):  # the demo's two Python articles
        page.goto(f"{base}/")
        page.get_by_role("link", name=title).click()
        expect(page.locator("h1")).to_contain_text(title)


def _fill_python_fan(page: Any, target: str) -> None:
    page.get_by_label("Name").fill("Python fan")
    page.get_by_label("Earned by those who").select_option(label="read an article")
    page.get_by_label("How many").fill(target)
    page.get_by_label("Counted as").select_option(label="different articles")
    page.get_by_label("Only articles in").select_option(label="Python")


@pytest.mark.parametrize("width", [1100, 390])
def test_define_preview_and_save_a_badge(
    demo_page: Any, live_demo: str, browser: Any, width: int
) -> None:
    suffix = "" if width == 1100 else "-mobile"
    # Carol reads the Python articles first, and stays on a page that polls.
    carol_context = browser.new_context()
    carol = carol_context.new_page()
    _sign_in(carol, live_demo, "carol")
    _read_python_articles(carol, live_demo)
    carol.goto(f"{live_demo}/badges")
    toasts = carol.locator("#toasts .toast")
    carol.evaluate("window.stillTheSamePage = true")

    page = demo_page
    page.set_viewport_size({"width": width, "height": 900})
    _sign_in(page, live_demo, "bob")
    page.goto(f"{live_demo}/badges")
    # Bad input first: the message sits by the field, what was typed stays.
    _fill_python_fan(page, "0")
    page.get_by_role("button", name="Save badge").click()
    target_error = page.locator("#target-error")
    expect(target_error).to_have_text("There are 2 articles in Python; type a number from 1 to 2.")
    expect(page.get_by_label("Name")).to_have_value("Python fan")
    expect(page.get_by_label("How many")).to_have_attribute("aria-invalid", "true")
    screenshot(page, f"demo-badge-form-error{suffix}")

    page.get_by_label("How many").fill("2")
    page.get_by_role("button", name="Preview who would earn it").click()
    preview = page.locator("section.preview")
    expect(preview).to_contain_text("Preview: Read 2 different articles in Python.")
    expect(preview).to_contain_text("Would earn it now: carol")
    expect(page.get_by_label("Only articles in")).to_have_value("python")  # kept
    preview.scroll_into_view_if_needed()
    screenshot(page, f"demo-badge-preview{suffix}")

    page.get_by_role("button", name="Save badge").click()
    expect(page.locator(".flash.success")).to_have_text(
        "Badge 'Python fan' saved: 1 user already earned it."
    )
    mine = page.locator(".badge-item.mine")
    expect(mine).to_contain_text("Python fan")
    expect(mine).to_contain_text("yours")
    expect(mine).to_contain_text("earned by 1 user")
    expect(mine.get_by_role("link", name="Edit Python fan")).to_be_visible()
    screenshot(page, f"demo-badges-list{suffix}")

    # Carol's page shows the award as a toast, without a reload.
    expect(toasts.filter(has_text="Badge earned: Python fan (+10 points)")).to_be_visible()
    assert carol.evaluate("window.stillTheSamePage") is True
    # She sees bob's badge, earned, without controls to change it.
    carol.goto(f"{live_demo}/badges")
    theirs = carol.locator(".badge-item", has_text="Python fan")
    expect(theirs).to_contain_text("By bob")
    expect(theirs).to_contain_text("earned ✔")
    expect(theirs.get_by_role("link", name="Edit Python fan")).to_have_count(0)
    expect(theirs.get_by_role("button")).to_have_count(0)
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow == 0
    carol_context.close()


def test_edit_then_archive_a_badge(demo_page: Any, live_demo: str) -> None:
    page = demo_page
    _sign_in(page, live_demo, "bob")
    page.goto(f"{live_demo}/badges")
    page.get_by_label("Name").fill("Лучший читатель")
    page.get_by_label("How many").fill("5")
    page.get_by_label("Time limit").select_option(label="within a week")
    page.get_by_role("button", name="Save badge").click()
    expect(page.locator(".flash.success")).to_contain_text("'Лучший читатель' saved")
    mine = page.locator(".badge-item.mine")
    expect(mine).to_contain_text("Read articles 5 times within a week.")

    mine.get_by_role("link", name="Edit Лучший читатель").click()
    expect(page.locator("h1")).to_have_text("Edit “Лучший читатель”")
    expect(page.get_by_label("How many")).to_have_value("5")
    page.get_by_label("How many").fill("1")
    page.get_by_role("button", name="Preview who would earn it").click()
    expect(page.locator("section.preview")).to_contain_text("Would earn it now: nobody yet")
    screenshot(page, "demo-badge-edit")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(".flash.success")).to_contain_text("updated: 0 users already earned it.")
    expect(mine).to_contain_text("Read articles once within a week.")

    mine.get_by_role("button", name="Archive Лучший читатель").click()
    expect(page.locator(".flash.success")).to_contain_text("archived")
    expect(page.locator(".badge-item.mine")).to_have_count(0)
