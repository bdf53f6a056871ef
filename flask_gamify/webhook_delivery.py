"""Sending the webhook outbox: signed, retried with backoff, at least once.

A sender claims due deliveries with a lease (``locked_until``), so two workers never send
the same delivery at once, and a worker that dies mid-delivery only delays it until the
lease lapses. Each delivery is a POST of its JSON payload, signed as the Standard
Webhooks specification says (https://www.standardwebhooks.com): ``webhook-id`` (the event
id, the same on every attempt), ``webhook-timestamp`` (Unix seconds) and
``webhook-signature`` (``v1,`` and the base64 HMAC-SHA256 of ``id.timestamp.body``, keyed
with the secret's bytes; two, space-separated, while a rotated secret's grace runs).

``2xx`` is success; ``410 Gone`` disables the endpoint; any other answer (redirects
included: none is followed), a timeout or a refused connection is retried after the
delays of ``GAMIFY_WEBHOOK_RETRY_DELAYS``, with jitter; after the last one the delivery is
``dead``. An endpoint failing without a success for ``GAMIFY_WEBHOOK_DISABLE_AFTER`` is
disabled and :data:`~flask_gamify.signals.webhook_disabled` is sent.

Who sends: with Redis, RQ jobs on the workers (:func:`deliver_webhooks_job`, queued on
``GAMIFY_WEBHOOK_QUEUE`` after a batch adds deliveries and by every worker's periodic
sweep); without, ``flask gamify webhooks deliver`` (or :meth:`Gamify.deliver_webhooks`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import logging
import random
import socket
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy import Table, and_, or_, select, update
from sqlalchemy.orm import Session

from . import config as settings
from . import signals
from .catalog import bump_catalog_version
from .errors import ConfigurationError
from .failures import describe_error
from .models import Webhook, WebhookDelivery, utcnow
from .webhooks import AddressPolicy, get_webhook

if TYPE_CHECKING:
    from .state import GamifyState

__all__ = [
    "DEFAULT_RETRY_DELAYS",
    "DeliveryOutcome",
    "WebhookSettings",
    "deliver_due",
    "deliver_webhooks_job",
    "due_count",
    "sign",
    "wake_delivery",
]

logger = logging.getLogger("flask_gamify")

_WEBHOOKS = cast(Table, Webhook.__table__)
_DELIVERIES = cast(Table, WebhookDelivery.__table__)

#: Seconds between attempts: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, 14 h, 20 h
#: (ten attempts over about two and a half days, jitter aside).
DEFAULT_RETRY_DELAYS = (5, 300, 1800, 7200, 18000, 36000, 36000, 50400, 72000)
#: Each delay is stretched or shrunk by up to this fraction, at random, so that the
#: retries of many deliveries that failed together do not arrive together.
JITTER = 0.2
#: The most of a receiver's answer kept in the delivery log.
MAX_RESPONSE_BYTES = 1024
#: Deliveries claimed at a time, per sender.
CLAIM_BATCH = 50
USER_AGENT = "Flask-Gamify-Webhooks/1"


@dataclass(frozen=True)
class WebhookSettings:
    """The ``GAMIFY_WEBHOOK_*`` settings, checked at ``init_app``."""

    timeout: float
    retry_delays: tuple[float, ...]
    disable_after: timedelta
    policy: AddressPolicy
    concurrency: int
    queue_name: str

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> WebhookSettings:
        try:
            policy = AddressPolicy(config["GAMIFY_WEBHOOK_ALLOW_PRIVATE"])
        except ValueError as error:
            raise ConfigurationError(
                f"GAMIFY_WEBHOOK_ALLOW_PRIVATE = {config['GAMIFY_WEBHOOK_ALLOW_PRIVATE']!r:.80}"
                f" is invalid; {error}"
            ) from error
        return cls(
            timeout=settings.positive_number(config, "GAMIFY_WEBHOOK_TIMEOUT"),
            retry_delays=_delays(config["GAMIFY_WEBHOOK_RETRY_DELAYS"]),
            disable_after=settings.duration(config, "GAMIFY_WEBHOOK_DISABLE_AFTER"),
            policy=policy,
            concurrency=settings.integer(config, "GAMIFY_WEBHOOK_CONCURRENCY", maximum=100),
            queue_name=settings.name(config, "GAMIFY_WEBHOOK_QUEUE"),
        )

    @property
    def max_attempts(self) -> int:
        return len(self.retry_delays) + 1

    @property
    def lease(self) -> timedelta:
        """How long a sender holds the deliveries it claimed: the time to send them."""
        return timedelta(seconds=2 * self.timeout + 5)


def _delays(value: object) -> tuple[float, ...]:
    message = (
        f"GAMIFY_WEBHOOK_RETRY_DELAYS = {value!r:.80} is invalid; it must be a list of"
        " seconds to wait before each retry, such as [5, 300, 1800] (empty: no retry)."
    )
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ConfigurationError(message)
    delays = []
    for delay in value:
        if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay < 1e8:
            raise ConfigurationError(message)
        delays.append(float(delay))
    return tuple(delays)


# -- signing and sending --------------------------------------------------------------


def sign(secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    """The Standard Webhooks signature of a message: ``v1,<base64 HMAC-SHA256>``."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{event_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _secrets(webhook: Any, now: datetime) -> list[str]:
    found = [webhook.secret]
    until = webhook.previous_secret_until
    if webhook.previous_secret and until is not None and until > now:
        found.append(webhook.previous_secret)
    return found


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to an address resolved (and checked) beforehand; ``Host`` is the name."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """:class:`_PinnedHTTPConnection` over TLS, verifying the certificate of the name."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self.tls)
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one attempt gave."""

    status: int | None = None
    body: str | None = None
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def resolve(host: str, port: int, policy: AddressPolicy) -> str:
    """Resolve ``host`` once and check the address; raise :class:`PermissionError` if the
    policy refuses it."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if not infos:
        raise OSError(f"{host} has no address.")
    address = str(infos[0][4][0])
    refusal = policy.refusal(address)
    if refusal is not None:
        raise PermissionError(f"{host} resolves to {refusal}")
    return address


