"""The :class:`Gamify` extension object: the public Python API, on top of everything."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import redis
from blinker import ANY
from flask import Flask, abort, current_app
from sqlalchemy import delete, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from . import assignments as assignment_store
from . import goals as goal_store
from . import leaderboards, ledger, manual_awards
from . import progress as progress_store
from . import versions as version_store
from . import webhooks as webhook_store
from .backfill import BackfillView, enqueue_backfill, list_backfills, run_backfill, start_backfill
from .badges import badge_image_url, load_badge_image, save_badge_image
from .errors import GamifyError, GoalNotFound, InvalidInputError, LevelsNotDefined
from .events import make_event
from .failures import attempts_allowed
from .leaderboards import LeaderboardView
from .ledger import LedgerEntryView
from .levels import Level, LevelView, level_view, parse_levels
from .models import Event, Goal, utcnow
from .preview import Preview, preview_goal
from .principal import ApiPrincipal
from .processing import BatchResult
from .records import (
    AssignmentView,
    AwardChangeView,
    AwardView,
    GoalVersion,
    GoalView,
    NotificationView,
    ProgressPage,
)
from .state import GamifyState, flush_request_events, get_state, send_signals
from .tracking import EntityLoader, SignalBridge, current_entity, tracks
from .webhook_delivery import DEFAULT_RETRY_DELAYS, deliver_due, wake_delivery
from .webhooks import WebhookDeliveryView, WebhookView

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy

    from .api.keys import ApiKeyView

__all__ = ["Gamify", "GamifyState"]

logger = logging.getLogger("flask_gamify")
F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
#: ``authorizer(action, goal_or_None) -> bool | ApiPrincipal`` (see
#: :meth:`Gamify.api_authorizer`).
ApiAuthorizer = Callable[[str, GoalView | None], bool | ApiPrincipal | None]

#: Every configuration key and its default (see the configuration docs).
DEFAULTS: dict[str, Any] = {
    "GAMIFY_BIND_KEY": None,
    "GAMIFY_TIMEZONE": "UTC",
    "GAMIFY_LATE_EVENT_ALLOWANCE": "7d",
    "GAMIFY_EVENT_RETENTION": "90d",
    "GAMIFY_MAX_ATTRIBUTES_BYTES": 8192,
    "GAMIFY_MAX_ATTRIBUTES_DEPTH": 4,
    "GAMIFY_MAX_FUTURE": "5m",
    "GAMIFY_NOTIFY_AWARDS": True,
    "GAMIFY_LEVELS": None,
    "GAMIFY_NOTIFY_LEVELS": True,
    "GAMIFY_DEFAULT_ENTITY_TYPE": "user",
    "GAMIFY_API_PREFIX": "/gamify/api",
    "GAMIFY_MAX_BATCH": 1000,
    "GAMIFY_MAX_CONTENT_LENGTH": 1024 * 1024,
    "GAMIFY_API_KEY_CACHE": "5s",
    "GAMIFY_REDIS_URL": None,
    "GAMIFY_REDIS_TIMEOUT": 0.25,
    "GAMIFY_SHARDS": 4,
    "GAMIFY_STREAM_PREFIX": "gamify",
    "GAMIFY_QUEUE": "gamify",
    "GAMIFY_BATCH_SIZE": 2000,
    "GAMIFY_MAX_ATTEMPTS": 5,
    "GAMIFY_CLAIM_IDLE": "30s",
    "GAMIFY_DRAIN_SECONDS": "10s",
    "GAMIFY_WORKER_GC_THRESHOLD": 10_000,
    "GAMIFY_WEBHOOK_TIMEOUT": 5,
    "GAMIFY_WEBHOOK_RETRY_DELAYS": list(DEFAULT_RETRY_DELAYS),
    "GAMIFY_WEBHOOK_DISABLE_AFTER": "5d",
    "GAMIFY_WEBHOOK_ALLOW_PRIVATE": False,
    "GAMIFY_WEBHOOK_CONCURRENCY": 8,
    "GAMIFY_WEBHOOK_QUEUE": "gamify-webhooks",
}


class Gamify:
    """Goals, events and progress for a Flask app.

    :param app: the app; or call :meth:`init_app` later (one object can serve many apps).
    :param db: the host's Flask-SQLAlchemy instance; by default the one registered on the
        app.
    """

    def __init__(self, app: Flask | None = None, *, db: SQLAlchemy | None = None) -> None:
        self.db = db
        self._entity_loader: EntityLoader | None = None
        self._api_authorizer: ApiAuthorizer | None = None
        self._bridges: list[SignalBridge] = []
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, *, db: SQLAlchemy | None = None) -> None:
        """Register Flask-Gamify on ``app``: configuration, state and the CLI group."""
        if "gamify" in app.extensions:
            raise RuntimeError(
                "Flask-Gamify is already registered on this app. Create Gamify() without an"
                " app and call init_app(app) once, or Gamify(app) alone, not both."
            )
        for key, value in DEFAULTS.items():
            app.config.setdefault(key, value)
        db = db or self.db or app.extensions.get("sqlalchemy")
        if db is None:
            raise RuntimeError(
                "Flask-Gamify needs Flask-SQLAlchemy: call db.init_app(app) before"
                " gamify.init_app(app), or pass Gamify(app, db=db)."
            )
        state = app.extensions["gamify"] = GamifyState(self, app, db)
        if state.pipeline is not None:
            app.teardown_request(flush_request_events)
        from .cli import gamify_cli

        app.cli.add_command(gamify_cli)
        prefix = app.config["GAMIFY_API_PREFIX"]
        if prefix:
            from .api import create_blueprint

            app.register_blueprint(create_blueprint(), url_prefix=prefix)

    # -- state ----------------------------------------------------------------------

    @property
    def state(self) -> GamifyState:
        """The current app's state; a clear error when ``init_app`` was not called."""
        return get_state()

    def create_all(self) -> None:
        """Create gamify's tables (inside an app context), stamped at the latest revision.

        For tests and quick starts: a database without gamify's tables gets them from
        the models; one that has them is upgraded (:meth:`upgrade_db`). Production
        deployments run ``flask gamify db upgrade`` instead.
        """
        from . import migrate  # Alembic is imported only when needed

        migrate.create_schema(self.state.engine)

    def drop_all(self) -> None:
        """Drop gamify's tables, their migration version and all their data."""
        from . import migrate

        migrate.drop_schema(self.state.engine)

    def upgrade_db(self, revision: str = "head") -> str | None:
        """Upgrade gamify's tables to ``revision`` (default: the latest); return it.

        Runs gamify's own Alembic revisions on gamify's engine, recording the revision
        in ``gamify_alembic_version`` (never the host's ``alembic_version``). Tables made
        by Flask-Gamify 0.1.0, which have no version yet, are adopted first.

        :raises GamifyError: an unknown revision, or the database refused a step.
        """
        from . import migrate

        return migrate.upgrade(self.state.engine, revision)[1]

    def downgrade_db(self, revision: str) -> str | None:
        """Downgrade gamify's tables to ``revision`` (``"base"`` drops them); return it."""
        from . import migrate

        return migrate.downgrade(self.state.engine, revision)[1]

    # -- goals ----------------------------------------------------------------------

    def define_goal(
        self,
        key: str,
        *,
        criteria: Mapping[str, Any],
        changed_by: str | None = None,
        **options: Any,
    ) -> GoalView:
        """Create a goal, or update the goal with this key.

        Every change is recorded as a new version (:meth:`goal_versions`); defining a
        goal exactly as it is records nothing.

        :param key: unique key, such as ``"reader"``.
        :param criteria: the criteria (see the criteria language).
        :param changed_by: who makes the change, recorded with the version.
        :param options: ``name``, ``description``, ``points``, ``repeatable``,
            ``max_awards``, ``hidden``, ``assigned_only``, ``owner``, ``starts_at``,
            ``ends_at``, ``entity_type``.
        :raises CriteriaError: invalid criteria; the message names the field
            (:class:`~flask_gamify.GoalReferenceError` when a ``goal`` criterion names
            no goal, or goals would depend on each other in a cycle).
        :raises GoalError: another invalid option.
        :raises GoalArchived: the goal with this key is archived; restore it first.
        """
        definition = {"key": key, "criteria": criteria, **options}
        return self.define_goals([definition], changed_by=changed_by)[0]

    def define_goals(
        self, definitions: Iterable[Mapping[str, Any]], *, changed_by: str | None = None
    ) -> list[GoalView]:
        """Define several goals at once: all are saved, or none (one transaction).

        New active goals, and active goals whose criteria (or entity type, start, end,
        repeatability) changed, count the history in the event log: their progress is
        rebuilt by a backfill (:meth:`backfill`), at once without Redis, by the workers
        with it. Awards already given stay.

        :param changed_by: who makes the changes, recorded with their versions.
        """
        state = self.state
        with_defaults = [
            {"entity_type": state.default_entity_type, **definition} for definition in definitions
        ]
        to_backfill: list[str] = []
        with state.transaction() as session:
            saved = goal_store.define_goals(
                session, with_defaults, changed_by=changed_by, to_backfill=to_backfill
            )
        for key in to_backfill:
            self.backfill(key)
        return saved

    def check_goal(
        self, key: str, *, criteria: Mapping[str, Any], **options: Any
    ) -> dict[str, Any]:
        """Check a goal definition as :meth:`define_goal` would, without saving anything.

        Editors use it to report mistakes as they are made: the errors, and their field
        paths, are the ones :meth:`define_goal` would raise, ``goal`` criteria that name
        no goal or form a cycle included.

        :param key: the goal's key (an existing key checks a change to that goal).
        :param criteria: the criteria to check.
        :param options: the other options, as :meth:`define_goal` takes them.
        :returns: the validated definition, defaults filled in.
        :raises CriteriaError: invalid criteria (:class:`~flask_gamify.GoalReferenceError`
            for references).
        :raises GoalError: another invalid option.
        """
        definition = {
            "entity_type": self.state.default_entity_type,
            "key": key,
            "criteria": criteria,
            **options,
        }
        with self.state.transaction() as session:
            return goal_store.check_goal(session, definition)

    def activate_goal(
        self,
        key: str,
        *,
        changed_by: str | None = None,
        count_history: bool = True,
        notify: bool = True,
    ) -> GoalView:
        """Make a draft goal live; by default it counts the history in the event log.

        Activating an active goal changes nothing.

        :param changed_by: who activates it, recorded with the goal's version.
        :param count_history: rebuild its progress from the event log (a backfill:
            entities who already qualify get the award now). ``False``: only events from
            now on count.
        :param notify: whether the awards the backfill gives notify their entities
            (``goal-completed`` notifications, with ``GAMIFY_NOTIFY_AWARDS``). Signals
            are sent either way, with ``backfill=True``.
        :raises GoalNotFound: no such goal.
        :raises GoalArchived: the goal is archived; restore it first.
        """
        return self._activate(
            key, changed_by=changed_by, count_history=count_history, notify=notify
        )[0]

    def _activate(
        self,
        key: str,
        *,
        changed_by: str | None = None,
        count_history: bool = True,
        notify: bool = True,
    ) -> tuple[GoalView, BackfillView | None]:
        """:meth:`activate_goal`, with the backfill it started (``None``: none started)."""
        state = self.state
        with state.transaction() as session:
            before = session.execute(select(Goal.status).where(Goal.key == key)).scalar()
            goal = goal_store.activate_goal(session, key, changed_by=changed_by)
        if before == "active" or not count_history:
            return goal, None
        return goal, self.backfill(key, notify=notify)

    def backfill(
        self, key: str, *, revoke: bool = False, notify: bool = True, wait: bool | None = None
    ) -> BackfillView:
        """Rebuild the progress of goal ``key`` from the event log.

        Entities reach what the retained history gives under the current definition;
        new occurrences are awarded (signals carry ``backfill=True``). Awards already
        given stay, unless ``revoke`` removes those the entity no longer qualifies for.

        :param notify: whether the awards it gives notify their entities
            (``goal-completed`` notifications, with ``GAMIFY_NOTIFY_AWARDS``); recorded
            with the backfill, so workers that run it follow it too.
        :param wait: run it now, in this process, and return when it is done. By
            default only without ``GAMIFY_REDIS_URL``; with it the backfill is an RQ job
            on the workers, and the returned view is ``queued`` (follow it with
            :meth:`backfills`).
        """
        state = self.state
        view = start_backfill(state, key, revoke=revoke, notify=notify)
        if wait is None:
            wait = state.pipeline is None
        if wait:
            return run_backfill(current_app._get_current_object(), state, view.id)  # type: ignore[attr-defined]
        try:
            enqueue_backfill(state, view.id, key)
        except redis.RedisError as error:
            # Recorded as queued: a worker starts it once Redis answers again.
            logger.warning(
                "Flask-Gamify could not queue the backfill of %r (%s); workers will start it"
                " when Redis is back.",
                key,
                error,
            )
        return view

    def preview(
        self, criteria_or_key: str | Mapping[str, Any], *, sample: int = 10, **options: Any
    ) -> Preview:
        """What a goal definition would give over the event log; writes nothing.

        :param criteria_or_key: criteria (an unsaved definition), or a goal's key.
        :param sample: how many entities, furthest along first, to return in full.
        :param options: goal options such as ``entity_type``, ``starts_at`` or
            ``repeatable``; with a key, they override the saved goal's.
        :raises CriteriaError: invalid criteria (the message names the field).
        """
        return preview_goal(self.state, criteria_or_key, sample=sample, **options)

    def backfills(self, key: str | None = None) -> list[BackfillView]:
        """Backfills, newest first (of one goal when ``key`` is given)."""
        return list_backfills(self.state, key)

    def goal(self, key: str) -> GoalView:
        """The goal with ``key``; :class:`GoalNotFound` if there is none."""
        with self.state.transaction() as session:
            goal = session.execute(select(Goal).where(Goal.key == key)).scalar_one_or_none()
            if goal is None:
                raise GoalNotFound(key)
            return goal_store.goal_view(goal)

    def goals(
        self,
        *,
        include_archived: bool = False,
        owner: str | None = None,
        entity_type: str | None = None,
    ) -> list[GoalView]:
        """Goal definitions, by key."""
        query = select(Goal).order_by(Goal.key)
        if not include_archived:
            query = query.where(Goal.archived_at.is_(None))
        if owner is not None:
            query = query.where(Goal.owner == owner)
        if entity_type is not None:
            query = query.where(Goal.entity_type == entity_type)
        with self.state.transaction() as session:
            return [goal_store.goal_view(goal) for goal in session.execute(query).scalars()]

    def archive_goal(self, key: str, *, changed_by: str | None = None) -> GoalView:
        """Stop a goal from progressing; its progress and awards stay readable.

        An archived goal keeps its key: :meth:`define_goal` refuses it
        (:class:`~flask_gamify.GoalArchived`) until :meth:`restore_goal` restores it.
        Archiving an archived goal changes nothing.

        :param changed_by: who archives it, recorded with the new version.
        """
        with self.state.transaction() as session:
            return goal_store.archive_goal(session, key, changed_by=changed_by)

    def goal_versions(self, key: str) -> list[GoalVersion]:
        """Every version of the goal ``key``'s definition, oldest first.

        Version 1 is the first definition (every field, ``before`` ``None``); each later
        one holds the fields that changed, ``before`` and ``after``, when and by whom.

        :raises GoalNotFound: no goal has this key.
        """
        with self.state.transaction() as session:
            return version_store.goal_versions(session, key)

    def restore_goal(self, key: str, *, changed_by: str | None = None) -> GoalView:
        """Undo :meth:`archive_goal`: the goal progresses again, as it was defined.

        Events processed while it was archived count: an active goal is backfilled
        (:meth:`backfill`). Restoring an active goal changes nothing.

        :param changed_by: who restores it, recorded with the new version.
        :raises GoalNotFound: no such goal.
        """
        with self.state.transaction() as session:
            was_archived = (
                session.execute(select(Goal.archived_at).where(Goal.key == key)).scalar()
                is not None
            )
            goal = goal_store.restore_goal(session, key, changed_by=changed_by)
        if was_archived and goal.status == "active":
            self.backfill(key)
        return goal

    # -- badge images ---------------------------------------------------------------

    def store_badge_image(self, data: bytes) -> str:
        """Store an uploaded badge picture; return its address, for a goal's ``icon``.

        The image must be PNG, JPEG, GIF or WebP (judged by its first bytes, not a file
        name), of at most 256 KB; SVG is refused (it can carry scripts). It is stored
        once per content, keyed by its SHA-256, and served by the REST blueprint at
        ``{GAMIFY_API_PREFIX}/badge-images/<digest>`` with long caching.

        :raises BadgeImageError: the image was refused (the message says why and what to
            do); an :class:`InvalidInputError` with ``errors["image"]``.
        :raises InvalidInputError: the REST API is off (``GAMIFY_API_PREFIX`` empty), so
            nothing could serve the image.
        """
        with self.state.transaction() as session:
            digest = save_badge_image(session, data)
            # Raises (and so stores nothing) when nothing would serve the image.
            return badge_image_url(digest)

    def badge_image(self, digest: str) -> tuple[str, bytes] | None:
        """``(content type, bytes)`` of the stored badge image ``digest``, or ``None``."""
        with self.state.transaction() as session:
            return load_badge_image(session, digest)

    # -- events ---------------------------------------------------------------------

    def track(
        self,
        event: str,
        entity: str | int,
        *,
        entity_type: str | None = None,
        attributes: Mapping[str, Any] | None = None,
        event_id: str | None = None,
        occurred_at: datetime | str | None = None,
    ) -> str:
        """Record that ``entity`` did ``event``; return the event id.

        Without ``GAMIFY_REDIS_URL`` the event is processed before this returns, so
        :meth:`progress` reflects it at once.

        :raises EventError: the event is malformed (the message names the field).
        """
        state = self.state
        tracked = make_event(
            event,
            entity,
            entity_type=state.entity_type(entity_type),
            attributes=attributes,
            event_id=event_id,
            occurred_at=occurred_at,
            limits=state.limits,
        )
        state.submit([tracked])
        return tracked.id

    def tracks(
        self,
        event: str,
        *,
        attributes: Mapping[str, Any] | Callable[..., Mapping[str, Any]] | None = None,
        entity_type: str | None = None,
    ) -> Callable[[F], F]:
        """Decorate a view to track ``event`` for the current entity after a < 400 response.

        ``attributes`` is a dict, or a callable receiving the view's keyword arguments.
        """
        return tracks(event, attributes=attributes, entity_type=entity_type)

    def connect(
        self,
        signal: Any,
        event: str,
        *,
        entity: Callable[..., Any],
        attributes: Callable[..., Mapping[str, Any]] | None = None,
        entity_type: str | None = None,
        sender: Any = ANY,
    ) -> SignalBridge:
        """Track ``event`` whenever the blinker ``signal`` is sent.

        Only signals sent inside apps this object was registered on are tracked.

        :param entity: called with the signal's sender and keyword arguments; returns the
            entity id (or ``None`` to skip).
        :param attributes: called the same way; returns the event attributes.
        :param sender: only track the signal when sent by this sender (default: any).
        """
        bridge = SignalBridge(self, signal, event, entity, attributes, entity_type, sender)
        self._bridges.append(bridge)
        return bridge

    def entity_loader(self, loader: EntityLoader) -> EntityLoader:
        """Decorate the function that returns the current request's entity id (or ``None``).

        It may also return ``(entity_type, entity_id)``. By default the entity is
        Flask-Login's ``current_user`` when it is installed and authenticated.
        """
        self._entity_loader = loader
        return loader

    @property
    def has_entity_loader(self) -> bool:
        """Whether an :meth:`entity_loader` is registered."""
        return self._entity_loader is not None

    def api_authorizer(self, authorizer: ApiAuthorizer) -> ApiAuthorizer:
        """Decorate a function that replaces API-key checks in the REST API.

        It is called as ``authorizer(action, goal)`` for every API request, with the
        scope-like action (``"events:write"``, ``"goals:read"``, ``"goals:write"``,
        ``"progress:read"``, ``"webhooks:write"``) and the :class:`GoalView` concerned,
        when there is one. Return
        ``True`` to allow without restriction; ``False`` (or ``None``) answers 403; an
        :class:`ApiPrincipal` allows, as a caller bound to a goal owner and/or an entity
        (see the REST API's authorization model). It may read ``flask.request`` (headers,
        session) and abort with 401 itself. It may also be called to decide what to show
        (``"goals:write"`` on a hidden goal, to know whether to list it); there, an abort
        counts as a refusal.
        """
        self._api_authorizer = authorizer
        return authorizer

    # -- API keys -------------------------------------------------------------------

    def create_api_key(
        self, name: str, *, scopes: Iterable[str], owner: str | None = None
    ) -> tuple[ApiKeyView, str]:
        """Create a REST API key; return its view and the key itself.

        The key is returned this once and stored only as a hash: show it to whoever
        asked for it, and keep it nowhere (not in a session cookie, not in a log).

        :param name: a unique name, such as the client that will use the key.
        :param scopes: what the key may do, among ``events:write``, ``goals:read``,
            ``goals:write``, ``progress:read`` and ``webhooks:write`` (see
            :data:`flask_gamify.api.keys.SCOPES`):
            a list, or one string with the names separated by commas or spaces.
        :param owner: bind the key to this goal owner: it then reads and writes only the
            goals whose ``owner`` is this one. ``None`` (the default): every goal.
        :raises InvalidInputError: the name is blank, too long or taken, a scope is
            unknown, or the owner is invalid; :attr:`~InvalidInputError.errors` is keyed
            by ``name``, ``scopes`` or ``owner``.
        """
        from .api import keys as key_store

        if isinstance(scopes, str):
            scopes = scopes.replace(",", " ").split()
        with self.state.transaction() as session:
            return key_store.create_key(session, name, list(scopes), owner=owner)

    def api_keys(self) -> list[ApiKeyView]:
        """Every REST API key, revoked ones too, oldest first (without their secrets)."""
        from .api import keys as key_store

        with self.state.transaction() as session:
            return key_store.list_keys(session)

    def revoke_api_key(self, name_or_prefix: str) -> ApiKeyView:
        """Revoke the API key with this name or prefix (``gmf_3k9x2b7q``).

        Requests with it are answered 401 from then on by this process, and within
        ``GAMIFY_API_KEY_CACHE`` (5 seconds by default) by every other process of the
        app. Revoking a revoked key changes nothing.

        :raises GamifyError: no key has this name or prefix.
        """
        from .api import keys as key_store

        state = self.state
        with state.transaction() as session:
            view = key_store.revoke_key(session, name_or_prefix)
        state.api_key_cache.clear()
        return view

    def current_entity(self) -> tuple[str, str] | None:
        """``(entity_type, entity_id)`` of the current request, or ``None``."""
        return current_entity(self._entity_loader, self.state.default_entity_type)

    def prune_events(self, older_than: timedelta | None = None) -> int:
        """Delete logged events older than ``GAMIFY_EVENT_RETENTION``; return how many.

        Deduplication by event id works within the retention period.

        :param older_than: another age instead of the retention period;
            ``timedelta(0)`` deletes every processed event.
        :raises InvalidInputError: ``older_than`` is negative or not a timedelta.
        """
        if older_than is None:
            older_than = self.state.event_retention
        elif not isinstance(older_than, timedelta) or older_than < timedelta(0):
            raise InvalidInputError(
                {
                    "older_than": [
                        f"Must be a timedelta of 0 or more (got {older_than!r}); 0 deletes"
                        " every processed event, None uses GAMIFY_EVENT_RETENTION."
                    ]
                }
            )
        cutoff = utcnow() - older_than
        with self.state.transaction() as session:
            deleted = session.execute(delete(Event).where(Event.processed_at < cutoff))
            return int(deleted.rowcount)  # type: ignore[attr-defined]

    # -- progress -------------------------------------------------------------------

    def progress(
        self,
        entity: str | int,
        goal: str | None = None,
        *,
        entity_type: str | None = None,
        include_hidden: bool = False,
    ) -> Any:
        """Progress of ``entity``: on ``goal`` (one :class:`ProgressView`), or on every goal
        visible to it (a list, by goal definition order)."""
        state = self.state
        with state.reading() as session:
            views = progress_store.progress(
                session,
                state.processor,
                state.entity_type(entity_type),
                str(entity),
                goal,
                include_hidden=include_hidden,
            )
        return views[0] if goal is not None else views

    def progress_page(
        self,
        entity: str | int,
        *,
        entity_type: str | None = None,
        offset: int = 0,
        limit: int = 50,
        include_hidden: bool = False,
        completed: bool | None = None,
        shown: Callable[[str, bool], bool] | None = None,
    ) -> ProgressPage:
        """A page of :meth:`progress`'s list for ``entity``: the goals from ``offset`` to
        ``offset + limit``, in the same order; only their rows are read and evaluated,
        however many goals there are.

        :param completed: only the goals the entity completed (``True``) or not
            (``False``).
        :param shown: whether the reader may see a goal, called with its key and whether
            the entity completed it (the REST API's authorization); by default all.
        :raises InvalidInputError: ``offset`` below 0 or ``limit`` below 1.
        """
        errors = {}
        if offset < 0:
            errors["offset"] = ["Must be 0 or more: the number of goals before the page."]
        if limit < 1:
            errors["limit"] = ["Must be 1 or more: the most goals the page holds."]
        if errors:
            raise InvalidInputError(errors)
        state = self.state
        with state.reading() as session:
            return progress_store.progress_page(
                session,
                state.processor,
                state.entity_type(entity_type),
                str(entity),
                offset=offset,
                limit=limit,
                include_hidden=include_hidden,
                completed=completed,
                shown=shown,
            )

    def has_completed(
        self, entity: str | int, goal: str, *, entity_type: str | None = None
    ) -> bool:
        """Whether ``entity`` completed ``goal`` at least once."""
        state = self.state
        with state.reading() as session:
            return progress_store.has_completed(
                session, state.entity_type(entity_type), str(entity), goal
            )

    def awards(self, entity: str | int, *, entity_type: str | None = None) -> list[AwardView]:
        """The awards of ``entity``, oldest first."""
        state = self.state
        with state.transaction() as session:
            return progress_store.awards(session, state.entity_type(entity_type), str(entity))

    def points(
        self, entity: str | int, *, entity_type: str | None = None, category: str | None = None
    ) -> int:
        """The points of ``entity``: the sum of its points ledger (one indexed read).

        :param category: a category of points given by :meth:`adjust_points`; by default
            ``"points"``, where goals' points go.
        """
        state = self.state
        with state.transaction() as session:
            return ledger.balance(
                session,
                state.entity_type(entity_type),
                str(entity),
                ledger.DEFAULT_CATEGORY if category is None else category,
            )

    def points_by_category(
        self, entity: str | int, *, entity_type: str | None = None
    ) -> dict[str, int]:
        """The points of ``entity`` in every category it has points in (``{"points": 120,
        "karma": 5}``); empty when it never had any."""
        state = self.state
        with state.transaction() as session:
            return ledger.balances(session, state.entity_type(entity_type), str(entity))

    # -- points ledger and levels ---------------------------------------------------

    def adjust_points(
        self,
        entity: str | int,
        amount: int,
        *,
        reason: str,
        idempotency_key: str | None = None,
        changed_by: str | None = None,
        category: str | None = None,
        entity_type: str | None = None,
    ) -> LedgerEntryView:
        """Give (``amount`` above 0) or take back (below 0) points by hand; return the
        ledger entry.

        The entry is written with the new balance in one transaction; crossing a level
        threshold sends ``level_changed`` and a ``level-changed`` notification.

        :param reason: why, recorded in the ledger; required.
        :param idempotency_key: calling again with the same key (for the same entity)
            returns the first entry and changes nothing: safe to retry.
        :param category: ``"points"`` by default; another name (``"xp"``, ``"karma"``)
            keeps a separate balance, with leaderboards of its own.
        :raises InvalidInputError: a zero or out-of-range amount, an empty reason, a
            malformed entity, category or key (the fields are named).
        :raises IdempotencyConflict: the key was used before for another amount or
            category.
        """
        entry, _ = self._adjust_points(
            entity,
            amount,
            reason=reason,
            idempotency_key=idempotency_key,
            changed_by=changed_by,
            category=category,
            entity_type=entity_type,
        )
        return entry

    def _adjust_points(
        self,
        entity: str | int,
        amount: int,
        *,
        reason: str,
        idempotency_key: str | None,
        changed_by: str | None,
        category: str | None,
        entity_type: str | None,
    ) -> tuple[LedgerEntryView, bool]:
        """:meth:`adjust_points`, and whether it wrote the entry (``False``: an earlier
        call with the same idempotency key did)."""
        state = self.state
        kind = state.entity_type(entity_type)
        entity_id = manual_awards.entity_text(entity)
        category = ledger.DEFAULT_CATEGORY if category is None else category
        errors = ledger.check_adjustment(
            entity=entity_id,
            entity_type=kind,
            amount=amount,
            category=category,
            reason=reason,
            changed_by=changed_by,
            idempotency_key=idempotency_key,
        )
        if errors:
            raise InvalidInputError(errors)
        result = BatchResult()

        def adjust(session: Session) -> LedgerEntryView:
            entry, changes, levels = state.ledger.adjust(
                session,
                entity_type=kind,
                entity_id=entity_id,
                amount=amount,
                category=category,
                reason=reason.strip(),
                changed_by=changed_by,
                idempotency_key=idempotency_key,
                now=utcnow(),
            )
            result.points[:], result.level_changes[:] = changes, levels
            return entry

        entry = self._retrying(adjust)
        send_signals(current_app._get_current_object(), result, manual=True)  # type: ignore[attr-defined]
        # Every new entry changes points (amounts are never 0); a replay changes none.
        return entry, bool(result.points)

    def _retrying(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in a transaction of its own, again after a deadlock."""
        attempt = 0
        while True:
            attempt += 1
            try:
                with self.state.transaction() as session:
                    return work(session)
            except DBAPIError as error:
                if attempt >= attempts_allowed(error):
                    raise

    def points_ledger(
        self,
        entity: str | int,
        *,
        entity_type: str | None = None,
        category: str | None = None,
        before: int | None = None,
        limit: int = 50,
    ) -> list[LedgerEntryView]:
        """The points ledger of ``entity``, newest first.

        :param category: only this category's entries; by default every category.
        :param before: only entries older than this id: pass the last ``id`` of a page
            to get the next one.
        :param limit: at most this many entries (1 to 1000).
        """
        ledger.check_ledger_listing(limit, before, category)
        state = self.state
        with state.transaction() as session:
            return ledger.entries(
                session,
                state.entity_type(entity_type),
                str(entity),
                category=category,
                before=before,
                limit=limit,
            )

    def define_levels(
        self, levels: Sequence[Any], *, entity_type: str | None = None
    ) -> tuple[Level, ...]:
        """Set the levels of an entity type (replacing ``GAMIFY_LEVELS``' ones).

        ``levels`` lists ``{"name": "Silver", "points": 100}`` (or ``(100, "Silver")``)
        from the lowest threshold up. Levels are configuration: call this where the app
        is built, so that workers know them too.

        :raises InvalidInputError: thresholds that do not go up, names used twice, ...
        """
        state = self.state
        parsed = parse_levels(levels)
        state.ledger.levels[state.entity_type(entity_type)] = parsed
        return parsed

    def level(self, entity: str | int, *, entity_type: str | None = None) -> LevelView:
        """The level of ``entity`` (by its points in the default category), and what the
        next level needs.

        :raises LevelsNotDefined: no levels are defined for the entity type.
        """
        state = self.state
        kind = state.entity_type(entity_type)
        levels = state.ledger.levels.get(kind)
        if not levels:
            raise LevelsNotDefined(
                f"No levels are defined for entity type {kind!r}; set GAMIFY_LEVELS or call"
                f" gamify.define_levels([...], entity_type={kind!r})."
            )
        return level_view(levels, self.points(entity, entity_type=kind))

    def leaderboard(
        self,
        entity_type: str | None = None,
        period: str = "all",
        limit: int = 10,
        *,
        around: str | int | None = None,
        category: str | None = None,
        at: datetime | None = None,
    ) -> LeaderboardView:
        """Rank entities by points: all time, or in the ``"day"``, ``"week"`` or
        ``"month"`` containing ``at`` (now by default), cut in ``GAMIFY_TIMEZONE``.

        Competition ranking (1, 2, 2, 4); ties listed by entity id. With ``around``,
        :attr:`LeaderboardView.around` also lists that entity's standing and up to five
        on each side. Answers come from Redis when ``GAMIFY_REDIS_URL`` is set and
        the leaderboards were built (``flask gamify leaderboards rebuild``), else from
        SQL; both give the same answer.

        :raises InvalidInputError: an unknown period, a limit outside 1 to 100, ...
        """
        state = self.state
        kind = state.entity_type(entity_type)
        category = ledger.DEFAULT_CATEGORY if category is None else category
        around_id = None if around is None else manual_awards.entity_text(around)
        leaderboards.check_leaderboard(
            entity_type=kind,
            period=period,
            limit=limit,
            category=category,
            around=around_id,
            at=at,
        )
        now = utcnow()
        chosen = leaderboards.period_of(period, at or now, state.timezone)
        arguments: dict[str, Any] = {
            "entity_type": kind,
            "category": category,
            "period": chosen,
            "limit": limit,
            "around": around_id,
        }
        if state.boards is not None and state.boards.live(chosen, now):
            found = leaderboards.read_redis_safely(state.boards, **arguments)
            if found is not None:
                return found
        with state.transaction() as session:
            return leaderboards.sql_leaderboard(session, **arguments)

    def rebuild_leaderboards(self, periods: Sequence[str] = leaderboards.PERIODS) -> dict[str, int]:
        """Restore the leaderboards in Redis from the SQL ledger; return the members
        written per key. Needs ``GAMIFY_REDIS_URL``; safe while workers run.
        """
        state = self.state
        unknown = [period for period in periods if period not in leaderboards.PERIODS]
        if unknown:
            raise InvalidInputError(
                {"periods": [f"Must be among {', '.join(leaderboards.PERIODS)} (got {unknown})."]}
            )
        if state.boards is None:
            raise GamifyError(
                "Leaderboards are kept in Redis only with GAMIFY_REDIS_URL; without it they"
                " are read from SQL and need no rebuild."
            )
        return state.boards.rebuild(state.session_factory, periods)

    # -- awards given and revoked by hand -------------------------------------------

    def award(
        self,
        entity: str | int,
        goal: str,
        *,
        reason: str,
        changed_by: str | None = None,
        entity_type: str | None = None,
    ) -> AwardView:
        """Give ``entity`` the next occurrence of ``goal`` by hand; return the award.

        It counts like an award the criteria give: the points, the progress
        (``times_completed``), ``goal_completed`` (with ``manual=True``), the
        ``goal-completed`` notification (``GAMIFY_NOTIFY_AWARDS``), and, for an
        ``assigned_only`` goal, the completion of the entity's open assignment. The
        criteria then give only occurrences after it. Recorded in the audit trail
        (:meth:`award_changes`) with ``reason`` and ``changed_by``. A goal's start and
        end dates do not limit awards given by hand.

        :param reason: why, recorded with the award; required.
        :param changed_by: who gives it, recorded with it.
        :raises InvalidInputError: an empty reason, or a malformed entity (the fields
            are named).
        :raises GoalNotFound: no goal has this key.
        :raises AlreadyAwarded: the entity already holds every award the goal allows (a
            goal that is not repeatable, once; a repeatable one, ``max_awards`` times).
        :raises AwardError: the goal is archived, a draft or for another entity type.
        """
        state = self.state
        kind = state.entity_type(entity_type)
        entity_id = manual_awards.entity_text(entity)
        errors = manual_awards.check_change(entity_id, kind, reason, changed_by)
        if errors:
            raise InvalidInputError(errors)
        change = self._by_hand(
            lambda session: manual_awards.give_award(
                session,
                state.processor,
                goal,
                kind,
                entity_id,
                reason=reason.strip(),
                changed_by=changed_by,
                now=utcnow(),
            )
        )
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        send_signals(app, change.result, manual=True)
        send_signals(app, change.follow_up)
        return change.award

    def revoke_award(
        self,
        entity: str | int,
        goal: str,
        occurrence: int | None = None,
        *,
        reason: str,
        changed_by: str | None = None,
        entity_type: str | None = None,
        reset_progress: bool = False,
    ) -> AwardView:
        """Take back an award of ``goal`` from ``entity``; return the award removed.

        Its points go with it; ``award_revoked`` is sent (``manual=True``, with
        ``reason`` and ``changed_by``) and the revocation is recorded in the audit trail
        (:meth:`award_changes`).

        By default the entity's progress stays: the revoked occurrence is not given again
        by the events that earned it, nor by a later backfill, and a repeatable goal is
        earned again by new completions (only :meth:`award` gives a revoked occurrence
        back). With ``reset_progress=True`` the entity starts the goal over: its progress
        is cleared and it earns the goal again from new events (a repeatable goal's next
        award comes once its new completions pass the occurrences it still holds).

        :param occurrence: which award (1 for the first); ``None``: the latest held.
        :param reason: why, recorded with the revocation; required.
        :param changed_by: who revokes it, recorded with it.
        :raises InvalidInputError: an empty reason, a malformed entity or occurrence.
        :raises GoalNotFound: no goal has this key.
        :raises AwardNotFound: the entity does not hold that award.
        """
        state = self.state
        kind = state.entity_type(entity_type)
        entity_id = manual_awards.entity_text(entity)
        errors = manual_awards.check_change(entity_id, kind, reason, changed_by, occurrence)
        if errors:
            raise InvalidInputError(errors)
        change = self._by_hand(
            lambda session: manual_awards.take_back_award(
                session,
                state.processor,
                goal,
                kind,
                entity_id,
                occurrence,
                reason=reason.strip(),
                changed_by=changed_by,
                reset_progress=bool(reset_progress),
                now=utcnow(),
            )
        )
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        send_signals(app, change.result, manual=True, reason=reason.strip(), changed_by=changed_by)
        send_signals(app, change.follow_up)
        return change.award

    def _by_hand(
        self, change: Callable[[Session], manual_awards.HandChange]
    ) -> manual_awards.HandChange:
        """Run ``change`` in a transaction; again when another one won the same award."""
        attempt = 0
        while True:
            attempt += 1
            try:
                with self.state.transaction() as session:
                    return change(session)
            except manual_awards.AwardContended:
                if attempt >= 5:
                    raise GamifyError(
                        "The award changed in another transaction at the same time, five"
                        " times in a row; try again."
                    ) from None
            except DBAPIError as error:  # a deadlock with a batch, say
                if attempt >= attempts_allowed(error):
                    raise

    def award_changes(
        self,
        *,
        goal: str | None = None,
        owner: str | None = None,
        entity: str | int | None = None,
        entity_type: str | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[AwardChangeView]:
        """The awards' audit trail: awards given and revoked by hand, newest first.

        Awards the criteria give are not in it (their events are in the event log).

        :param goal: only this goal's changes.
        :param owner: only changes of goals with this ``owner``.
        :param entity: only this entity's changes (of ``entity_type``, by default
            ``GAMIFY_DEFAULT_ENTITY_TYPE``).
        :param limit: at most this many rows (1 to 1000).
        :param before_id: only rows older than this id: pass the last ``id`` of a page
            to get the next one.
        :raises GoalNotFound: no goal has the key ``goal``.
        :raises InvalidInputError: ``limit`` or ``before_id`` is out of range.
        """
        manual_awards.check_listing(limit, before_id)
        state = self.state
        who = None if entity is None else (state.entity_type(entity_type), str(entity))
        with state.transaction() as session:
            return manual_awards.award_changes(
                session,
                goal_key=goal,
                owner=owner,
                entity=who,
                limit=limit,
                before_id=before_id,
            )

    def requires(
        self, goal: str, *, on_denied: Callable[[], Any] | None = None
    ) -> Callable[[F], F]:
        """Decorate a view so that only entities that completed ``goal`` may see it.

        Others get ``403 Forbidden``, or whatever ``on_denied()`` returns (a redirect,
        say).
        """

        def decorator(view: F) -> F:
            @functools.wraps(view)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                entity = self.current_entity()
                if entity is None or not self.has_completed(entity[1], goal, entity_type=entity[0]):
                    if on_denied is not None:
                        return on_denied()
                    abort(403)
                return current_app.ensure_sync(view)(*args, **kwargs)

            return wrapper  # type: ignore[return-value]

        return decorator

    # -- assignments and notifications ----------------------------------------------

    def assign(
        self,
        goal: str,
        *,
        assignee: str | int,
        assigned_by: str | int | None = None,
        due_at: datetime | None = None,
        entity_type: str | None = None,
        assigned_by_type: str | None = None,
    ) -> AssignmentView:
        """Assign an ``assigned_only`` goal (a to-do list) to ``assignee``.

        Only assignees progress on such goals, with events from the moment of assignment.
        When the assignee completes it, ``assignment-completed`` is sent and
        ``assigned_by`` gets a notification.

        Assigning is idempotent: a goal already assigned to ``assignee`` (open or
        completed, by anyone) is not assigned again, and the existing assignment is
        returned unchanged, its ``assigned_by``, ``due_at`` and ``completed_at``
        included. An ``assigned_at`` earlier than the call tells the caller so.
        """
        state = self.state
        with state.transaction() as session:
            return assignment_store.assign(
                session,
                goal,
                entity_type=state.entity_type(entity_type),
                assignee=str(assignee),
                assigned_by=None if assigned_by is None else str(assigned_by),
                assigned_by_type=state.entity_type(assigned_by_type),
                due_at=due_at,
            )

    def assignments(
        self,
        *,
        assignee: str | int | None = None,
        assigned_by: str | int | None = None,
        entity_type: str | None = None,
    ) -> list[AssignmentView]:
        """Assignments given to ``assignee`` and/or by ``assigned_by``."""
        state = self.state
        with state.transaction() as session:
            return assignment_store.assignments(
                session,
                entity_type=state.entity_type(entity_type),
                assignee=None if assignee is None else str(assignee),
                assigned_by=None if assigned_by is None else str(assigned_by),
            )

    def notifications(
        self,
        entity: str | int,
        *,
        entity_type: str | None = None,
        unread_only: bool = False,
        limit: int = 50,
    ) -> list[NotificationView]:
        """Notifications of ``entity``, newest first."""
        state = self.state
        with state.transaction() as session:
            return assignment_store.notifications(
                session,
                state.entity_type(entity_type),
                str(entity),
                unread_only=unread_only,
                limit=limit,
            )

    def mark_notifications_read(
        self,
        entity: str | int,
        ids: Iterable[int] | None = None,
        *,
        entity_type: str | None = None,
    ) -> int:
        """Mark notifications of ``entity`` read (``ids``, or all); return how many."""
        state = self.state
        with state.transaction() as session:
            return assignment_store.mark_read(
                session,
                state.entity_type(entity_type),
                str(entity),
                None if ids is None else list(ids),
            )

    # -- webhooks -------------------------------------------------------------------

    def add_webhook(self, url: str, *, events: Iterable[str], description: str = "") -> WebhookView:
        """Register an endpoint that receives ``events`` as signed HTTP POSTs.

        The view returned carries the signing secret (``.secret``, ``whsec_...``): give
        it to the receiver now, it is not shown again (:meth:`rotate_webhook_secret`
        makes a new one).

        :param url: ``http`` or ``https``; private addresses are refused unless
            ``GAMIFY_WEBHOOK_ALLOW_PRIVATE`` allows them.
        :param events: event types (:data:`flask_gamify.webhooks.EVENT_TYPES`), or
            ``"*"`` for all of them but the opt-in ``progress.changed``.
        :raises WebhookError: a bad URL, an unknown event type, a refused address.
        """
        state = self.state
        with state.transaction() as session:
            return webhook_store.add_webhook(
                session, url, events, description, state.webhook_settings.policy
            )

    def webhooks(self) -> list[WebhookView]:
        """Every webhook endpoint, oldest first (without secrets)."""
        with self.state.transaction() as session:
            return webhook_store.list_webhooks(session)

    def webhook(self, webhook_id: int) -> WebhookView:
        """One webhook endpoint; :class:`WebhookNotFound` if there is none with that id."""
        with self.state.transaction() as session:
            return webhook_store.get_webhook(session, webhook_id)

    def remove_webhook(self, webhook_id: int) -> WebhookView:
        """Delete an endpoint and its delivery log; its pending deliveries are dropped."""
        with self.state.transaction() as session:
            return webhook_store.remove_webhook(session, webhook_id)

    def update_webhook(
        self,
        webhook_id: int,
        *,
        events: Iterable[str] | None = None,
        description: str | None = None,
    ) -> WebhookView:
        """Change an endpoint's event types and/or description (``None``: unchanged).

        :raises WebhookError: an unknown event type, a description too long.
        """
        with self.state.transaction() as session:
            return webhook_store.update_webhook(
                session, webhook_id, events=events, description=description
            )

    def enable_webhook(self, webhook_id: int) -> WebhookView:
        """Enable an endpoint again; the deliveries held while it was disabled are sent."""
        with self.state.transaction() as session:
            return webhook_store.set_enabled(session, webhook_id, True, None, utcnow())

    def disable_webhook(self, webhook_id: int, *, reason: str | None = None) -> WebhookView:
        """Stop delivering to an endpoint; its events keep accumulating until enabled."""
        with self.state.transaction() as session:
            return webhook_store.set_enabled(session, webhook_id, False, reason, utcnow())

    def rotate_webhook_secret(
        self, webhook_id: int, *, grace: timedelta = timedelta(hours=24)
    ) -> WebhookView:
        """Give an endpoint a new secret (returned, shown once). During ``grace`` every
        delivery carries two signatures, by the old secret and by the new one, so that
        the receiver can switch at any moment within it."""
        with self.state.transaction() as session:
            return webhook_store.rotate_secret(session, webhook_id, grace, utcnow())

    def webhook_deliveries(
        self,
        webhook_id: int | None = None,
        *,
        status: str | None = None,
        limit: int = 100,
        before: int | None = None,
    ) -> list[WebhookDeliveryView]:
        """The delivery log, newest first: of one endpoint, in one status
        (``pending``, ``failed``, ``delivered``, ``dead``).

        :param before: a delivery id: only older deliveries (the next page).
        """
        with self.state.transaction() as session:
            return webhook_store.list_deliveries(session, webhook_id, status, limit, before)

    def webhook_delivery_counts(self) -> dict[int, dict[str, int]]:
        """How many deliveries each endpoint has in each status, by endpoint id."""
        with self.state.transaction() as session:
            return webhook_store.delivery_counts(session)

    def retry_webhook_delivery(
        self, delivery_id: int | None = None, *, webhook_id: int | None = None
    ) -> list[WebhookDeliveryView]:
        """Send a delivery again now, its attempts counted afresh (a dead one, or a
        replay of a delivered one); ``None``: every dead delivery (of the endpoint
        ``webhook_id`` only, when given). Return them."""
        state = self.state
        with state.transaction() as session:
            retried = webhook_store.retry_deliveries(
                session,
                None if delivery_id is None else [delivery_id],
                utcnow(),
                webhook_id=webhook_id,
            )
        if retried:
            wake_delivery(state)
        return retried

    def test_webhook(self, webhook_id: int) -> WebhookDeliveryView:
        """Send a ``webhook.test`` event to an endpoint (whatever it subscribes to);
        return its delivery, to follow in :meth:`webhook_deliveries`."""
        state = self.state
        with state.transaction() as session:
            webhook = webhook_store.get_webhook(session, webhook_id)
            now = utcnow()
            webhook_store.record_event(
                session,
                webhook_store.TEST_EVENT,
                {"webhook": webhook.id, "message": "A test event from Flask-Gamify."},
                now,
                webhook_id=webhook.id,
            )
            (delivery,) = webhook_store.list_deliveries(session, webhook.id, limit=1)
        wake_delivery(state)
        return delivery

    def deliver_webhooks(self, *, budget: float | None = None) -> dict[str, int]:
        """Send the due webhook deliveries now, in this process; return how many ended
        ``delivered``, ``failed`` (retry scheduled) and ``dead``.

        What ``flask gamify webhooks deliver`` runs: the way to deliver without Redis
        (with Redis, the workers do it).
        """
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        return deliver_due(app, self.state, budget=budget)
