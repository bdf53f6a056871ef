"""Webhook endpoints, and the outbox of events they are to receive.

An endpoint (``gamify_webhooks``) is a URL subscribed to event types, with a signing
secret. When a transaction records something an endpoint subscribes to (an award, a
revocation, a completed assignment, a goal made live), it also inserts one delivery row
per subscribed endpoint (``gamify_webhook_deliveries``) in that same transaction: a
transactional outbox, so a crash, a Redis outage or a restart between the award and the
HTTP call loses nothing. :mod:`flask_gamify.webhook_delivery` sends them.

Which endpoints subscribe to what is read once per catalog version (changing an endpoint
increments it, as changing a goal does): processing a batch costs no query for webhooks
while they are unchanged.
"""

from __future__ import annotations

import base64
import ipaddress
import secrets
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.orm import Session

from .catalog import bump_catalog_version
from .errors import WebhookError, WebhookNotFound
from .models import URL_LENGTH, Webhook, WebhookDelivery, utcnow

if TYPE_CHECKING:
    from .processing import BatchResult

__all__ = [
    "DELIVERY_STATUSES",
    "EVENT_TYPES",
    "OPT_IN_EVENT_TYPES",
    "TEST_EVENT",
    "AddressPolicy",
    "WebhookDeliveryView",
    "WebhookSubscriptions",
    "WebhookView",
    "add_webhook",
    "delivery_counts",
    "get_webhook",
    "list_deliveries",
    "list_webhooks",
    "new_event_id",
    "payload",
    "record_event",
    "remove_webhook",
    "retry_deliveries",
    "rotate_secret",
    "set_enabled",
    "update_webhook",
]

_WEBHOOKS = cast(Table, Webhook.__table__)
_DELIVERIES = cast(Table, WebhookDelivery.__table__)

#: Event types an endpoint can subscribe to, in the order the docs list them.
EVENT_TYPES = (
    "award.created",
    "award.revoked",
    "assignment.completed",
    "goal.activated",
    "progress.changed",
)
#: Types sent only to endpoints that name them: ``"*"`` does not include them (every
#: step of every entity is a lot of traffic).
OPT_IN_EVENT_TYPES = frozenset({"progress.changed"})
#: The event :meth:`Gamify.test_webhook` sends (to that endpoint only).
TEST_EVENT = "webhook.test"
#: Subscribes to every type but the opt-in ones.
WILDCARD = "*"
#: ``pending`` (due now), ``failed`` (a retry is scheduled), ``delivered``, ``dead``
#: (every attempt failed; :meth:`Gamify.retry_webhook_delivery` sends it again).
DELIVERY_STATUSES = ("pending", "failed", "delivered", "dead")
#: The payload format's version, in every payload (``"version": 1``).
PAYLOAD_VERSION = 1
MAX_DESCRIPTION_LENGTH = 1000
SECRET_PREFIX = "whsec_"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


@dataclass(frozen=True, slots=True)
class WebhookView:
    """A webhook endpoint."""

    id: int
    url: str
    description: str
    #: The event types it subscribes to (``"*"``: all but the opt-in ones).
    events: tuple[str, ...]
    enabled: bool
    #: Why it was disabled (a ``410 Gone``, failures for days, a person), or ``None``.
    disabled_reason: str | None
    disabled_at: datetime | None
    #: Since when its deliveries fail without a success (``None``: healthy).
    failing_since: datetime | None
    created_at: datetime
    #: Until when the secret replaced by the last rotation still signs deliveries.
    previous_secret_until: datetime | None = None
    #: The signing secret (``whsec_...``): only on the view :meth:`Gamify.add_webhook`
    #: and :meth:`Gamify.rotate_webhook_secret` return; keep it, it is not shown again.
    secret: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {
            "id": self.id,
            "url": self.url,
            "description": self.description,
            "events": list(self.events),
            "enabled": self.enabled,
            "disabled_reason": self.disabled_reason,
            "disabled_at": _iso(self.disabled_at),
            "failing_since": _iso(self.failing_since),
            "created_at": _iso(self.created_at),
            "previous_secret_until": _iso(self.previous_secret_until),
        }
        if self.secret is not None:
            data["secret"] = self.secret
        return data


