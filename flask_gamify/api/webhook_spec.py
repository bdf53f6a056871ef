"""The webhooks in the OpenAPI document: the ``/webhooks`` operations, and the payloads
receivers get, as OpenAPI 3.1 top-level ``webhooks`` (one per event type).

:mod:`flask_gamify.api.openapi` calls :func:`add_webhook_components` and
:func:`add_webhook_paths` while it builds the document, and puts
:func:`webhook_payloads` under ``webhooks``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from apispec import APISpec

from ..criteria.json_schema import object_schema
from ..webhooks import EVENT_TYPES, PAYLOAD_VERSION, TEST_EVENT
from . import schemas
from .examples import WEBHOOK_PAYLOAD_EXAMPLES
from .webhook_schemas import (
    LARGEST_ID,
    DeliveryListArgs,
    DeliveryOut,
    RotateIn,
    WebhookCreatedOut,
    WebhookIn,
    WebhookOut,
    WebhookPatchIn,
)

__all__ = ["add_webhook_components", "add_webhook_paths", "webhook_payloads"]

Ref = Callable[[str], dict[str, Any]]

_SCOPE_NOTE = (
    " Needs `webhooks:write`, reads included (delivery logs carry every entity's events);"
    " a key bound to an owner is refused (403)."
)
_WEBHOOK_ID = {
    "in": "path",
    "name": "webhook_id",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": LARGEST_ID},
    "description": "The endpoint's id.",
}
_DELIVERY_ID = {
    "in": "path",
    "name": "delivery_id",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": LARGEST_ID},
    "description": "The delivery's id.",
}
#: The operations on one endpoint: an endpoint's answer links to each (``id`` from the
#: body), so clients and schemathesis' stateful phase can go on from a created one.
WEBHOOK_OPERATIONS = (
    "getWebhook",
    "changeWebhook",
    "removeWebhook",
    "testWebhook",
    "rotateWebhookSecret",
    "listWebhookDeliveries",
)

#: The Standard Webhooks headers of every delivery.
DELIVERY_HEADERS: list[dict[str, Any]] = [
    {
        "in": "header",
        "name": "webhook-id",
        "required": True,
        "schema": {"type": "string", "pattern": "^evt_[0-9a-f]{32}$"},
        "description": "The event id (the payload's `id`), the same on every attempt:"
        " receivers skip an id they handled already.",
    },
    {
        "in": "header",
        "name": "webhook-timestamp",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
        "description": "When this attempt was sent, in Unix seconds; refuse old ones"
        " (the Standard Webhooks libraries allow five minutes).",
    },
    {
        "in": "header",
        "name": "webhook-signature",
        "required": True,
        "schema": {"type": "string", "pattern": "^v1,[A-Za-z0-9+/=]+( v1,[A-Za-z0-9+/=]+)*$"},
        "description": "`v1,` and the base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}"
        ".{body}`, keyed with the bytes of the secret (the base64 after `whsec_`); during a"
        " secret rotation's grace, two of them separated by a space. This is the Standard"
        " Webhooks specification (https://www.standardwebhooks.com): verify with its"
        " libraries.",
    },
]

_EVENT_DESCRIPTIONS = {
    "award.created": "An entity earned a goal (once per award; repeatable goals send it"
    " again). `data`: the award.",
    "award.revoked": "An award was taken back. `data`: the award removed.",
    "assignment.completed": "The assignee of an assigned goal (a to-do list) completed it."
    " `data`: the assignment, with who assigned it.",
    "goal.activated": "A goal went live (defined active, or a draft activated). `data`: the goal.",
    "progress.changed": "An entity's progress on a goal changed. Opt-in: sent only to"
    " endpoints that name it (`*` leaves it out). `data`: the goal, the entity and its"
    " progress.",
    TEST_EVENT: "Sent by `POST /webhooks/{webhook_id}/test` to that endpoint only.",
}


def _payload_schema(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["id", "type", "version", "created_at", "data"],
        "properties": {
            "id": {"type": "string", "pattern": "^evt_[0-9a-f]{32}$"},
            "type": {"const": event_type},
            "version": {"const": PAYLOAD_VERSION},
            "created_at": {"type": "string", "format": "date-time"},
            "data": data,
        },
    }


def add_webhook_components(spec: APISpec, ref: Ref) -> None:
    """The request, answer and payload schemas of webhooks."""
    spec.components.schema("WebhookCreate", object_schema(WebhookIn(), ref))
    spec.components.schema("WebhookPatch", object_schema(WebhookPatchIn(), ref))
    spec.components.schema("SecretRotation", object_schema(RotateIn(), ref))
    spec.components.schema("Webhook", schema=WebhookOut)
    spec.components.schema("WebhookCreated", schema=WebhookCreatedOut)
    spec.components.schema("WebhookDelivery", schema=DeliveryOut)
    spec.components.schema("WebhookPage", schema=schemas.page_schema(WebhookOut, "WebhookPage"))
    spec.components.schema(
        "WebhookDeliveryPage", schema=schemas.page_schema(DeliveryOut, "WebhookDeliveryPage")
    )
    data: dict[str, dict[str, Any]] = {
        "award.created": ref("Award"),
        "award.revoked": ref("Award"),
        "assignment.completed": ref("Assignment"),
        "goal.activated": ref("Goal"),
        "progress.changed": {
            "type": "object",
            "required": ["goal", "entity_type", "entity", "progress"],
            "properties": {
                "goal": {"type": "string"},
                "entity_type": {"type": "string"},
                "entity": {"type": "string"},
                "progress": ref("Progress"),
            },
        },
        TEST_EVENT: {
            "type": "object",
            "required": ["webhook", "message"],
            "properties": {"webhook": {"type": "integer"}, "message": {"type": "string"}},
        },
    }
    for event_type, schema in data.items():
        spec.components.schema(_payload_name(event_type), _payload_schema(event_type, schema))


def _payload_name(event_type: str) -> str:
    """``award.created`` -> ``AwardCreatedPayload``."""
    words = event_type.replace(".", " ").replace("_", " ").split()
    return "".join(word.capitalize() for word in words) + "Payload"


def _links() -> dict[str, Any]:
    return {
        operation_id[0].upper() + operation_id[1:]: {
            "operationId": operation_id,
            "parameters": {"webhook_id": "$response.body#/id"},
        }
        for operation_id in WEBHOOK_OPERATIONS
    }


def add_webhook_paths(path: Callable[..., None], operation: Callable[..., dict[str, Any]]) -> None:
    """The ``/webhooks`` operations, described with openapi.py's ``path`` and
    ``_operation`` helpers."""
    secret_header = {
        "Cache-Control": {"schema": {"type": "string"}, "description": "no-store: a secret."}
    }
    path(
        "/webhooks",
        get=operation(
            "List webhook endpoints",
            operation_id="listWebhooks",
            scope="webhooks:write",
            description="Every endpoint, oldest first, without secrets." + _SCOPE_NOTE,
            query=schemas.PageArgs,
            ok=(200, "A page of endpoints.", "WebhookPage"),
            errors=(),
        ),
        post=operation(
            "Register a webhook endpoint",
            operation_id="addWebhook",
            scope="webhooks:write",
            description="The answer carries the signing secret (`secret`, `whsec_...`):"
            " this once only, give it to the receiver now. The URL is checked at once"
            " (scheme, no credentials nor fragment; a literal private address is refused"
            " unless GAMIFY_WEBHOOK_ALLOW_PRIVATE); a host name is resolved at each"
            " delivery, and a private address it resolves to is refused then." + _SCOPE_NOTE,
            body="WebhookCreate",
            ok=(201, "The endpoint, with its secret.", "WebhookCreated"),
            errors=(),
            headers={
                "Location": {"schema": {"type": "string"}, "description": "The endpoint."},
                **secret_header,
            },
            links=_links(),
        ),
    )
    one = "/webhooks/{webhook_id}"
    path(
        one,
        get=operation(
            "Read a webhook endpoint",
            operation_id="getWebhook",
            scope="webhooks:write",
            description="Its status: enabled, or disabled with the reason (a 410 Gone, days"
            " of failures, a person); since when it fails." + _SCOPE_NOTE,
            parameters=[_WEBHOOK_ID],
            ok=(200, "The endpoint.", "Webhook"),
            errors=(404,),
        ),
        patch=operation(
            "Change a webhook endpoint",
            operation_id="changeWebhook",
            scope="webhooks:write",
            description="The given fields replace the stored ones. `enabled` false stops"
            " deliveries (events keep accumulating); true sends them, including those held"
            " meanwhile, and forgets the failure streak. The URL cannot change: register"
            " a new endpoint." + _SCOPE_NOTE,
            parameters=[_WEBHOOK_ID],
            body="WebhookPatch",
            ok=(200, "The changed endpoint.", "Webhook"),
            errors=(404,),
        ),
        delete=operation(
            "Remove a webhook endpoint",
            operation_id="removeWebhook",
            scope="webhooks:write",
            description="Its delivery log goes with it; pending deliveries are never sent."
            + _SCOPE_NOTE,
            parameters=[_WEBHOOK_ID],
            ok=(200, "The removed endpoint.", "Webhook"),
            errors=(404,),
        ),
    )
    path(
        f"{one}/test",
        post=operation(
            "Send a test event",
            operation_id="testWebhook",
            scope="webhooks:write",
            description="A `webhook.test` event for this endpoint only, whatever it"
            " subscribes to; follow its delivery in the endpoint's deliveries." + _SCOPE_NOTE,
            parameters=[_WEBHOOK_ID],
            ok=(202, "The delivery, queued.", "WebhookDelivery"),
            errors=(404,),
        ),
    )
    path(
        f"{one}/rotate-secret",
        post=operation(
            "Rotate the signing secret",
            operation_id="rotateWebhookSecret",
            scope="webhooks:write",
            description="A new secret, in this answer only. During `grace` seconds every"
            " delivery carries two signatures, by the old and the new secret, so the"
            " receiver can switch at any moment. The body is optional." + _SCOPE_NOTE,
            parameters=[_WEBHOOK_ID],
            body="SecretRotation",
            body_required=False,
            ok=(200, "The endpoint, with its new secret.", "WebhookCreated"),
            errors=(404,),
            headers=secret_header,
        ),
    )
    path(
        f"{one}/deliveries",
        get=operation(
            "An endpoint's delivery log",
            operation_id="listWebhookDeliveries",
            scope="webhooks:write",
            description="Newest first: status, attempts, the next attempt, the receiver's"
            " last HTTP status and the start of its answer, the error." + _SCOPE_NOTE,
            parameters=[_WEBHOOK_ID],
            query=DeliveryListArgs,
            ok=(200, "A page of deliveries, newest first.", "WebhookDeliveryPage"),
            errors=(404,),
        ),
    )
    path(
        "/webhooks/deliveries/{delivery_id}/retry",
        post=operation(
            "Retry a delivery",
            operation_id="retryWebhookDelivery",
            scope="webhooks:write",
            description="Due now, its attempts counted afresh: a dead or failed delivery"
            " is sent again, a delivered one replayed (with the same `webhook-id`)." + _SCOPE_NOTE,
            parameters=[_DELIVERY_ID],
            ok=(200, "The delivery, due now.", "WebhookDelivery"),
            errors=(404,),
        ),
    )


def webhook_payloads(ref: Ref) -> dict[str, Any]:
    """The document's top-level ``webhooks``: what each event type POSTs to receivers."""
    found: dict[str, Any] = {}
    for event_type in (*EVENT_TYPES, TEST_EVENT):
        found[event_type] = {
            "post": {
                "operationId": "receive" + _payload_name(event_type).removesuffix("Payload"),
                "summary": f"{event_type}: {_EVENT_DESCRIPTIONS[event_type].split('.')[0]}",
                "description": _EVENT_DESCRIPTIONS[event_type]
                + " Signed as the Standard Webhooks specification says; delivered at least"
                " once, retried with backoff for about three days.",
                "tags": ["Webhooks"],
                "parameters": DELIVERY_HEADERS,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": ref(_payload_name(event_type)),
                            "examples": {
                                "payload": {
                                    "summary": event_type,
                                    "value": WEBHOOK_PAYLOAD_EXAMPLES[event_type],
                                }
                            },
                        }
                    },
                },
                "responses": {
                    "2XX": {"description": "Accepted: the delivery is done."},
                    "410": {"description": "Gone: the endpoint is disabled, nothing more is sent."},
                    "default": {
                        "description": "Any other answer, a redirect (never followed) or no"
                        " answer within GAMIFY_WEBHOOK_TIMEOUT: the delivery is retried."
                    },
                },
            }
        }
    return found
