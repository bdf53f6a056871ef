"""The demo's to-do lists and unlock rule in a real browser, from sign-in to the toast."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from browser_support import PageProblems, screenshot
from playwright.sync_api import expect
from test_demo_browser import demo_page, live_demo

pytestmark = pytest.mark.browser

__all__ = ["demo_page", "live_demo"]  # fixtures, imported for the tests below

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def second_page(browser: Any) -> Iterator[Any]:
    """A page in a browser context of its own: a second user, signed in at the same time."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems = PageProblems(page)
    yield page
    context.close()
    problems.check()


def _sign_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    # Buttons read "bob", or "alice (author)".
    page.get_by_role("button", name=re.compile(rf"^{username}\b")).click()
    expect(page.locator("nav .me")).to_contain_text(username)


def _day(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def _no_overflow(page: Any) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow == 0, f"{page.url} is {overflow}px wider than the window"


def test_a_todo_list_from_assignment_to_both_toasts(
    demo_page: Any, second_page: Any, live_demo: str
) -> None:
    alice, bob = demo_page, second_page
    _sign_in(alice, live_demo, "alice")
    alice.get_by_role("link", name="To-do lists").click()
    due = date.today() + timedelta(days=7)
    form = alice.locator("form.assign")
    form.get_by_label("Assign to").select_option("bob")
    form.get_by_label("Title").fill("Weekend reading")
    form.get_by_label("Article A: Flask in five minutes").check()
    form.get_by_label("Article D: Testing").check()
    form.get_by_label("Due date").fill(due.isoformat())
    form.get_by_role("button", name="Assign").click()
    expect(alice.locator(".flash.success")).to_have_text(
        f"To-do list 'Weekend reading' assigned to bob, due {_day(due)}."
    )
    card = alice.locator("article.todo", has_text="Weekend reading")
    expect(card.locator("h3")).to_have_text("Weekend reading to bob")
    expect(card).to_contain_text(f"Due {_day(due)}")
    expect(card).to_contain_text("0 of 2 articles read")

    _sign_in(bob, live_demo, "bob")
    bob.get_by_role("link", name="To-do lists").click()
    card = bob.locator("article.todo", has_text="Weekend reading")
    expect(card.locator("h3")).to_have_text("Weekend reading from alice")
    expect(card.locator("li.missing")).to_have_count(2)
    screenshot(bob, "demo-todos")
    bob.set_viewport_size(PHONE)
    _no_overflow(bob)
    screenshot(bob, "demo-todos-mobile")
    bob.set_viewport_size({"width": 1280, "height": 720})
    card.get_by_role("link", name="Article A: Flask in five minutes").click()
    expect(bob.locator("h1")).to_have_text("Article A: Flask in five minutes")
    bob.go_back()
    bob.reload()
    card = bob.locator("article.todo", has_text="Weekend reading")
    expect(card.locator("li.done")).to_have_text(
        ["✔ Article A: Flask in five minutes read"], use_inner_text=True
    )
    expect(card).to_contain_text("1 of 2 articles read")
    card.get_by_role("link", name="Article D: Testing").click()

    # bob is told the list is done, and alice, still on her page, that bob did it.
    bob_toasts = bob.locator("#toasts .toast")
    expect(
        bob_toasts.filter(has_text="To-do list done: Weekend reading (+5 points)")
    ).to_be_visible()
    expect(bob_toasts.filter(has_text="Badge earned: Weekend reading")).to_have_count(0)
    alice_toast = alice.locator("#toasts .toast.assignment-completed")
    expect(alice_toast).to_contain_text("Your to-do list 'Weekend reading' was completed by bob")
    screenshot(alice, "demo-todo-completed-toast", full_page=False)
    alice_toast.get_by_role("link", name="Open").click()
    card = alice.locator("article.todo", has_text="Weekend reading")
    expect(card).to_contain_text(f"Done {_day(date.today())}")
    expect(card.locator("li.done")).to_have_count(2)
    alice.get_by_role("link", name="Notifications").click()
    expect(alice.locator("main, body")).to_contain_text(
        "bob completed the to-do list 'Weekend reading' you assigned."
    )


def test_the_assign_form_on_a_phone_names_the_field_to_fix(demo_page: Any, live_demo: str) -> None:
    page = demo_page
    page.set_viewport_size(PHONE)
    _sign_in(page, live_demo, "alice")
    page.goto(f"{live_demo}/todos")
    form = page.locator("form.assign")
    form.get_by_label("Article B: Application factories").check()
    form.get_by_role("button", name="Assign").click()
    error = page.locator("#title-error")
    expect(error).to_have_text("Give the new list a title (letters or digits, in any language).")
    expect(page.get_by_label("Title")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Article B: Application factories")).to_be_checked()
    _no_overflow(page)
    error.scroll_into_view_if_needed()
    screenshot(page, "demo-todos-error-mobile", full_page=False)


def test_reading_the_missing_articles_opens_premium(demo_page: Any, live_demo: str) -> None:
    page = demo_page
    _sign_in(page, live_demo, "bob")
    page.locator("nav").get_by_role("link", name="Premium").click()
    expect(page.locator("h1")).to_have_text("Premium is locked")
    expect(page.locator(".summary")).to_contain_text("0 of 3 articles read")
    items = page.locator("ul.checklist li")
    expect(items).to_have_count(3)
    page.get_by_role("link", name="Article B: Application factories").click()
    page.locator("nav").get_by_role("link", name="Premium").click()
    expect(page.locator(".summary")).to_contain_text("1 of 3 articles read")
    expect(page.locator("ul.checklist li.done")).to_have_text(
        ["✔ Article B: Application factories read"], use_inner_text=True
    )
    screenshot(page, "demo-premium-locked")
    page.set_viewport_size(PHONE)
    _no_overflow(page)
    screenshot(page, "demo-premium-locked-mobile")
    page.set_viewport_size({"width": 1280, "height": 720})

    for title in ("Article A: Flask in five minutes", "Article C: Extensions"):
        page.locator("nav").get_by_role("link", name="Premium").click()
        page.locator("ul.checklist li.missing").get_by_role("link", name=title).click()
        expect(page.locator("h1")).to_have_text(title)
    toast = page.locator("#toasts .toast", has_text="Unlocked the premium page")
    expect(toast).to_contain_text("Unlocked the premium page: Premium access (+25 points)")
    toast.get_by_role("link", name="Open").click()
    expect(page.locator("h1")).to_have_text("Premium content")
    expect(page.locator("ul.checklist li.done")).to_have_count(3)
    screenshot(page, "demo-premium")