@dataclass(frozen=True, slots=True)
class WebhookDeliveryView:
    """One event for one endpoint, and how its delivery went."""

    id: int
    webhook_id: int
    #: ``evt_...``: the ``webhook-id`` header, the same on every attempt.
    event_id: str
    event_type: str
    #: ``pending``, ``failed`` (retry scheduled), ``delivered`` or ``dead``.
    status: str
    attempts: int
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    #: The receiver's HTTP status and the start of its answer (at most 1 KiB).
    response_status: int | None
    response_body: str | None
    #: Why the last attempt failed (``None`` when it succeeded).
    error: str | None
    created_at: datetime
    delivered_at: datetime | None
    #: The JSON payload sent.
    payload: dict[str, Any]

    @classmethod
    def from_row(cls, row: Any) -> WebhookDeliveryView:
        return cls(
            id=row.id,
            webhook_id=row.webhook_id,
            event_id=row.event_id,
            event_type=row.event_type,
            status=row.status,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            last_attempt_at=row.last_attempt_at,
            response_status=row.response_status,
            response_body=row.response_body,
            error=row.error,
            created_at=row.created_at,
            delivered_at=row.delivered_at,
            payload=row.payload,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "webhook_id": self.webhook_id,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "status": self.status,
            "attempts": self.attempts,
            "next_attempt_at": _iso(self.next_attempt_at),
            "last_attempt_at": _iso(self.last_attempt_at),
            "response_status": self.response_status,
            "response_body": self.response_body,
            "error": self.error,
            "created_at": _iso(self.created_at),
            "delivered_at": _iso(self.delivered_at),
            "payload": self.payload,
        }


def _view(row: Any, secret: str | None = None) -> WebhookView:
    previous_until = row.previous_secret_until if row.previous_secret else None
    return WebhookView(
        id=row.id,
        url=row.url,
        description=row.description,
        events=tuple(row.events),
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        disabled_at=row.disabled_at,
        failing_since=row.failing_since,
        created_at=row.created_at,
        previous_secret_until=previous_until,
        secret=secret,
    )


# -- addresses -----------------------------------------------------------------------


class AddressPolicy:
    """Which addresses deliveries may go to (``GAMIFY_WEBHOOK_ALLOW_PRIVATE``).

    By default only global unicast addresses: loopback, private, link-local, shared,
    multicast, reserved and unspecified ones are refused, so that whoever registers an
    endpoint cannot make the workers call services inside the network. ``True`` allows
    every address; a list of networks (``["10.1.0.0/16", "127.0.0.1/32"]``) allows those.
    """

    def __init__(self, setting: object) -> None:
        self.allow_all = setting is True
        self.networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
        if setting is True or setting is False or setting is None:
            return
        if isinstance(setting, str) or not isinstance(setting, Iterable):
            raise ValueError(
                "it must be True, False, or a list of networks such as ['10.0.0.0/8']."
            )
        networks = []
        for network in setting:
            try:
                networks.append(ipaddress.ip_network(str(network), strict=False))
            except ValueError as error:
                raise ValueError(
                    f"{network!r} is not a network; write networks such as '10.0.0.0/8' or"
                    " '::1/128'."
                ) from error
        self.networks = tuple(networks)

    def refusal(self, address: str) -> str | None:
        """Why ``address`` is refused, or ``None`` when deliveries may go there."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if self.allow_all or any(ip in network for network in self.networks):
            return None
        if ip.is_global and not ip.is_multicast:
            return None
        kind = next(
            (
                name
                for name, flag in (
                    ("a loopback", ip.is_loopback),
                    ("a link-local", ip.is_link_local),
                    ("a multicast", ip.is_multicast),
                    ("an unspecified", ip.is_unspecified),
                    ("a private", ip.is_private),
                    ("a reserved", ip.is_reserved),
                )
                if flag
            ),
            "a non-public",
        )
        return (
            f"{ip} is {kind} address; webhooks are refused there unless"
            " GAMIFY_WEBHOOK_ALLOW_PRIVATE allows it (True, or a list of networks)."
        )


def check_url(url: object, policy: AddressPolicy) -> str:
    """Validate an endpoint URL; raise :class:`WebhookError` naming the fix."""
    if not isinstance(url, str) or not url.strip():
        raise WebhookError("Give the endpoint's URL, such as https://example.com/hooks.")
    url = url.strip()
    if len(url) > URL_LENGTH:
        raise WebhookError(f"The URL is longer than {URL_LENGTH} characters.")
    if any(ord(char) < 33 or ord(char) == 127 for char in url):
        raise WebhookError("The URL contains spaces or control characters; encode them.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise WebhookError(f"The URL is malformed ({error}).") from error
    if parts.scheme not in ("http", "https"):
        raise WebhookError(
            f"The URL's scheme must be http or https, not {parts.scheme or 'missing'!r}"
            " (such as https://example.com/hooks)."
        )
    if not parts.hostname:
        raise WebhookError("The URL has no host name; write it as https://example.com/hooks.")
    if parts.username is not None or parts.password is not None:
        raise WebhookError(
            "The URL carries credentials (user:password@); deliveries are authenticated by"
            " their signature instead: remove them."
        )
    if parts.fragment or "#" in url:
        raise WebhookError("The URL has a fragment (#...), which is never sent; remove it.")
    if port == 0:
        raise WebhookError("The URL's port must be from 1 to 65535.")
    try:
        ipaddress.ip_address(parts.hostname)
    except ValueError:
        return url  # a name: checked once resolved, at each delivery
    refusal = policy.refusal(parts.hostname)
    if refusal is not None:
        raise WebhookError(f"The URL's host {refusal[0].upper()}{refusal[1:]}")
    return url


def check_events(events: object) -> tuple[str, ...]:
    """Validate subscribed event types; raise :class:`WebhookError` naming the valid ones."""
    valid = ", ".join([WILDCARD, *EVENT_TYPES])
    if isinstance(events, str) or not isinstance(events, Iterable):
        raise WebhookError(
            f"Give a list of event types, such as ['award.created']; valid types: {valid}.",
            "events",
        )
    chosen = list(events)
    if not chosen:
        raise WebhookError(f"Subscribe to at least one event type; valid types: {valid}.", "events")
    unknown = [event for event in chosen if event not in (WILDCARD, *EVENT_TYPES)]
    if unknown:
        raise WebhookError(
            f"Unknown event type {str(unknown[0])!r:.80}; valid types: {valid}.", "events"
        )
    return tuple(sorted(set(chosen)))


def check_description(description: object) -> str:
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION_LENGTH:
        raise WebhookError(
            f"The description must be text of at most {MAX_DESCRIPTION_LENGTH} characters.",
            "description",
        )
    if "\x00" in description:
        raise WebhookError("The description must not contain NUL characters.", "description")
    return description.strip()


def new_secret() -> str:
    """A signing secret: ``whsec_`` and 24 random bytes in base64 (Standard Webhooks)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def new_event_id() -> str:
    """A unique event id: ``evt_`` and 32 hex digits."""
    return f"evt_{uuid.uuid4().hex}"


