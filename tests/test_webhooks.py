"""Webhooks without Redis: registering, the outbox, signed delivery, retries, safety.

Every delivery goes over HTTP to a real receiver (:mod:`webhook_receiver`) that verifies
its signature with the ``standardwebhooks`` reference package.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from conftest import db, wait_for
from flask import Flask
from sqlalchemy import event as sqlalchemy_event
from standardwebhooks import Webhook
from webhook_receiver import Receiver

from flask_gamify import (
    ConfigurationError,
    Gamify,
    WebhookDeliveryView,
    WebhookError,
    WebhookNotFound,
    WebhookView,
)
from flask_gamify.models import utcnow
from flask_gamify.signals import webhook_disabled

LOGIN = {"type": "count", "event": "login", "target": 1}
TWO_LOGINS = {"type": "count", "event": "login", "target": 2}
#: Short retries for the tests: three attempts, 0.2 s apart (with jitter).
FAST = {"GAMIFY_WEBHOOK_RETRY_DELAYS": [0.2, 0.2], "GAMIFY_WEBHOOK_TIMEOUT": 1}


@pytest.fixture
def make_app(database_url: str) -> Iterator[Callable[..., tuple[Flask, Gamify]]]:
    """Apps configured by the test (loopback allowed unless it says otherwise)."""
    contexts: list[Any] = []

    def make(**config: Any) -> tuple[Flask, Gamify]:
        app = Flask("webhooks_test")
        app.config.update(
            TESTING=True,
            SQLALCHEMY_DATABASE_URI=database_url,
            GAMIFY_WEBHOOK_ALLOW_PRIVATE=True,
            **FAST,
        )
        app.config.update(config)
        db.init_app(app)
        gamify = Gamify(app, db=db)
        context = app.app_context()
        context.push()
        contexts.append((context, gamify))
        gamify.drop_all()
        gamify.create_all()
        return app, gamify

    yield make
    for context, gamify in reversed(contexts):
        gamify.drop_all()
        for engine in db.engines.values():
            engine.dispose()
        context.pop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


@pytest.fixture
def setup(
    make_app: Callable[..., tuple[Flask, Gamify]], receiver: Receiver
) -> tuple[Gamify, WebhookView]:
    _app, gamify = make_app()
    gamify.define_goal("first-login", criteria=LOGIN, points=10)
    endpoint = gamify.add_webhook(receiver.url, events=["award.created"], description="CRM")
    assert endpoint.secret is not None
    receiver.secrets.append(endpoint.secret)
    return gamify, endpoint


def deliveries(gamify: Gamify, **filters: Any) -> list[WebhookDeliveryView]:
    return gamify.webhook_deliveries(**filters)


def deliver_until(gamify: Gamify, status: str) -> None:
    """Deliver as retries come due until every delivery has ``status``."""

    def settled() -> bool:
        gamify.deliver_webhooks()
        return {item.status for item in deliveries(gamify)} == {status}

    wait_for(settled, timeout=10, message=f"every delivery is {status}")


# -- registering -------------------------------------------------------------------------


def test_add_webhook_returns_the_secret_once(setup: tuple[Gamify, WebhookView]) -> None:
    gamify, endpoint = setup
    assert endpoint.secret is not None and endpoint.secret.startswith("whsec_")
    assert len(base64.b64decode(endpoint.secret.removeprefix("whsec_"))) == 24
    Webhook(endpoint.secret)  # the reference package accepts the format
    assert endpoint.events == ("award.created",)
    assert endpoint.description == "CRM"
    assert endpoint.enabled
    (listed,) = gamify.webhooks()
    assert listed.secret is None
    assert "secret" not in listed.to_dict()
    assert listed.to_dict()["url"] == endpoint.url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/hooks", "scheme must be http or https, not 'ftp'"),
        ("example.com/hooks", "scheme must be http or https"),
        ("https:///hooks", "no host name"),
        ("https://user:pw@example.com/hooks", "carries credentials"),
        ("https://example.com/a b", "spaces or control characters"),
        ("https://example.com:99999/", "malformed"),
        ("https://" + "a" * 2050 + ".com/", "longer than 2048"),
        ("", "Give the endpoint's URL"),
    ],
)
def test_bad_urls_are_refused_with_the_fix(
    make_app: Callable[..., tuple[Flask, Gamify]], url: str, message: str
) -> None:
    _app, gamify = make_app()
    with pytest.raises(WebhookError) as caught:
        gamify.add_webhook(url, events=["award.created"])
    assert message in str(caught.value)
    assert caught.value.code == 422
    assert gamify.webhooks() == []


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("169.254.169.254", "link-local"),
        ("[::1]", "loopback"),
        ("[::ffff:127.0.0.1]", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
    ],
)
def test_private_addresses_are_refused_by_default(
    make_app: Callable[..., tuple[Flask, Gamify]], address: str, kind: str
) -> None:
    _app, gamify = make_app(GAMIFY_WEBHOOK_ALLOW_PRIVATE=False)
    with pytest.raises(WebhookError) as caught:
        gamify.add_webhook(f"http://{address}/hooks", events=["*"])
    assert kind in str(caught.value)
    assert "GAMIFY_WEBHOOK_ALLOW_PRIVATE" in str(caught.value)


def test_allowed_networks_let_those_addresses_through(
    make_app: Callable[..., tuple[Flask, Gamify]],
) -> None:
    _app, gamify = make_app(GAMIFY_WEBHOOK_ALLOW_PRIVATE=["10.1.0.0/16"])
    assert gamify.add_webhook("http://10.1.2.3/hooks", events=["*"]).id
    with pytest.raises(WebhookError, match="private"):
        gamify.add_webhook("http://10.2.0.1/hooks", events=["*"])


def test_bad_settings_fail_init_app(make_app: Callable[..., tuple[Flask, Gamify]]) -> None:
    with pytest.raises(ConfigurationError, match="GAMIFY_WEBHOOK_ALLOW_PRIVATE"):
        make_app(GAMIFY_WEBHOOK_ALLOW_PRIVATE=["not a network"])
    with pytest.raises(ConfigurationError, match="GAMIFY_WEBHOOK_RETRY_DELAYS"):
        make_app(GAMIFY_WEBHOOK_RETRY_DELAYS="5m")


def test_unknown_event_types_name_the_valid_ones(
    make_app: Callable[..., tuple[Flask, Gamify]],
) -> None:
    _app, gamify = make_app()
    with pytest.raises(WebhookError) as caught:
        gamify.add_webhook("https://example.com/", events=["award.create"])
    message = str(caught.value)
    assert "'award.create'" in message
    assert "award.created, award.revoked, assignment.completed" in message
    assert caught.value.errors.keys() == {"events"}
    with pytest.raises(WebhookError, match="at least one"):
        gamify.add_webhook("https://example.com/", events=[])
    with pytest.raises(WebhookError, match="list of event types"):
        gamify.add_webhook("https://example.com/", events="award.created")


def test_unknown_ids_raise_not_found(setup: tuple[Gamify, WebhookView]) -> None:
    gamify, endpoint = setup
    with pytest.raises(WebhookNotFound, match="no webhook with id 999"):
        gamify.remove_webhook(999)
    with pytest.raises(WebhookNotFound, match="no delivery with id 999"):
        gamify.retry_webhook_delivery(999)
    assert gamify.remove_webhook(endpoint.id).id == endpoint.id
    assert gamify.webhooks() == []


# -- the outbox and delivery -------------------------------------------------------------


def test_an_award_is_delivered_once_signed_with_a_stable_id(
    setup: tuple[Gamify, WebhookView], receiver: Receiver
) -> None:
    gamify, endpoint = setup
    gamify.track("login", "alice")

    # Written with the award, before anything is sent.
    (pending,) = deliveries(gamify)
    assert (pending.status, pending.event_type, pending.attempts) == ("pending", "award.created", 0)
    assert receiver.received == []

    counts = gamify.deliver_webhooks()

    assert counts["delivered"] == 1
    (received,) = receiver.accepted()
    assert received.verified_with == [endpoint.secret]
    payload = received.payload
    (award,) = gamify.awards("alice")
    assert payload == {
        "id": pending.event_id,
        "type": "award.created",
        "version": 1,
        "created_at": payload["created_at"],
        "data": award.to_dict(),
    }
    assert received.event_id == pending.event_id
    assert pending.event_id.startswith("evt_")
    assert received.headers["content-type"] == "application/json"
    (delivered,) = deliveries(gamify)
    assert delivered.status == "delivered"
    assert delivered.response_status == 200
    assert delivered.response_body is not None and len(delivered.response_body) == 1024
    assert gamify.deliver_webhooks()["delivered"] == 0  # nothing sent twice


def test_failures_are_retried_with_the_same_id_until_accepted(
    setup: tuple[Gamify, WebhookView], receiver: Receiver
) -> None:
    gamify, _endpoint = setup
    receiver.fail_first = 2
    gamify.track("login", "alice")

    assert gamify.deliver_webhooks()["failed"] == 1
    (failed,) = deliveries(gamify, status="failed")
    assert failed.response_status == 500
    assert failed.error == "The receiver answered 500 (not 2xx)."
    assert failed.next_attempt_at > utcnow()
    deliver_until(gamify, "delivered")

    assert len(receiver.received) == 3
    assert {item.event_id for item in receiver.received} == {failed.event_id}
    assert len(receiver.accepted()) == 1
    (done,) = deliveries(gamify)
    assert (done.status, done.attempts) == ("delivered", 3)
    assert gamify.webhooks()[0].failing_since is None


def test_a_receiver_down_then_back_gets_everything(
    setup: tuple[Gamify, WebhookView], receiver: Receiver
) -> None:
    gamify, _endpoint = setup
    gamify.define_goal("two-logins", criteria=TWO_LOGINS)
    receiver.stop()
    for user in ("alice", "bob", "carol"):
        gamify.track("login", user)

    assert gamify.deliver_webhooks()["failed"] == 3
    assert all("Could not deliver" in (item.error or "") for item in deliveries(gamify))
    assert gamify.webhooks()[0].failing_since is not None
    receiver.start()
    deliver_until(gamify, "delivered")

    entities = sorted(item.payload["data"]["entity"] for item in receiver.accepted())
    assert entities == ["alice", "bob", "carol"]
    assert {item.status for item in deliveries(gamify)} == {"delivered"}


def test_after_the_last_attempt_a_delivery_is_dead_and_can_be_retried(
    setup: tuple[Gamify, WebhookView], receiver: Receiver
) -> None:
    gamify, _endpoint = setup
    receiver.fail_first = 3
    gamify.track("login", "alice")
    deliver_until(gamify, "dead")
    (dead,) = deliveries(gamify, status="dead")
    assert dead.attempts == 3
    assert gamify.deliver_webhooks() == {"delivered": 0, "failed": 0, "dead": 0}

    (retried,) = gamify.retry_webhook_delivery()  # every dead one
    assert (retried.id, retried.status, retried.attempts) == (dead.id, "pending", 0)
    assert gamify.deliver_webhooks()["delivered"] == 1

    assert deliveries(gamify)[0].status == "delivered"
    assert {item.event_id for item in receiver.received} == {dead.event_id}
    # A replay of a delivered one sends it again, with the same id.
    gamify.retry_webhook_delivery(dead.id)
    gamify.deliver_webhooks()
    assert [item.event_id for item in receiver.accepted()] == [dead.event_id] * 2


def test_410_gone_disables_the_endpoint(
    setup: tuple[Gamify, WebhookView], receiver: Receiver
) -> None:
    gamify, endpoint = setup
    gamify.define_goal("two-logins", criteria=TWO_LOGINS)
    told: list[dict[str, Any]] = []

    def on_disabled(sender: Flask, **kwargs: Any) -> None:
        told.append(kwargs)

    webhook_disabled.connect(on_disabled)
    try:
        receiver.status = 410
        gamify.track("login", "alice")
        gamify.deliver_webhooks()
    finally:
        webhook_disabled.disconnect(on_disabled)

    (gone,) = gamify.webhooks()
    assert not gone.enabled
    assert gone.disabled_reason is not None and "410 Gone" in gone.disabled_reason
    assert [item["webhook"].id for item in told] == [endpoint.id]
    assert deliveries(gamify)[0].status == "dead"
    # No new events for it, and nothing sent while disabled.
    gamify.track("login", "alice")
    assert len(deliveries(gamify)) == 1
    assert len(receiver.received) == 1

    receiver.status = 200
    gamify.enable_webhook(endpoint.id)
    gamify.track("login", "bob")
    gamify.deliver_webhooks()
    assert [item.payload["data"]["entity"] for item in receiver.accepted()] == ["bob"]


def test_an_endpoint_failing_for_days_is_disabled(
    make_app: Callable[..., tuple[Flask, Gamify]], receiver: Receiver
) -> None:
    app, gamify = make_app(GAMIFY_WEBHOOK_RETRY_DELAYS=[3600] * 4)
    gamify.define_goal("first-login", criteria=LOGIN)
    endpoint = gamify.add_webhook(receiver.url, events=["*"])
    receiver.secrets.append(endpoint.secret or "")
    receiver.status = 503
    gamify.track("login", "alice")
    from flask_gamify.webhook_delivery import deliver_due

    start = utcnow()
    state = gamify.state
    deliver_due(app, state, now=lambda: start)
    assert gamify.webhook(endpoint.id).enabled
    deliver_due(app, state, now=lambda: start + timedelta(days=4))
    assert gamify.webhook(endpoint.id).enabled
    deliver_due(app, state, now=lambda: start + timedelta(days=5, seconds=1))

    disabled = gamify.webhook(endpoint.id)
    assert not disabled.enabled
    assert disabled.disabled_reason is not None
    assert "GAMIFY_WEBHOOK_DISABLE_AFTER" in disabled.disabled_reason


def test_a_timeout_is_a_failure(setup: tuple[Gamify, WebhookView], receiver: Receiver) -> None:
    gamify, _endpoint = setup
    receiver.hang = True
    gamify.track("login", "alice")
    gamify.deliver_webhooks()
    (failed,) = deliveries(gamify)
    assert failed.status == "failed"
    assert failed.error == "No answer within 1 s (timeout)."


def test_a_name_resolving_to_loopback_is_refused_at_delivery(
    make_app: Callable[..., tuple[Flask, Gamify]], receiver: Receiver
) -> None:
    _app, gamify = make_app(GAMIFY_WEBHOOK_ALLOW_PRIVATE=False)
    gamify.define_goal("first-login", criteria=LOGIN)
    gamify.add_webhook(f"http://localhost:{receiver.port}/hooks", events=["award.created"])
    gamify.track("login", "alice")
    gamify.deliver_webhooks()
    (refused,) = deliveries(gamify)
    assert refused.status == "failed"
    assert refused.error is not None
    assert refused.error.startswith("Refused: localhost resolves to ")
    assert "loopback address" in refused.error
    assert receiver.received == []


def test_rotation_signs_with_both_secrets_during_the_grace(
    setup: tuple[Gamify, WebhookView], receiver: Receiver
) -> None:
    gamify, endpoint = setup
    old = endpoint.secret
    rotated = gamify.rotate_webhook_secret(endpoint.id, grace=timedelta(hours=1))
    new = rotated.secret
    assert new is not None and old is not None and new != old
    assert rotated.previous_secret_until is not None
    receiver.secrets[:] = [old, new]
    gamify.track("login", "alice")
    gamify.deliver_webhooks()

    (received,) = receiver.received
    assert received.verified_with == [old, new]  # each verifies with its own signature
    assert len(received.headers["webhook-signature"].split(" ")) == 2

    gamify.rotate_webhook_secret(endpoint.id, grace=timedelta(0))
    gamify.track("login", "bob")
    gamify.deliver_webhooks()
    assert receiver.received[-1].verified_with == []  # neither old secret signs now
    assert len(receiver.received[-1].headers["webhook-signature"].split(" ")) == 1


# -- what is sent to whom ----------------------------------------------------------------


def test_event_types_and_the_opt_in_progress_changed(
    make_app: Callable[..., tuple[Flask, Gamify]], receiver: Receiver
) -> None:
    _app, gamify = make_app()
    gamify.define_goal("two-logins", criteria=TWO_LOGINS, points=5)
    every = gamify.add_webhook(receiver.url, events=["*"])
    steps = gamify.add_webhook(receiver.url + "?steps", events=["progress.changed"])
    receiver.secrets += [every.secret or "", steps.secret or ""]

    gamify.track("login", "alice")
    gamify.track("login", "alice")
    gamify.revoke_award("alice", "two-logins", reason="spam")
    gamify.define_goal("later", criteria=LOGIN, status="draft")
    gamify.activate_goal("later", count_history=False)
    gamify.deliver_webhooks()

    by_endpoint: dict[int, list[str]] = {}
    for delivery in deliveries(gamify, limit=100):
        by_endpoint.setdefault(delivery.webhook_id, []).append(delivery.event_type)
    assert sorted(by_endpoint[every.id]) == ["award.created", "award.revoked", "goal.activated"]
    assert by_endpoint[steps.id] == ["progress.changed"] * 3  # 50 %, 100 %, revoked
    progress = [
        item.payload for item in receiver.accepted() if item.payload["type"] == "progress.changed"
    ]
    # deliveries run in parallel, so the receiver may see them in any order: 50 % after
    # one login, 100 % at the award, 99 % once it is revoked (docs/progress.rst)
    assert sorted(item["data"]["progress"]["percent"] for item in progress) == [50, 99, 100]
    goal = next(
        item.payload for item in receiver.accepted() if item.payload["type"] == "goal.activated"
    )
    assert goal["data"]["key"] == "later"
    assert len(receiver.accepted()) == 6


def test_assignment_completed(
    make_app: Callable[..., tuple[Flask, Gamify]], receiver: Receiver
) -> None:
    _app, gamify = make_app()
    gamify.define_goal("todo", criteria=LOGIN, assigned_only=True)
    endpoint = gamify.add_webhook(receiver.url, events=["assignment.completed"])
    receiver.secrets.append(endpoint.secret or "")
    assignment = gamify.assign("todo", assignee="bob", assigned_by="alice")
    gamify.track("login", "bob")
    gamify.deliver_webhooks()
    (received,) = receiver.accepted()
    data = received.payload["data"]
    assert received.payload["type"] == "assignment.completed"
    assert (data["id"], data["entity"], data["assigned_by"]) == (assignment.id, "bob", "alice")
    assert data["completed_at"] is not None


def test_test_webhook_sends_a_test_event(
    setup: tuple[Gamify, WebhookView], receiver: Receiver
) -> None:
    gamify, endpoint = setup
    delivery = gamify.test_webhook(endpoint.id)
    assert delivery.event_type == "webhook.test"
    gamify.deliver_webhooks()
    (received,) = receiver.accepted()
    assert received.payload["type"] == "webhook.test"
    assert received.payload["data"]["webhook"] == endpoint.id


def test_a_quiet_backfill_sends_no_award_created(
    make_app: Callable[..., tuple[Flask, Gamify]], receiver: Receiver
) -> None:
    _app, gamify = make_app()
    gamify.track("login", "alice")
    gamify.add_webhook(receiver.url, events=["award.created"])
    gamify.define_goal("quiet", criteria=LOGIN, status="draft")
    gamify.activate_goal("quiet", notify=False)
    gamify.define_goal("loud", criteria=LOGIN, status="draft")
    gamify.activate_goal("loud")
    assert [item.payload["data"]["goal"] for item in deliveries(gamify)] == ["loud"]


def test_batches_query_nothing_for_webhooks_while_they_are_unchanged(
    make_app: Callable[..., tuple[Flask, Gamify]], receiver: Receiver
) -> None:
    _app, gamify = make_app()
    gamify.define_goal("first-login", criteria=LOGIN)
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    gamify.track("login", "alice")  # loads the catalog, and learns there is no endpoint
    engine = gamify.state.engine
    sqlalchemy_event.listen(engine, "before_cursor_execute", record)
    try:
        gamify.track("login", "bob")  # no endpoint: not one query about them
        assert statements
        assert not [sql for sql in statements if "gamify_webhook" in sql]
        gamify.add_webhook(receiver.url, events=["award.created"])
        gamify.track("login", "carol")  # loads the endpoints once
        gamify.track("login", "dave")
        reads = [sql for sql in statements if "FROM gamify_webhooks" in sql]
        assert len(reads) == 1
    finally:
        sqlalchemy_event.remove(engine, "before_cursor_execute", record)
    assert len(deliveries(gamify)) == 2


# -- the CLI -----------------------------------------------------------------------------


def test_the_cli_manages_and_delivers(
    make_app: Callable[..., tuple[Flask, Gamify]], receiver: Receiver
) -> None:
    app, gamify = make_app()
    gamify.define_goal("first-login", criteria=LOGIN)
    runner = app.test_cli_runner()

    def run(*args: str) -> str:
        result = runner.invoke(args=["gamify", "webhooks", *args])
        assert result.exit_code == 0, result.output
        return result.output

    added = run("add", receiver.url, "--event", "award.created", "--description", "CRM")
    secret = added.split("keep it): ")[1].strip()
    assert secret.startswith("whsec_")
    receiver.secrets.append(secret)
    assert receiver.url in run("list")
    (endpoint,) = gamify.webhooks()

    assert "delivered" in run("test", str(endpoint.id))
    gamify.track("login", "alice")
    assert "Delivered 1, failed 0 (will retry), dead 0." in run("deliver")
    listing = run("deliveries", "--webhook", str(endpoint.id))
    assert "award.created" in listing and "webhook.test" in listing and "HTTP 200" in listing
    assert "0 deliveries." in run("deliveries", "--status", "dead")
    assert "Queued 0 deliveries again." in run("retry", "--dead")
    rotated = run("rotate-secret", str(endpoint.id), "--grace", "1h")
    assert "whsec_" in rotated and "also signs until" in rotated
    assert "DISABLED" in run("disable", str(endpoint.id), "--reason", "maintenance")
    assert "enabled" in run("enable", str(endpoint.id))
    assert "Removed webhook" in run("remove", str(endpoint.id))
    assert len(receiver.accepted()) == 2

    bad = runner.invoke(args=["gamify", "webhooks", "add", "ftp://x", "--event", "award.created"])
    assert bad.exit_code == 1
    assert "scheme must be http or https" in bad.output
    neither = runner.invoke(args=["gamify", "webhooks", "retry"])
    assert neither.exit_code == 2
    assert "Give a delivery id, or --dead" in neither.output