def post(
    url: str, body: bytes, headers: Mapping[str, str], settings: WebhookSettings
) -> DeliveryOutcome:
    """POST ``body`` to ``url``: no redirect followed, the answer read up to 1 KiB."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        address = resolve(host, port, settings.policy)
    except PermissionError as error:
        return DeliveryOutcome(error=f"Refused: {error}")
    except OSError as error:
        return DeliveryOutcome(error=f"Could not resolve {host}: {describe_error(error)}")
    connection_class = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(host, port, address, settings.timeout)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        connection.request("POST", path, body=body, headers=dict(headers))
        response = connection.getresponse()
        answer = response.read(MAX_RESPONSE_BYTES).decode("utf-8", "replace")
        outcome = DeliveryOutcome(status=response.status, body=answer)
    except TimeoutError:
        return DeliveryOutcome(error=f"No answer within {settings.timeout:g} s (timeout).")
    except (OSError, http.client.HTTPException) as error:
        return DeliveryOutcome(error=f"Could not deliver: {describe_error(error)}")
    finally:
        connection.close()
    if not outcome.delivered:
        kind = "a redirect, which is not followed" if 300 <= response.status < 400 else "not 2xx"
        return DeliveryOutcome(
            outcome.status, outcome.body, f"The receiver answered {response.status} ({kind})."
        )
    return outcome


def _attempt(claimed: Any, settings: WebhookSettings, now: datetime) -> DeliveryOutcome:
    body = json.dumps(claimed.payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(time.time())
    signatures = " ".join(
        sign(secret, claimed.event_id, timestamp, body) for secret in _secrets(claimed, now)
    )
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": claimed.event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }
    try:
        return post(claimed.url, body, headers, settings)
    except Exception as error:  # never lose the outcome of a claimed delivery
        logger.exception("Webhook delivery %s failed unexpectedly.", claimed.id)
        return DeliveryOutcome(error=f"Could not deliver: {describe_error(error)}")


# -- claiming and recording -----------------------------------------------------------


def _due(now: datetime) -> Any:
    return and_(
        _DELIVERIES.c.status.in_(("pending", "failed")),
        _DELIVERIES.c.next_attempt_at <= now,
        or_(_DELIVERIES.c.locked_until.is_(None), _DELIVERIES.c.locked_until < now),
    )


def due_count(session: Session, now: datetime | None = None) -> int:
    """How many deliveries to enabled endpoints are due and not being sent."""
    moment = now or utcnow()
    ids = session.execute(
        select(_DELIVERIES.c.id)
        .join(_WEBHOOKS, _WEBHOOKS.c.id == _DELIVERIES.c.webhook_id)
        .where(_due(moment), _WEBHOOKS.c.enabled.is_(True))
        .limit(CLAIM_BATCH)
    ).all()
    return len(ids)


def claim(state: GamifyState, limit: int, now: datetime) -> list[Any]:
    """Lease up to ``limit`` due deliveries of enabled endpoints; return them with their
    endpoint's URL and secrets."""
    webhook_settings = state.webhook_settings
    with state.transaction() as session:
        query = (
            select(_DELIVERIES.c.id)
            .join(_WEBHOOKS, _WEBHOOKS.c.id == _DELIVERIES.c.webhook_id)
            .where(_due(now), _WEBHOOKS.c.enabled.is_(True))
            .order_by(_DELIVERIES.c.next_attempt_at, _DELIVERIES.c.id)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(of=_DELIVERIES, skip_locked=True)
        candidates = list(session.execute(query).scalars())
        if not candidates:
            return []
        # The condition again: a row another sender claimed meanwhile is not taken.
        claimed = list(
            session.execute(
                update(_DELIVERIES)
                .where(_DELIVERIES.c.id.in_(candidates), _due(now))
                .values(locked_until=now + webhook_settings.lease)
                .returning(_DELIVERIES.c.id)
            ).scalars()
        )
        if not claimed:
            return []
        return list(
            session.execute(
                select(
                    _DELIVERIES.c.id,
                    _DELIVERIES.c.webhook_id,
                    _DELIVERIES.c.event_id,
                    _DELIVERIES.c.payload,
                    _DELIVERIES.c.attempts,
                    _WEBHOOKS.c.url,
                    _WEBHOOKS.c.secret,
                    _WEBHOOKS.c.previous_secret,
                    _WEBHOOKS.c.previous_secret_until,
                )
                .join(_WEBHOOKS, _WEBHOOKS.c.id == _DELIVERIES.c.webhook_id)
                .where(_DELIVERIES.c.id.in_(claimed))
                .order_by(_DELIVERIES.c.id)
            ).all()
        )


def _retry_delay(settings: WebhookSettings, attempts: int) -> timedelta:
    base = settings.retry_delays[attempts - 1]
    return timedelta(seconds=base * random.uniform(1 - JITTER, 1 + JITTER))


def record_outcome(
    app: Flask, state: GamifyState, claimed: Any, outcome: DeliveryOutcome, now: datetime
) -> str:
    """Write an attempt's outcome; disable the endpoint when it asks (410) or has failed
    for too long. Return the delivery's new status."""
    webhook_settings = state.webhook_settings
    attempts = claimed.attempts + 1
    values: dict[str, Any] = {
        "attempts": attempts,
        "last_attempt_at": now,
        "locked_until": None,
        "response_status": outcome.status,
        "response_body": outcome.body,
        "error": outcome.error,
    }
    disabled: str | None = None
    with state.transaction() as session:
        webhook = session.execute(
            select(_WEBHOOKS).where(_WEBHOOKS.c.id == claimed.webhook_id)
        ).first()
        if outcome.delivered:
            values.update(status="delivered", delivered_at=now)
            if webhook is not None and webhook.failing_since is not None:
                session.execute(
                    update(_WEBHOOKS)
                    .where(_WEBHOOKS.c.id == claimed.webhook_id)
                    .values(failing_since=None)
                )
        else:
            if outcome.status == 410:
                values["status"] = "dead"
                disabled = "The receiver answered 410 Gone: it asked for no more deliveries."
            elif attempts >= webhook_settings.max_attempts:
                values["status"] = "dead"
            else:
                values.update(
                    status="failed",
                    next_attempt_at=now + _retry_delay(webhook_settings, attempts),
                )
            if webhook is not None:
                failing_since = webhook.failing_since or now
                if disabled is None and now - failing_since > webhook_settings.disable_after:
                    disabled = (
                        f"Every delivery failed since {failing_since.isoformat()}"
                        f" (GAMIFY_WEBHOOK_DISABLE_AFTER)."
                    )
                changes: dict[str, Any] = {"failing_since": failing_since}
                if disabled is not None and webhook.enabled:
                    changes.update(enabled=False, disabled_reason=disabled, disabled_at=now)
                else:
                    disabled = None
                session.execute(
                    update(_WEBHOOKS).where(_WEBHOOKS.c.id == claimed.webhook_id).values(changes)
                )
                if disabled is not None:
                    bump_catalog_version(session)
        session.execute(update(_DELIVERIES).where(_DELIVERIES.c.id == claimed.id).values(values))
        view = get_webhook(session, claimed.webhook_id) if disabled is not None else None
    if view is not None:
        logger.warning("Webhook %s (%s) was disabled: %s", view.id, view.url, disabled)
        signals.webhook_disabled.send(app, webhook=view, reason=disabled)
    return str(values["status"])


def deliver_due(
    app: Flask,
    state: GamifyState,
    *,
    budget: float | None = None,
    now: Callable[[], datetime] = utcnow,
    on_batch: Callable[[], None] | None = None,
) -> dict[str, int]:
    """Send due deliveries, ``GAMIFY_WEBHOOK_CONCURRENCY`` at a time, until none is due
    (or ``budget`` seconds have passed); return how many ended in each status.

    :param now: the clock (tests move it on by days).
    :param on_batch: called before sending each claimed batch (a job renews its guard).
    """
    webhook_settings = state.webhook_settings
    counts = {"delivered": 0, "failed": 0, "dead": 0}
    deadline = None if budget is None else time.monotonic() + budget
    with ThreadPoolExecutor(webhook_settings.concurrency) as pool:
        while deadline is None or time.monotonic() < deadline:
            moment = now()
            batch = claim(state, min(CLAIM_BATCH, webhook_settings.concurrency * 4), moment)
            if not batch:
                break
            if on_batch is not None:
                on_batch()

            def send(claimed: Any, moment: datetime = moment) -> str:
                outcome = _attempt(claimed, webhook_settings, moment)
                return record_outcome(app, state, claimed, outcome, now())

            for status in pool.map(send, batch):
                counts[status] = counts.get(status, 0) + 1
    return counts


# -- RQ -------------------------------------------------------------------------------


def _guard_key(state: GamifyState) -> str:
    assert state.pipeline is not None
    return f"{state.pipeline.keys.prefix}:webhooks:deliver"


def _guard_seconds(state: GamifyState) -> int:
    return int(state.webhook_settings.lease.total_seconds()) + 1


def wake_delivery(state: GamifyState) -> bool:
    """Queue a delivery job unless one is queued or running; ``True`` if queued.

    Called after a commit that added deliveries, and by every worker's sweep. Never
    raises: if Redis is away, the sweep queues the job once it is back (the deliveries
    wait in SQL meanwhile).
    """
    from rq import Queue

    pipeline = state.pipeline
    if pipeline is None:
        return False
    client = pipeline.worker_client
    try:
        # The guard lapses soon unless a running job renews it: a job lost with a
        # killed worker holds nothing up for long (a second job meanwhile is harmless,
        # the leases keep them apart).
        if not client.set(_guard_key(state), "queued", nx=True, ex=_guard_seconds(state)):
            return False
        Queue(state.webhook_settings.queue_name, connection=client).enqueue(
            deliver_webhooks_job,
            result_ttl=0,
            failure_ttl=7 * 24 * 3600,
            job_timeout=int(pipeline.drain_seconds + _guard_seconds(state)) + 60,
            description="gamify: deliver webhooks",
        )
    except Exception as error:
        logger.info("Could not queue webhook deliveries now (%s); the sweep will.", error)
        return False
    return True


def deliver_webhooks_job() -> dict[str, int]:
    """RQ job: send the due deliveries for a while, then hand over."""
    from flask import current_app

    from .state import get_state

    state = get_state()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    guard = _guard_key(state)
    client = state.pipeline.worker_client if state.pipeline is not None else None

    def renew() -> None:
        if client is not None:
            client.expire(guard, _guard_seconds(state))

    try:
        budget = state.pipeline.drain_seconds if state.pipeline is not None else 10.0
        return deliver_due(app, state, budget=budget, on_batch=renew)
    finally:
        if client is not None:
            try:
                client.delete(guard)
            except Exception as error:  # it expires on its own
                logger.info("Could not release the webhook delivery guard: %s", error)
