"""Marshmallow schemas of the webhook endpoints of the REST API (``/webhooks``).

Bodies are loaded with these schemas for their shape (unknown fields, types); what a
URL or an event type may be is checked by :mod:`flask_gamify.webhooks`, whose messages
name the fix. The ``*Out`` schemas describe the answers for the OpenAPI document.
"""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate

from ..criteria.limits import NO_NUL
from ..goals import Flag
from ..models import URL_LENGTH
from ..webhooks import DELIVERY_STATUSES, EVENT_TYPES, MAX_DESCRIPTION_LENGTH, TEST_EVENT, WILDCARD
from .schemas import page_size

__all__ = [
    "DeliveryListArgs",
    "DeliveryOut",
    "RotateIn",
    "WebhookCreatedOut",
    "WebhookIn",
    "WebhookOut",
    "WebhookPatchIn",
]

#: The longest grace a rotation may give the old secret: 30 days.
MAX_GRACE_SECONDS = 30 * 86400
DEFAULT_GRACE_SECONDS = 86400
#: Ids are 32-bit database integers.
LARGEST_ID = 2**31 - 1
#: What the server accepts as a URL, as far as a pattern can say: http(s), a host part
#: without credentials, no space, control character or fragment. Private addresses,
#: ports out of range and such are refused too (422), which a pattern cannot state.
URL_PATTERN = (
    "^[Hh][Tt][Tt][Pp][Ss]?://[^\\u0000-\\u0020\\u007f/?#@]+([/?][^\\u0000-\\u0020\\u007f#]*)?$"
)
EVENT_CHOICES = [WILDCARD, *EVENT_TYPES]


class _Events(fields.Field[list[str]]):
    """A list of event types; which ones are valid is checked by the core."""

    def json_schema(self, ref: Any) -> dict[str, Any]:
        return {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "enum": EVENT_CHOICES},
            "description": "Event types to receive; '*' is every type but the opt-in"
            " 'progress.changed'.",
        }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ValidationError(
                f"Must be a list of event types, such as ['award.created'], among"
                f" {', '.join(EVENT_CHOICES)}."
            )
        return value


class _Seconds(fields.Field[int]):
    """Whole seconds: a JSON integer (``5.0`` counts, as in JSON Schema), never text."""

    def json_schema(self, ref: Any) -> dict[str, Any]:
        return {"type": "integer", "minimum": 0, "maximum": MAX_GRACE_SECONDS}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError("Must be a whole number of seconds, such as 86400 (a day).")
        if not 0 <= value <= MAX_GRACE_SECONDS:
            raise ValidationError(
                f"Must be from 0 (the old secret stops at once) to {MAX_GRACE_SECONDS}"
                " seconds (30 days)."
            )
        return value


def _url(*, required: bool) -> fields.String:
    return fields.String(
        required=required,
        validate=validate.Length(min=1, max=URL_LENGTH),
        metadata={
            "description": "Where deliveries are POSTed: http or https. Private, loopback"
            " and link-local addresses are refused unless GAMIFY_WEBHOOK_ALLOW_PRIVATE"
            " allows them; a host name is resolved and checked at each delivery.",
            "pattern": URL_PATTERN,
        },
    )


def _description() -> fields.String:
    return fields.String(
        validate=validate.Length(max=MAX_DESCRIPTION_LENGTH),
        metadata={"description": "What the endpoint is for.", "pattern": NO_NUL},
    )


class WebhookIn(Schema):
    """A new endpoint."""

    class Meta:
        unknown = RAISE

    url = _url(required=True)
    events = _Events(required=True)
    description = _description()


class WebhookPatchIn(Schema):
    """Changes to an endpoint: the given fields replace the stored ones."""

    class Meta:
        unknown = RAISE

    events = _Events()
    description = _description()
    enabled = Flag(
        metadata={
            "description": "false stops deliveries (events keep accumulating); true sends"
            " them again, including those held meanwhile."
        }
    )


class RotateIn(Schema):
    """How long the old secret keeps signing after a rotation."""

    class Meta:
        unknown = RAISE

    grace = _Seconds(
        load_default=DEFAULT_GRACE_SECONDS,
        metadata={
            "description": "Seconds during which every delivery carries two signatures, by"
            " the old and the new secret (default 86400, a day; 0: the old one stops now)."
        },
    )


class DeliveryListArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    status = fields.String(
        validate=validate.OneOf(DELIVERY_STATUSES),
        metadata={"description": "Only deliveries in this status."},
    )
    limit = page_size()
    before = fields.Integer(
        validate=validate.Range(min=1, max=LARGEST_ID),
        metadata={"description": "A delivery id: only older deliveries (the 'next' link sets it)."},
    )


# -- responses ------------------------------------------------------------------------


class WebhookOut(Schema):
    id = fields.Integer(required=True)
    url = fields.String(required=True)
    description = fields.String(required=True)
    events = fields.List(fields.String(), required=True)
    enabled = fields.Boolean(required=True)
    disabled_reason = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Why it was disabled: a 410 Gone, days of failures, a person."},
    )
    disabled_at = fields.DateTime(required=True, allow_none=True)
    failing_since = fields.DateTime(
        required=True,
        allow_none=True,
        metadata={"description": "Since when its deliveries fail without a success."},
    )
    created_at = fields.DateTime(required=True)
    previous_secret_until = fields.DateTime(
        required=True,
        allow_none=True,
        metadata={"description": "Until when the secret replaced by a rotation still signs."},
    )


class WebhookCreatedOut(WebhookOut):
    secret = fields.String(
        required=True,
        metadata={
            "description": "The signing secret (whsec_...): shown in this answer only; give"
            " it to the receiver now."
        },
    )


class DeliveryOut(Schema):
    id = fields.Integer(required=True)
    webhook_id = fields.Integer(required=True)
    event_id = fields.String(
        required=True, metadata={"description": "The webhook-id header, the same on every attempt."}
    )
    event_type = fields.String(required=True, validate=validate.OneOf([*EVENT_TYPES, TEST_EVENT]))
    status = fields.String(
        required=True,
        validate=validate.OneOf(DELIVERY_STATUSES),
        metadata={
            "description": "pending (due), failed (a retry is scheduled), delivered, or dead"
            " (every attempt failed; retry it)."
        },
    )
    attempts = fields.Integer(required=True)
    next_attempt_at = fields.DateTime(required=True)
    last_attempt_at = fields.DateTime(required=True, allow_none=True)
    response_status = fields.Integer(
        required=True, allow_none=True, metadata={"description": "The receiver's HTTP status."}
    )
    response_body = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The start of the receiver's answer (at most 1 KiB)."},
    )
    error = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Why the last attempt failed."},
    )
    created_at = fields.DateTime(required=True)
    delivered_at = fields.DateTime(required=True, allow_none=True)
    payload = fields.Dict(
        keys=fields.String(), required=True, metadata={"description": "The JSON sent."}
    )