def subscribed(events: Iterable[str], event_type: str) -> bool:
    """Whether an endpoint subscribed to ``events`` receives ``event_type``."""
    events = set(events)
    if event_type in events:
        return True
    return WILDCARD in events and event_type not in OPT_IN_EVENT_TYPES


# -- endpoints -----------------------------------------------------------------------


def add_webhook(
    session: Session,
    url: object,
    events: object,
    description: object,
    policy: AddressPolicy,
) -> WebhookView:
    """Register an endpoint; the view returned carries its secret."""
    row = Webhook(
        url=check_url(url, policy),
        events=list(check_events(events)),
        description=check_description(description),
        secret=new_secret(),
        enabled=True,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    bump_catalog_version(session)
    return _view(row, row.secret)


def update_webhook(
    session: Session, webhook_id: object, *, events: object = None, description: object = None
) -> WebhookView:
    """Change an endpoint's event types and/or description (``None``: unchanged)."""
    row = _row(session, webhook_id, lock=True)
    if events is not None:
        chosen = list(check_events(events))
        if chosen != list(row.events):
            row.events = chosen
            bump_catalog_version(session)  # the batches' cached subscriptions are stale
    if description is not None:
        row.description = check_description(description)
    session.flush()
    return _view(row)


def _row(session: Session, webhook_id: object, *, lock: bool = False) -> Webhook:
    if isinstance(webhook_id, bool) or not isinstance(webhook_id, int):
        raise WebhookNotFound(f"There is no webhook with id {webhook_id!r:.40}; ids are numbers.")
    query = select(Webhook).where(Webhook.id == webhook_id)
    if lock:
        query = query.with_for_update()
    row = session.execute(query).scalar_one_or_none()
    if row is None:
        raise WebhookNotFound(
            f"There is no webhook with id {webhook_id}; gamify.webhooks() lists them."
        )
    return row


def get_webhook(session: Session, webhook_id: object) -> WebhookView:
    return _view(_row(session, webhook_id))


def list_webhooks(session: Session) -> list[WebhookView]:
    return [_view(row) for row in session.execute(select(Webhook).order_by(Webhook.id)).scalars()]


def remove_webhook(session: Session, webhook_id: object) -> WebhookView:
    """Delete an endpoint and its deliveries (pending ones are never sent)."""
    row = _row(session, webhook_id, lock=True)
    view = _view(row)
    session.execute(delete(_DELIVERIES).where(_DELIVERIES.c.webhook_id == row.id))
    session.delete(row)
    bump_catalog_version(session)
    return view


def rotate_secret(
    session: Session, webhook_id: object, grace: timedelta, now: datetime
) -> WebhookView:
    """Give the endpoint a new secret; the old one keeps signing for ``grace``."""
    if not isinstance(grace, timedelta) or grace < timedelta(0):
        raise WebhookError("grace must be a timedelta of 0 or more.", "grace")
    row = _row(session, webhook_id, lock=True)
    if grace > timedelta(0):
        row.previous_secret, row.previous_secret_until = row.secret, now + grace
    else:
        row.previous_secret, row.previous_secret_until = None, None
    row.secret = new_secret()
    session.flush()
    return _view(row, row.secret)


def set_enabled(
    session: Session, webhook_id: object, enabled: bool, reason: str | None, now: datetime
) -> WebhookView:
    """Enable or disable an endpoint. Enabling clears its failure streak; its deliveries
    held while it was disabled are sent."""
    row = _row(session, webhook_id, lock=True)
    if row.enabled != enabled:
        row.enabled = enabled
        row.disabled_reason = None if enabled else (reason or "Disabled by an operator.")
        row.disabled_at = None if enabled else now
        row.failing_since = None
        session.flush()
        bump_catalog_version(session)
    return _view(row)


# -- deliveries ----------------------------------------------------------------------


def list_deliveries(
    session: Session,
    webhook_id: int | None = None,
    status: str | None = None,
    limit: int = 100,
    before: int | None = None,
) -> list[WebhookDeliveryView]:
    """Deliveries, newest first; with ``before``, only those with a smaller id (the next
    page after the delivery of that id)."""
    if status is not None and status not in DELIVERY_STATUSES:
        raise WebhookError(
            f"Unknown delivery status {status!r:.40}; valid: {', '.join(DELIVERY_STATUSES)}.",
            "status",
        )
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise WebhookError("limit must be a whole number from 1 to 1000.", "limit")
    if before is not None and (isinstance(before, bool) or not isinstance(before, int)):
        raise WebhookError("before must be a delivery id, a whole number.", "before")
    query = select(_DELIVERIES).order_by(_DELIVERIES.c.id.desc()).limit(limit)
    if before is not None:
        query = query.where(_DELIVERIES.c.id < before)
    if webhook_id is not None:
        _row(session, webhook_id)
        query = query.where(_DELIVERIES.c.webhook_id == webhook_id)
    if status is not None:
        query = query.where(_DELIVERIES.c.status == status)
    return [WebhookDeliveryView.from_row(row) for row in session.execute(query)]


def delivery_counts(session: Session) -> dict[int, dict[str, int]]:
    """Deliveries per endpoint and status: ``{webhook_id: {"delivered": 12, ...}}``."""
    rows = session.execute(
        select(_DELIVERIES.c.webhook_id, _DELIVERIES.c.status, func.count()).group_by(
            _DELIVERIES.c.webhook_id, _DELIVERIES.c.status
        )
    )
    counts: dict[int, dict[str, int]] = {}
    for webhook_id, status, count in rows:
        counts.setdefault(webhook_id, {})[status] = count
    return counts


def retry_deliveries(
    session: Session,
    delivery_ids: Sequence[int] | None,
    now: datetime,
    *,
    webhook_id: int | None = None,
) -> list[WebhookDeliveryView]:
    """Make deliveries due now, with their attempts counted afresh (``None``: every dead
    one, of ``webhook_id`` only when given). A delivered one is sent again: a replay."""
    query = update(_DELIVERIES).values(
        status="pending", attempts=0, next_attempt_at=now, locked_until=None
    )
    if delivery_ids is None:
        query = query.where(_DELIVERIES.c.status == "dead")
        if webhook_id is not None:
            _row(session, webhook_id)
            query = query.where(_DELIVERIES.c.webhook_id == webhook_id)
    else:
        for delivery_id in delivery_ids:
            if isinstance(delivery_id, bool) or not isinstance(delivery_id, int):
                raise WebhookNotFound(f"There is no delivery with id {delivery_id!r:.40}.")
        found = set(
            session.execute(
                select(_DELIVERIES.c.id).where(_DELIVERIES.c.id.in_(delivery_ids))
            ).scalars()
        )
        missing = sorted(set(delivery_ids) - found)
        if missing:
            raise WebhookNotFound(
                f"There is no delivery with id {missing[0]}; gamify.webhook_deliveries()"
                " lists them."
            )
        query = query.where(_DELIVERIES.c.id.in_(delivery_ids))
    rows = session.execute(query.returning(_DELIVERIES)).all()
    return [WebhookDeliveryView.from_row(row) for row in sorted(rows, key=lambda row: row.id)]


# -- the outbox ----------------------------------------------------------------------


def payload(event_id: str, event_type: str, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The JSON document an endpoint receives."""
    return {
        "id": event_id,
        "type": event_type,
        "version": PAYLOAD_VERSION,
        "created_at": now.isoformat(),
        "data": data,
    }


def _outbox_rows(
    endpoints: Sequence[tuple[int, frozenset[str]]],
    events: Iterable[tuple[str, dict[str, Any]]],
    now: datetime,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for event_type, data in events:
        receivers = [webhook_id for webhook_id, types in endpoints if subscribed(types, event_type)]
        if not receivers:
            continue
        event_id = new_event_id()
        document = payload(event_id, event_type, data, now)
        rows.extend(
            {
                "webhook_id": webhook_id,
                "event_id": event_id,
                "event_type": event_type,
                "payload": document,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for webhook_id in receivers
        )
    return rows


def _enabled_endpoints(session: Session) -> list[tuple[int, frozenset[str]]]:
    rows = session.execute(
        select(_WEBHOOKS.c.id, _WEBHOOKS.c.events).where(_WEBHOOKS.c.enabled.is_(True))
    )
    return [(row.id, frozenset(row.events)) for row in rows]


def record_event(
    session: Session,
    event_type: str,
    data: dict[str, Any],
    now: datetime,
    *,
    webhook_id: int | None = None,
) -> int:
    """Put an event in the outbox of every enabled endpoint subscribed to it (of
    ``webhook_id`` only, whatever it subscribes to, when given); return the rows added."""
    if webhook_id is not None:
        endpoints = [(webhook_id, frozenset({event_type}))]
    else:
        endpoints = _enabled_endpoints(session)
    rows = _outbox_rows(endpoints, [(event_type, data)], now)
    if rows:
        session.execute(_DELIVERIES.insert(), rows)
    return len(rows)


class WebhookSubscriptions:
    """The enabled endpoints and their event types, cached per catalog version.

    Changing an endpoint (adding, removing, enabling, disabling) increments the catalog
    version, which batches read anyway: while nothing changes, recording a batch's
    events costs no query, and nothing at all when no endpoint is registered.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: int | None = None
        self._endpoints: list[tuple[int, frozenset[str]]] = []

    def endpoints(self, session: Session, version: int) -> list[tuple[int, frozenset[str]]]:
        with self._lock:
            if version == self._version:
                return self._endpoints
        endpoints = _enabled_endpoints(session)
        with self._lock:
            self._version, self._endpoints = version, endpoints
        return endpoints

    def record(
        self,
        session: Session,
        version: int,
        result: BatchResult,
        now: datetime,
        *,
        notify: bool = True,
    ) -> int:
        """Put the batch's events in the outbox of the endpoints subscribed to them, in
        the batch's transaction; return the rows added.

        :param notify: ``False`` (a quiet backfill) leaves out ``award.created`` and
            ``progress.changed``, as it leaves out ``goal-completed`` notifications.
        """
        if not (result.awards or result.revoked or result.assignments or result.changes):
            return 0
        endpoints = self.endpoints(session, version)
        if not endpoints:
            return 0
        wanted = {
            event_type
            for event_type in EVENT_TYPES
            if any(subscribed(types, event_type) for _, types in endpoints)
        }
        events: list[tuple[str, dict[str, Any]]] = []
        if notify and "award.created" in wanted:
            events.extend(("award.created", award.to_dict()) for award in result.awards)
        if "assignment.completed" in wanted:
            events.extend(
                ("assignment.completed", assignment.to_dict()) for assignment in result.assignments
            )
        if "award.revoked" in wanted:
            events.extend(("award.revoked", award.to_dict()) for award in result.revoked)
        if notify and "progress.changed" in wanted:
            events.extend(
                (
                    "progress.changed",
                    {
                        "goal": change.goal,
                        "entity_type": change.entity_type,
                        "entity": change.entity,
                        "progress": change.progress.to_dict(),
                    },
                )
                for change in result.changes
            )
        rows = _outbox_rows(endpoints, events, now)
        if rows:
            session.execute(_DELIVERIES.insert(), rows)
        return len(rows)
