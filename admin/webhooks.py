"""The Webhooks page: endpoints, their status and delivery logs (an Operations page).

Superusers only. Everything it changes goes through the public Python API, as ``flask
gamify webhooks`` does: :meth:`Gamify.add_webhook`, :meth:`Gamify.test_webhook`,
:meth:`Gamify.rotate_webhook_secret`, :meth:`Gamify.enable_webhook` and
:meth:`Gamify.disable_webhook`, :meth:`Gamify.remove_webhook`,
:meth:`Gamify.retry_webhook_delivery`. A new secret is rendered in the answer to the
POST that made it, never flashed: the session cookie is signed, not encrypted.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import flash, make_response, redirect, request
from flask_admin import expose

from flask_gamify.errors import GamifyError, InvalidInputError, WebhookNotFound
from flask_gamify.webhooks import (
    DELIVERY_STATUSES,
    EVENT_TYPES,
    MAX_DESCRIPTION_LENGTH,
    OPT_IN_EVENT_TYPES,
    WILDCARD,
    WebhookView,
)

from .base import GamifyView, asset_url, field_errors
from .display import readable_time

__all__ = ["WebhooksView"]

#: Deliveries shown per page of an endpoint's log.
DELIVERIES_PER_PAGE = 50
#: How long the old secret keeps signing after a rotation: the choices offered.
GRACE_CHOICES = (
    ("0", "Stop the old secret now", timedelta(0)),
    ("3600", "Keep it for an hour", timedelta(hours=1)),
    ("86400", "Keep it for a day", timedelta(days=1)),
    ("604800", "Keep it for a week", timedelta(days=7)),
)
#: What each event type means, for the checkboxes.
EVENT_MEANINGS = {
    WILDCARD: "Every event type below but progress.changed.",
    "award.created": "An entity earned a goal.",
    "award.revoked": "An award was taken back.",
    "assignment.completed": "An assigned goal (a to-do list) was completed.",
    "goal.activated": "A goal went live.",
    "progress.changed": "Every step of every entity's progress (a lot of traffic).",
}


class WebhooksView(GamifyView):
    """Webhook endpoints: add, test, rotate, enable/disable, remove; delivery logs."""

    superuser_only = True

    @property
    def extra_js(self) -> list[str]:
        return [*super().extra_js, asset_url("gamify_admin/operations.js")]

    # -- the list -------------------------------------------------------------------

    @expose("/")
    def index(self) -> Any:
        return self._page()

    def _page(
        self,
        *,
        secret: tuple[WebhookView, str] | None = None,
        form: dict[str, Any] | None = None,
        errors: dict[str, list[str]] | None = None,
        status: int = 200,
    ) -> Any:
        zone = self.state.timezone
        html = self.render(
            "gamify_admin/webhooks.html",
            endpoints=self.gamify.webhooks(),
            counts=self.gamify.webhook_delivery_counts(),
            statuses=DELIVERY_STATUSES,
            event_choices=[WILDCARD, *EVENT_TYPES],
            event_meanings=EVENT_MEANINGS,
            opt_in=OPT_IN_EVENT_TYPES,
            grace_choices=GRACE_CHOICES,
            description_length=MAX_DESCRIPTION_LENGTH,
            inline=self.state.pipeline is None,
            secret=secret,
            form=form or {"url": "", "events": [WILDCARD], "description": ""},
            errors=errors or {},
            when=lambda moment: readable_time(moment, zone),
            timezone=str(zone),
        )
        response = make_response(html, status)
        if secret is not None:  # the page carries a secret: keep it out of every cache
            response.headers["Cache-Control"] = "no-store"
        return response

    def _back(self, webhook_id: int | None = None) -> Any:
        anchor = f"#webhook-{webhook_id}" if webhook_id is not None else ""
        return redirect(self.get_url(".index") + anchor)

    # -- changes --------------------------------------------------------------------

    @expose("/add/", methods=("POST",))
    def add(self) -> Any:
        url = request.form.get("url", "").strip()
        events = request.form.getlist("events")
        description = request.form.get("description", "")
        form = {"url": url, "events": events, "description": description}
        try:
            endpoint = self.gamify.add_webhook(url, events=events, description=description)
        except InvalidInputError as error:
            return self._page(form=form, errors=field_errors(error), status=422)
        assert endpoint.secret is not None
        return self._page(secret=(endpoint, endpoint.secret))

    @expose("/<int:webhook_id>/test/", methods=("POST",))
    def test(self, webhook_id: int) -> Any:
        try:
            delivery = self.gamify.test_webhook(webhook_id)
        except WebhookNotFound as error:
            flash(str(error), "error")
            return self._back()
        where = (
            "run 'flask gamify webhooks deliver' to send it (there is no worker without"
            " GAMIFY_REDIS_URL)"
            if self.state.pipeline is None
            else "a worker sends it in a moment"
        )
        flash(
            f"Queued a webhook.test event ({delivery.event_id}) for webhook {webhook_id}:"
            f" {where}. Its delivery shows in the log.",
            "success",
        )
        return redirect(self.get_url(".deliveries", webhook_id=webhook_id))

    @expose("/<int:webhook_id>/rotate/", methods=("POST",))
    def rotate(self, webhook_id: int) -> Any:
        grace = next(
            (value for key, _, value in GRACE_CHOICES if key == request.form.get("grace")),
            None,
        )
        if grace is None:
            flash("Choose how long the old secret keeps signing, then rotate again.", "error")
            return self._back(webhook_id)
        try:
            endpoint = self.gamify.rotate_webhook_secret(webhook_id, grace=grace)
        except GamifyError as error:
            flash(str(error), "error")
            return self._back()
        assert endpoint.secret is not None
        return self._page(secret=(endpoint, endpoint.secret))

    @expose("/<int:webhook_id>/enable/", methods=("POST",))
    def enable(self, webhook_id: int) -> Any:
        return self._change(
            webhook_id,
            lambda: self.gamify.enable_webhook(webhook_id),
            "Enabled webhook {id}: its deliveries, those held meanwhile included, are sent again.",
        )

    @expose("/<int:webhook_id>/disable/", methods=("POST",))
    def disable(self, webhook_id: int) -> Any:
        return self._change(
            webhook_id,
            lambda: self.gamify.disable_webhook(
                webhook_id, reason="Disabled by an operator on the dashboard."
            ),
            "Disabled webhook {id}: nothing is sent to it; its events are kept until it is"
            " enabled again.",
        )

    @expose("/<int:webhook_id>/remove/", methods=("POST",))
    def remove(self, webhook_id: int) -> Any:
        return self._change(
            webhook_id,
            lambda: self.gamify.remove_webhook(webhook_id),
            "Removed webhook {id} ({url}) and its delivery log.",
            anchor=False,
        )

    def _change(self, webhook_id: int, action: Any, done: str, *, anchor: bool = True) -> Any:
        try:
            endpoint = action()
        except GamifyError as error:
            flash(str(error), "error")
            return self._back()
        flash(done.format(id=endpoint.id, url=endpoint.url), "success")
        return self._back(webhook_id if anchor else None)

    # -- the delivery log -----------------------------------------------------------

    @expose("/<int:webhook_id>/")
    def deliveries(self, webhook_id: int) -> Any:
        try:
            endpoint = self.gamify.webhook(webhook_id)
        except WebhookNotFound as error:
            flash(str(error), "error")
            return self._back()
        status = request.args.get("status") or None
        if status not in (None, *DELIVERY_STATUSES):
            status = None
        before = request.args.get("before", "")
        cursor = int(before) if before.isascii() and before.isdigit() else None
        found = self.gamify.webhook_deliveries(
            webhook_id, status=status, limit=DELIVERIES_PER_PAGE + 1, before=cursor
        )
        rows, more = found[:DELIVERIES_PER_PAGE], len(found) > DELIVERIES_PER_PAGE
        zone = self.state.timezone
        return self.render(
            "gamify_admin/webhook_deliveries.html",
            endpoint=endpoint,
            rows=rows,
            next_before=rows[-1].id if more else None,
            status=status,
            statuses=DELIVERY_STATUSES,
            counts=self.gamify.webhook_delivery_counts().get(webhook_id, {}),
            inline=self.state.pipeline is None,
            when=lambda moment: readable_time(moment, zone),
            timezone=str(zone),
        )

    @expose("/<int:webhook_id>/retry/", methods=("POST",))
    def retry(self, webhook_id: int) -> Any:
        back = redirect(self.get_url(".deliveries", webhook_id=webhook_id))
        value = request.form.get("delivery", "")
        try:
            if request.form.get("which") == "dead":
                retried = self.gamify.retry_webhook_delivery(webhook_id=webhook_id)
            elif value.isascii() and value.isdigit():
                retried = self.gamify.retry_webhook_delivery(int(value))
            else:
                flash("No delivery was chosen to retry.", "warning")
                return back
        except GamifyError as error:
            flash(str(error), "error")
            return back
        if not retried:
            flash("There was no dead delivery to retry.", "info")
        else:
            flash(
                f"{len(retried)} delivery(ies) will be sent again now, their attempts counted"
                " afresh.",
                "success",
            )
        return back
