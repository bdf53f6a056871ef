"""The REST API's webhook endpoints: register, change, test, rotate, follow deliveries.

Every one needs the ``webhooks:write`` scope, reads included: an endpoint's deliveries
carry every entity's awards and progress, and its secret signs what receivers trust.
For the same reason callers bound to a goal owner or an entity are refused (403):
webhooks are not scoped to an owner's goals, they see everything.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from flask import Response, jsonify, request, url_for
from flask.views import MethodView

from ..errors import WebhookNotFound
from ..state import get_state
from . import schemas
from .auth import Caller, authorize
from .errors import ApiError
from .views import json_body, load, page, query
from .webhook_schemas import (
    LARGEST_ID,
    DeliveryListArgs,
    RotateIn,
    WebhookIn,
    WebhookPatchIn,
)

if TYPE_CHECKING:
    from ..extension import Gamify

__all__ = ["WEBHOOK_ROUTES"]

SCOPE = "webhooks:write"
_ID = re.compile("[0-9]{1,10}")


def _extension() -> Gamify:
    return get_state().extension


def authorize_webhooks() -> Caller:
    """Authorize ``webhooks:write``; refuse callers bound to an owner or an entity."""
    caller = authorize(SCOPE)
    principal = caller.principal
    if principal.owner is not None or principal.entity is not None:
        bound = (
            f"the goal owner {principal.owner!r}"
            if principal.owner is not None
            else f"the entity {principal.entity!r}"
        )
        raise ApiError(
            403,
            f"This caller is bound to {bound}, but webhooks receive every owner's and every"
            " entity's events: only a caller bound to no one may manage them. Use an API key"
            " created without --owner.",
        )
    return caller


def _number(value: str, what: str, listed_at: str) -> int:
    """An id of the URL; an id that cannot exist answers 404, as an unknown one does."""
    if _ID.fullmatch(value) is None or not 1 <= int(value) <= LARGEST_ID:
        raise WebhookNotFound(
            f"There is no {what} with id {value!r:.40}; ids are whole numbers ({listed_at}"
            " lists them)."
        )
    return int(value)


def _webhook_id(value: str) -> int:
    return _number(value, "webhook", "GET /webhooks")


def _location(webhook_id: int) -> str:
    return url_for(".webhook", webhook_id=webhook_id)


class WebhooksView(MethodView):
    def get(self) -> Response:
        authorize_webhooks()
        args = query(schemas.PageArgs())
        endpoints = _extension().webhooks()
        return page(args, lambda _: endpoints, lambda endpoint: endpoint.to_dict())

    def post(self) -> tuple[Response, int, dict[str, str]]:
        authorize_webhooks()
        data = load(WebhookIn(), json_body(), what="webhook")
        endpoint = _extension().add_webhook(
            data["url"], events=data["events"], description=data.get("description", "")
        )
        # The only answer that carries the secret: the caller must keep it now.
        response = jsonify(endpoint.to_dict())
        response.headers["Cache-Control"] = "no-store"
        return response, 201, {"Location": _location(endpoint.id)}


class WebhookView(MethodView):
    def get(self, webhook_id: str) -> Response:
        authorize_webhooks()
        return jsonify(_extension().webhook(_webhook_id(webhook_id)).to_dict())

    def patch(self, webhook_id: str) -> Response:
        authorize_webhooks()
        number = _webhook_id(webhook_id)
        data = load(WebhookPatchIn(), json_body(), what="changes")
        extension = _extension()
        # Validated (and the endpoint found) before anything is enabled or disabled.
        endpoint = extension.update_webhook(
            number, events=data.get("events"), description=data.get("description")
        )
        if data.get("enabled") is True:
            endpoint = extension.enable_webhook(number)
        elif data.get("enabled") is False:
            endpoint = extension.disable_webhook(number, reason="Disabled through the REST API.")
        return jsonify(endpoint.to_dict())

    def delete(self, webhook_id: str) -> Response:
        authorize_webhooks()
        return jsonify(_extension().remove_webhook(_webhook_id(webhook_id)).to_dict())


class WebhookTestView(MethodView):
    def post(self, webhook_id: str) -> tuple[Response, int]:
        authorize_webhooks()
        delivery = _extension().test_webhook(_webhook_id(webhook_id))
        return jsonify(delivery.to_dict()), 202


class WebhookSecretView(MethodView):
    def post(self, webhook_id: str) -> Response:
        authorize_webhooks()
        number = _webhook_id(webhook_id)
        body = json_body() if request.content_length else {}
        data = load(RotateIn(), body, what="body")
        endpoint = _extension().rotate_webhook_secret(
            number, grace=timedelta(seconds=data["grace"])
        )
        response = jsonify(endpoint.to_dict())
        response.headers["Cache-Control"] = "no-store"
        return response


class WebhookDeliveriesView(MethodView):
    def get(self, webhook_id: str) -> Response:
        authorize_webhooks()
        number = _webhook_id(webhook_id)
        args = query(DeliveryListArgs())
        limit: int = args["limit"]
        found = _extension().webhook_deliveries(
            number, status=args.get("status"), limit=limit + 1, before=args.get("before")
        )
        next_url = None
        if len(found) > limit:
            values: dict[str, Any] = {
                **request.args.to_dict(),
                "webhook_id": webhook_id,
                "before": str(found[limit - 1].id),
            }
            next_url = url_for(".webhook_deliveries", **values)
        return jsonify(items=[item.to_dict() for item in found[:limit]], next=next_url)


class DeliveryRetryView(MethodView):
    def post(self, delivery_id: str) -> Response:
        authorize_webhooks()
        number = _number(delivery_id, "delivery", "GET /webhooks/{id}/deliveries")
        (delivery,) = _extension().retry_webhook_delivery(number)
        return jsonify(delivery.to_dict())


#: ``(rule, endpoint, view class)`` of the webhook resources.
WEBHOOK_ROUTES: tuple[tuple[str, str, type[MethodView]], ...] = (
    ("/webhooks", "webhooks", WebhooksView),
    ("/webhooks/<webhook_id>", "webhook", WebhookView),
    ("/webhooks/<webhook_id>/test", "webhook_test", WebhookTestView),
    ("/webhooks/<webhook_id>/rotate-secret", "webhook_rotate_secret", WebhookSecretView),
    ("/webhooks/<webhook_id>/deliveries", "webhook_deliveries", WebhookDeliveriesView),
    ("/webhooks/deliveries/<delivery_id>/retry", "webhook_delivery_retry", DeliveryRetryView),
)
