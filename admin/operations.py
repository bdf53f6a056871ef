"""The Operations page: pipeline health, dead letters, backfill jobs and API keys.

Superusers only. Everything it changes goes through the same functions as the command
line: :mod:`flask_gamify.pipeline.operations` for dead letters (``flask gamify
dead-letters``) and :meth:`Gamify.create_api_key` / :meth:`Gamify.revoke_api_key` for
keys (``flask gamify keys``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import redis
from flask import flash, make_response, redirect, request
from flask_admin import expose

from flask_gamify.api.keys import NAME_LENGTH, SCOPES
from flask_gamify.errors import GamifyError, InvalidInputError
from flask_gamify.pipeline.operations import (
    DeadLetter,
    dead_letters,
    describe_redis_error,
    drop_dead_letters,
    replay_dead_letters,
)

from .base import GamifyView, asset_url
from .display import readable_age, readable_time
from .health import pipeline_health

__all__ = ["OperationsView"]

#: Dead letters listed on the page (the oldest first); the rest are counted.
DEAD_LETTERS_SHOWN = 100
#: Finished backfills listed below the running ones.
FINISHED_BACKFILLS_SHOWN = 10


@dataclass(frozen=True, slots=True)
class DeadLetterRow:
    """A dead letter with its event decoded for a table."""

    id: str
    shard: int
    event_id: str
    event_type: str
    entity: str
    error: str
    attempts: int
    failed_at: str
    raw: str


def _row(letter: DeadLetter) -> DeadLetterRow:
    try:
        event = json.loads(letter.event)
    except ValueError:
        event = None
    if not isinstance(event, dict):
        event = {}
    entity = event.get("entity")
    return DeadLetterRow(
        id=letter.id,
        shard=letter.shard,
        event_id=str(event.get("id") or ""),
        event_type=str(event.get("type") or "(unreadable event)"),
        entity="" if entity is None else f"{event.get('entity_type') or 'user'}:{entity}",
        error=letter.error,
        attempts=letter.attempts,
        failed_at=letter.failed_at,
        raw=letter.event,
    )


class OperationsView(GamifyView):
    """Pipeline health, dead letters (replay, drop), backfill jobs and API keys."""

    superuser_only = True

    @property
    def extra_js(self) -> list[str]:
        return [*super().extra_js, asset_url("gamify_admin/operations.js")]

    # -- the page -------------------------------------------------------------------

    @expose("/")
    def index(self) -> Any:
        return self._page()

    def _page(
        self,
        *,
        created: tuple[Any, str] | None = None,
        key_form: dict[str, Any] | None = None,
        key_errors: dict[str, list[str]] | None = None,
        status: int = 200,
    ) -> Any:
        state = self.state
        health = pipeline_health(state)
        letters: list[DeadLetterRow] = []
        if health.mode == "ok" and health.dead_letters and state.pipeline is not None:
            pipeline = state.pipeline
            try:
                found = dead_letters(pipeline, limit=DEAD_LETTERS_SHOWN, client=pipeline.client)
            except redis.RedisError as error:
                health.mode, health.error = "unreachable", describe_redis_error(pipeline, error)
            else:
                letters = [_row(letter) for letter in found]
        backfills = self.gamify.backfills()
        running = [view for view in backfills if not view.finished]
        finished = [view for view in backfills if view.finished][:FINISHED_BACKFILLS_SHOWN]
        zone = state.timezone
        html = self.render(
            "gamify_admin/operations.html",
            health=health,
            letters=letters,
            running=running,
            finished=finished,
            keys=self.gamify.api_keys(),
            scopes=SCOPES,
            name_length=NAME_LENGTH,
            created=created,
            key_form=key_form or {"name": "", "scopes": [], "owner": ""},
            key_errors=key_errors or {},
            when=lambda moment: readable_time(moment, zone),
            age=readable_age,
            timezone=str(zone),
        )
        response = make_response(html, status)
        if created is not None:  # the page carries a secret: keep it out of every cache
            response.headers["Cache-Control"] = "no-store"
        return response

    # -- dead letters ---------------------------------------------------------------

    @expose("/dead-letters/replay/", methods=("POST",))
    def replay(self) -> Any:
        return self._dead_letters(replay_dead_letters, "Replayed", "put back on their shard")

    @expose("/dead-letters/drop/", methods=("POST",))
    def drop(self) -> Any:
        return self._dead_letters(drop_dead_letters, "Dropped", "deleted for good")

    def _dead_letters(self, operation: Any, done: str, meaning: str) -> Any:
        back = redirect(self.get_url(".index") + "#dead-letters")
        pipeline = self.state.pipeline
        if pipeline is None:
            flash(
                "There are no dead letters without a pipeline: events are processed inline"
                " (GAMIFY_REDIS_URL is not set).",
                "warning",
            )
            return back
        ids: list[str] | None
        if request.form.get("which") == "all":
            ids = None
        else:
            ids = [value for value in request.form.getlist("ids") if value]
            if not ids:
                flash(
                    "No dead letter was selected: tick the ones to act on, or use the"
                    " buttons for all of them.",
                    "warning",
                )
                return back
        try:
            count = operation(pipeline, ids, client=pipeline.client)
        except LookupError as error:
            flash(f"{error} Nothing was changed; the list below is up to date.", "error")
        except redis.RedisError as error:
            flash(describe_redis_error(pipeline, error), "error")
        else:
            flash(f"{done} {count} dead letter(s): {meaning}.", "success")
        return back

    # -- API keys -------------------------------------------------------------------

    @expose("/api-keys/", methods=("POST",))
    def create_key(self) -> Any:
        name = request.form.get("name", "").strip()
        scopes = request.form.getlist("scopes")
        owner = request.form.get("owner", "").strip()
        form = {"name": name, "scopes": scopes, "owner": owner}
        try:
            created = self.gamify.create_api_key(name, scopes=scopes, owner=owner or None)
        except InvalidInputError as error:
            return self._page(key_form=form, key_errors=error.errors, status=422)
        # Rendered in this response, never flashed: the session cookie is signed, not
        # encrypted, and would carry the secret to the browser's storage.
        return self._page(created=created)

    @expose("/api-keys/revoke/", methods=("POST",))
    def revoke_key(self) -> Any:
        back = redirect(self.get_url(".index") + "#api-keys")
        try:
            view = self.gamify.revoke_api_key(request.form.get("key", ""))
        except GamifyError as error:
            flash(str(error), "error")
        else:
            flash(
                f"Revoked the API key {view.name!r} ({view.prefix}): requests with it are"
                " now refused (401).",
                "success",
            )
        return back
