"""The criteria builder in a real browser: build goals without typing JSON, preview, save."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from admin_support import ADMIN
from browser_support import screenshot
from flask import Flask
from playwright.sync_api import expect

from flask_gamify import Gamify
from flask_gamify.models import Goal

pytestmark = pytest.mark.browser

READER = {
    "type": "all_of",
    "event": "article.read",
    "field": "article_id",
    "values": ["A", "B", "C"],
}
TALKER = {
    "type": "any",
    "of": [
        {"type": "count", "event": "comment.posted", "target": 5, "window": "24h"},
        {"type": "streak", "event": "login", "target": 3},
    ],
}


@pytest.fixture
def readers(admin_app: Flask, gamify: Gamify) -> None:
    """ann and bea read articles A, B and C; cy read only A and B."""
    for user, articles in {"ann": "ABC", "bea": "CBA", "cy": "AB"}.items():
        for article in articles:
            gamify.track("article.read", user, attributes={"article_id": article})
    gamify.track("comment.posted", "ann", attributes={"thread": 7})
    gamify.track("login", "bea")


def open_create_form(page: Any, live_admin: str) -> Any:
    page.goto(f"{live_admin}{ADMIN}/gamify_goals/new/")
    builder = page.locator('[data-role="gamify-criteria"]')
    expect(builder.locator(".gc-root .gc-node").first).to_be_visible()
    return builder


def raw_json(page: Any) -> Any:
    return json.loads(page.locator('textarea[name="criteria"]').input_value())


def click_save(page: Any) -> None:
    """Click Save on a long form at phone width.

    The field typed in last loses its focus first: at a 390 px viewport, Chromium scrolls
    a focused input far above back into view as the mouse goes down on the button, and
    the click then lands elsewhere. Centred too: Chromium also scrolls a button that pokes
    out of the viewport by a fraction of a pixel.
    """
    page.evaluate("document.activeElement && document.activeElement.blur()")
    save = page.get_by_role("button", name="Save", exact=True)
    save.evaluate("button => button.scrollIntoView({block: 'center'})")
    save.click()


def node(builder: Any, path: str) -> Any:
    return builder.locator(f'.gc-node[data-path="{path}"]')


def field(builder: Any, path: str) -> Any:
    return builder.locator(f'.gc-field[data-path="{path}"]')


def test_build_read_articles_a_b_and_c_preview_and_save(
    admin_page: Any, live_admin: str, readers: None, gamify: Gamify
) -> None:
    page = admin_page
    builder = open_create_form(page, live_admin)
    page.fill("#key", "reader")
    page.fill("#name", "Avid reader")
    node(builder, "criteria").locator(".gc-type").select_option("all_of")
    field(builder, "criteria.event").locator("input").fill("article.read")
    field(builder, "criteria.field").locator("input").fill("article_id")
    values = field(builder, "criteria.values")
    # The event log's values are offered: pick them without typing.
    for article in "ABC":
        values.get_by_role("button", name=f"Add {article}").click()
    expect(values.locator(".gc-chip")).to_have_count(3)
    expect(builder.locator(".gc-summary")).to_contain_text(
        "“article.read” happens for each “article_id” of A, B and C"
    )
    expect(builder.locator(".gc-status")).to_contain_text("The server accepts these criteria")
    screenshot(page, "admin-builder-reader")

    builder.get_by_role("tab", name="JSON").click()
    expect(page.locator('textarea[name="criteria"]')).to_be_visible()
    assert raw_json(page) == READER

    preview = page.locator('[data-role="gamify-preview"]')
    preview.get_by_role("button", name="Run on the event log").click()
    expect(preview.locator(".gamify-preview-completed .gamify-preview-number")).to_have_text("2")
    expect(preview.locator(".gamify-preview-entities .gamify-preview-number")).to_have_text("3")
    expect(preview.locator(".gamify-preview-scanned")).to_contain_text("8 events read")
    bars = preview.locator(".gamify-bars tr")
    expect(bars.filter(has_text="100 % (complete)").locator(".gamify-bar-count")).to_have_text("2")
    expect(bars.filter(has_text="60\u201369 %").locator(".gamify-bar-count")).to_have_text("1")
    cy = preview.locator("tr.gamify-preview-entity", has_text="cy")
    link = cy.get_by_role("link", name="cy")
    assert re.search(r"[?&]entity=cy(&|$)", link.get_attribute("href") or "")
    assert "entity_type=user" in (link.get_attribute("href") or "")
    cy.get_by_role("button", name="Show progress").click()
    expect(preview.locator(".gamify-preview-tree-row:visible")).to_contain_text("Missing: C")
    screenshot(page, "admin-preview")

    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".alert-success")).to_be_visible()
    saved = gamify.goal("reader")
    assert saved.criteria == READER
    assert saved.status == "draft"


def test_build_comments_within_a_day_or_a_login_streak(
    admin_page: Any, live_admin: str, readers: None, gamify: Gamify
) -> None:
    page = admin_page
    page.set_viewport_size({"width": 390, "height": 900})
    builder = open_create_form(page, live_admin)
    page.fill("#key", "talker")
    page.fill("#name", "Talker")
    node(builder, "criteria").locator(".gc-type").select_option("any")
    first = node(builder, "criteria.of[0]")
    expect(first).to_be_visible()
    field(builder, "criteria.of[0].event").locator("input").fill("comment.posted")
    field(builder, "criteria.of[0].target").locator("input").fill("5")
    window = field(builder, "criteria.of[0].window")
    window.locator(".gc-window-amount").fill("24")
    window.locator(".gc-window-unit").select_option("h")
    builder.get_by_role("button", name="+ Add a condition").click()
    node(builder, "criteria.of[1]").locator(".gc-type").select_option("streak")
    field(builder, "criteria.of[1].event").locator("input").fill("login")
    field(builder, "criteria.of[1].target").locator("input").fill("3")
    expect(field(builder, "criteria.of[1].period").locator("select")).to_have_value("day")
    expect(builder.locator(".gc-summary")).to_contain_text(
        "any one of: (1) “comment.posted” happens 5 times within 24 hours;"
        " (2) “login” happens 3 days in a row"
    )
    expect(builder.locator(".gc-status")).to_contain_text("The server accepts these criteria")
    assert raw_json(page) == TALKER
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide at a 390px viewport"
    screenshot(page, "admin-builder-nested")
    click_save(page)
    expect(page.locator(".alert-success")).to_be_visible()
    assert gamify.goal("talker").criteria == TALKER


def test_server_errors_show_at_the_field_and_json_edits_drive_the_builder(
    admin_page: Any, live_admin: str, readers: None
) -> None:
    page = admin_page
    builder = open_create_form(page, live_admin)
    event = field(builder, "criteria.event")
    event.locator("input").fill("comment.posted")
    target = field(builder, "criteria.target")
    target.locator("input").fill("0")
    expect(target.locator(".gc-error")).to_have_text("Must be a positive integer.")
    expect(target.locator("input")).to_have_class(re.compile(r"\bis-invalid\b"))
    target.locator("input").fill("-1")
    expect(target.locator(".gc-error")).to_have_text("Must be a positive integer.")
    expect(builder.locator(".gc-status")).to_contain_text("The server found a problem")
    expect(target.locator(".gc-error")).to_have_text("Must be a positive integer.")
    expect(builder.locator(".gc-problems")).to_have_text("1 problem")
    screenshot(page, "admin-builder-error")
    target.locator("input").fill("2")
    expect(target.locator(".gc-error")).to_have_count(0)
    expect(builder.locator(".gc-status")).to_contain_text("The server accepts these criteria")

    # Edit the raw JSON: the builder follows once the text is valid JSON again.
    builder.get_by_role("tab", name="JSON").click()
    textarea = page.locator('textarea[name="criteria"]')
    textarea.fill('{"type": "streak", "event": "login", "target": 4, "period": "week"')
    expect(builder.locator(".gc-json-error")).to_contain_text("Not valid JSON yet")
    textarea.fill('{"type": "streak", "event": "login", "target": 4, "period": "week"}')
    expect(builder.locator(".gc-json-error")).to_have_count(0)
    builder.get_by_role("tab", name="Builder").click()
    expect(node(builder, "criteria").locator(".gc-type")).to_have_value("streak")
    expect(field(builder, "criteria.event").locator("input")).to_have_value("login")
    expect(field(builder, "criteria.target").locator("input")).to_have_value("4")
    expect(field(builder, "criteria.period").locator("select")).to_have_value("week")
    # A where filter typed as JSON becomes a row of the builder, with its operator.
    builder.get_by_role("tab", name="JSON").click()
    textarea.fill(
        '{"type": "count", "event": "quiz.passed", "target": 2,'
        ' "where": {"score": {"gte": 80}, "lang": {"in": ["en", "fr"]}}}'
    )
    builder.get_by_role("tab", name="Builder").click()
    rows = field(builder, "criteria.where").locator(".gc-where-row")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator(".gc-where-operator")).to_have_value("gte")
    expect(rows.nth(0).locator(".gc-where-value")).to_have_value("80")
    expect(rows.nth(1).locator(".gc-where-operator")).to_have_value("in")
    expect(rows.nth(1).locator(".gc-where-value")).to_have_value("en, fr")
    # ... and editing the row writes the JSON back.
    rows.nth(0).locator(".gc-where-operator").select_option("lt")
    assert raw_json(page)["where"] == {"score": {"lt": 80}, "lang": {"in": ["en", "fr"]}}


def test_labels_of_a_condition_its_values_and_steps_round_trip(
    admin_page: Any, live_admin: str, readers: None, gamify: Gamify, admin_app: Flask
) -> None:
    page = admin_page
    page.set_viewport_size({"width": 390, "height": 900})
    builder = open_create_form(page, live_admin)
    page.fill("#key", "series")
    page.fill("#name", "Series")
    node(builder, "criteria").locator(".gc-type").select_option("all_of")
    field(builder, "criteria.event").locator("input").fill("article.read")
    field(builder, "criteria.field").locator("input").fill("article_id")
    values = field(builder, "criteria.values")
    for article in "AB":
        values.get_by_role("button", name=f"Add {article}").click()
    field(builder, "criteria.label").locator("input").fill("Read the series")
    labels = builder.locator('.gc-value-labels[data-path="criteria.labels"]')
    expect(labels.locator("input")).to_have_count(2)
    labels.get_by_label("A", exact=True).fill("Getting started")
    expect(builder.locator(".gc-status")).to_contain_text("The server accepts these criteria")
    expect(builder.locator(".gc-summary")).to_contain_text("Complete when “Read the series”.")
    assert raw_json(page) == {
        **READER,
        "values": ["A", "B"],
        "label": "Read the series",
        "labels": {"A": "Getting started"},
    }
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide at a 390px viewport"
    labels.evaluate("field => field.scrollIntoView({block: 'center'})")
    screenshot(page, "admin-builder-labels", full_page=False)
    # Removing a value removes its label (the server refuses labels of unlisted values).
    values.get_by_role("button", name="Remove A").click()
    expect(labels.locator("input")).to_have_count(1)
    assert "labels" not in raw_json(page)
    values.get_by_role("button", name="Add A").click()
    labels.get_by_label("A", exact=True).fill("Getting started")
    click_save(page)
    expect(page.locator(".alert-success")).to_be_visible()
    assert gamify.goal("series").criteria["labels"] == {"A": "Getting started"}

    # A goal defined elsewhere, with step labels: the editor shows them, and keeps them.
    steps = {
        "type": "sequence",
        "label": "Buy something",
        "steps": [{"event": "cart.add", "label": "Fill the cart"}, {"event": "checkout"}],
    }
    gamify.define_goal("buyer", name="Buyer", criteria=steps, status="draft")
    with admin_app.extensions["gamify"].transaction() as session:
        buyer = session.query(Goal.id).filter(Goal.key == "buyer").scalar()
    page.goto(f"{live_admin}{ADMIN}/gamify_goals/edit/?id={buyer}")
    builder = page.locator('[data-role="gamify-criteria"]')
    expect(field(builder, "criteria.label").locator("input")).to_have_value("Buy something")
    step_label = field(builder, "criteria.steps[0].label").locator("input")
    expect(step_label).to_have_value("Fill the cart")
    field(builder, "criteria.steps[1].label").locator("input").fill("Pay")
    expect(builder.locator(".gc-status")).to_contain_text("The server accepts these criteria")
    click_save(page)
    expect(page.locator(".alert-success")).to_be_visible()
    assert gamify.goal("buyer").criteria == {
        **steps,
        "steps": [
            {"event": "cart.add", "label": "Fill the cart"},
            {"event": "checkout", "label": "Pay"},
        ],
    }
