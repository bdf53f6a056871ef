"""The Webhooks page in a real browser, delivering to a real loopback receiver that
verifies every signature with the ``standardwebhooks`` reference package."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from admin_support import ADMIN, install_admin
from browser_support import LiveServer, PageProblems, screenshot
from conftest import db
from flask import Flask
from playwright.sync_api import expect
from webhook_receiver import Receiver

from flask_gamify import Gamify

pytestmark = pytest.mark.browser

WEBHOOKS = ADMIN + "/gamify_webhooks/"


@pytest.fixture
def loopback_admin(database_url: str) -> Iterator[tuple[str, Gamify]]:
    """The dashboard on an app whose webhooks may reach loopback receivers, served."""
    app = Flask("webhooks_admin_test")
    app.config.update(
        TESTING=True,
        SECRET_KEY="test-secret",
        SQLALCHEMY_DATABASE_URI=database_url,
        GAMIFY_WEBHOOK_ALLOW_PRIVATE=True,
        GAMIFY_WEBHOOK_RETRY_DELAYS=[],  # one attempt: a failure is dead at once
        GAMIFY_WEBHOOK_TIMEOUT=5,
    )
    db.init_app(app)
    gamify = Gamify(app, db=db)
    install_admin(app)
    with app.app_context():
        gamify.drop_all()
        gamify.create_all()
        with LiveServer(app) as server:
            yield server.url, gamify
        gamify.drop_all()
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


@pytest.fixture
def staff_page(page: Any, loopback_admin: tuple[str, Gamify]) -> Iterator[Any]:
    problems = PageProblems(page)
    page.set_default_timeout(15_000)
    page.goto(f"{loopback_admin[0]}/_test/login/staff")
    yield page
    problems.check()


def test_an_endpoint_is_added_tested_and_its_deliveries_retried(
    staff_page: Any, loopback_admin: tuple[str, Gamify], receiver: Receiver
) -> None:
    page = staff_page
    base, gamify = loopback_admin
    page.goto(f"{base}{WEBHOOKS}")
    expect(page.get_by_text("No webhook endpoints yet.")).to_be_visible()

    # A mistake first: the message is at the URL, and what was typed stays.
    page.get_by_label("URL").fill("ftp://crm.example.com/hooks")
    page.get_by_role("button", name="Add the endpoint").click()
    problem = page.locator("#webhook-url ~ .invalid-feedback")
    expect(problem).to_contain_text("scheme must be http or https")
    expect(page.get_by_label("URL")).to_have_value("ftp://crm.example.com/hooks")

    page.get_by_label("URL").fill(receiver.url)
    page.get_by_label("award.created").check()
    page.get_by_label("Description (optional)").fill("CRM: badges and finished to-do lists")
    page.get_by_role("button", name="Add the endpoint").click()
    secret_box = page.locator("#webhook-secret-value")
    expect(secret_box).to_be_visible()
    secret = secret_box.input_value()
    assert secret.startswith("whsec_")
    expect(page.locator("#webhook-secret")).to_contain_text("shown only this once")
    # Copy selects the secret (headless Chromium leaves clipboard writes pending, so
    # the selection, which Ctrl+C copies anyway, is what can be checked here). The
    # button works once the page's scripts have run, at its load event.
    page.wait_for_load_state("load")
    page.locator("#webhook-secret").get_by_role("button", name="Copy").click()
    page.wait_for_function("(secret) => document.getSelection().toString() === secret", arg=secret)
    screenshot(page, "admin-webhook-secret")
    receiver.secrets.append(secret)
    [endpoint] = gamify.webhooks()
    assert endpoint.events == ("*", "award.created")

    page.goto(f"{base}{WEBHOOKS}")  # shown once: not on the next visit
    expect(page.locator("#webhook-secret-value")).to_have_count(0)
    assert secret not in page.content()

    # A test event, delivered inline (no Redis) to the receiver.
    card = page.locator(f'[data-webhook="{endpoint.id}"]')
    card.get_by_role("button", name="Send a test event").click()
    expect(page.locator(".alert-success", has_text="Queued a webhook.test event")).to_be_visible()
    expect(page.locator('tr[data-status="pending"]')).to_have_count(1)
    assert gamify.deliver_webhooks()["delivered"] == 1
    page.reload()
    delivered = page.locator('tr[data-status="delivered"]')
    expect(delivered).to_have_count(1)
    expect(delivered).to_contain_text("HTTP 200")
    [received] = receiver.accepted()
    assert received.verified_with == [secret]
    assert received.payload["type"] == "webhook.test"

    # The receiver fails: the delivery is dead (one attempt), then retried by hand.
    receiver.status = 503
    page.goto(f"{base}{WEBHOOKS}")
    card.get_by_role("button", name="Send a test event").click()
    gamify.deliver_webhooks()
    page.reload()
    dead = page.locator('tr[data-status="dead"]')
    expect(dead).to_have_count(1)
    expect(dead).to_contain_text("HTTP 503")
    expect(dead).to_contain_text("The receiver answered 503")
    expect(page.get_by_role("button", name="Retry all dead (1)")).to_be_visible()
    screenshot(page, "admin-webhook-deliveries")

    receiver.status = 200
    dead.get_by_role("button", name="Retry").click()
    expect(page.locator(".alert-success", has_text="will be sent again")).to_be_visible()
    assert gamify.deliver_webhooks()["delivered"] == 1
    page.reload()
    expect(page.locator('tr[data-status="delivered"]')).to_have_count(2)
    assert len({item.event_id for item in receiver.received}) == 2

    # The list: counts by status; disable asks first, then shows why.
    page.goto(f"{base}{WEBHOOKS}")
    expect(card.locator('[data-count="delivered"]')).to_have_text("2")
    expect(card.locator('[data-count="dead"]')).to_have_text("0")
    screenshot(page, "admin-webhooks")
    page.once("dialog", lambda dialog: dialog.dismiss())
    card.get_by_role("button", name="Disable").click()
    expect(card.locator("[data-webhook-status]")).to_have_text("enabled")
    page.once("dialog", lambda dialog: dialog.accept())
    card.get_by_role("button", name="Disable").click()
    expect(card.locator("[data-webhook-status]")).to_have_text("disabled")
    expect(card).to_contain_text("Disabled by an operator on the dashboard.")
    assert not gamify.webhook(endpoint.id).enabled
    card.get_by_role("button", name="Enable").click()
    expect(card.locator("[data-webhook-status]")).to_have_text("enabled")

    # Rotating shows the new secret once, and says how long the old one signs.
    page.once("dialog", lambda dialog: dialog.accept())
    card.get_by_role("button", name="Rotate secret").click()
    expect(page.locator("#webhook-secret")).to_contain_text("previous secret keeps signing")
    assert page.locator("#webhook-secret-value").input_value() not in ("", secret)

    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"{base}{WEBHOOKS}")
    overflow = page.evaluate("() => document.documentElement.scrollWidth")
    assert overflow <= 390, f"the page is {overflow} px wide at 390 px"
    screenshot(page, "admin-webhooks-narrow")
    page.goto(f"{base}{WEBHOOKS}{endpoint.id}/")
    screenshot(page, "admin-webhook-deliveries-narrow")

    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{base}{WEBHOOKS}")
    page.once("dialog", lambda dialog: dialog.accept())
    card.get_by_role("button", name="Remove").click()
    removed = page.locator(".alert-success", has_text=f"Removed webhook {endpoint.id}")
    expect(removed).to_be_visible()
    expect(page.get_by_text("No webhook endpoints yet.")).to_be_visible()
    assert gamify.webhooks() == []
