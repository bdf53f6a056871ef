"""What Flask-Gamify keeps per app (:class:`GamifyState`) and how code reaches it.

The low module every other one depends on: the REST API, the pipeline, the CLI, tracking
and the admin find the current app's state with :func:`get_state`, and the extension
object (:mod:`flask_gamify.extension`) sits on top, creating it in ``init_app``. Nothing
here imports the extension module at run time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING

import redis
from flask import Flask, current_app
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from . import config as settings
from . import signals
from .errors import GamifyError
from .events import EventLimits, TrackedEvent
from .leaderboards import RedisBoards
from .ledger import PointsLedger
from .levels import levels_setting
from .models import ENTITY_TYPE_LENGTH
from .pipeline.settings import Pipeline
from .pipeline.streams import StreamKeys
from .processing import BatchProcessor, BatchResult
from .webhook_delivery import WebhookSettings, wake_delivery

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy

    from .api.keys import KeyCache
    from .extension import Gamify

__all__ = ["GamifyState", "flush_request_events", "get_state", "send_signals"]


class GamifyState:
    """What Flask-Gamify keeps per app, as ``app.extensions["gamify"]``."""

    def __init__(self, extension: Gamify, app: Flask, db: SQLAlchemy) -> None:
        #: The :class:`Gamify` object that registered this state.
        self.extension = extension
        #: The host's Flask-SQLAlchemy instance.
        self.db = db
        config = app.config
        # Every setting is read (and so checked) here: a wrong one fails init_app,
        # naming the key, and nothing is registered.
        self.bind_key: str | None = settings.optional_name(config, "GAMIFY_BIND_KEY")
        self.timezone = settings.timezone(config)
        self.late_event_allowance = settings.duration(
            config, "GAMIFY_LATE_EVENT_ALLOWANCE", allow_zero=True
        )
        self.event_retention = settings.duration(config, "GAMIFY_EVENT_RETENTION")
        self.limits = EventLimits(
            attributes_bytes=settings.integer(config, "GAMIFY_MAX_ATTRIBUTES_BYTES"),
            attributes_depth=settings.integer(
                config, "GAMIFY_MAX_ATTRIBUTES_DEPTH", maximum=settings.MAX_ATTRIBUTES_DEPTH
            ),
            future=settings.duration(config, "GAMIFY_MAX_FUTURE", allow_zero=True),
        )
        self.notify_awards = settings.flag(config, "GAMIFY_NOTIFY_AWARDS")
        self.default_entity_type: str = settings.name(
            config, "GAMIFY_DEFAULT_ENTITY_TYPE", maximum=ENTITY_TYPE_LENGTH
        )
        settings.check_api_settings(config)
        #: The ``GAMIFY_WEBHOOK_*`` settings.
        self.webhook_settings = WebhookSettings.from_config(config)
        #: Points ledger and levels (``GAMIFY_LEVELS``, :meth:`Gamify.define_levels`).
        self.ledger = PointsLedger(
            levels=levels_setting(config["GAMIFY_LEVELS"], self.default_entity_type),
            notify_levels=settings.flag(config, "GAMIFY_NOTIFY_LEVELS"),
        )
        self._session_factory: sessionmaker[Session] | None = None
        self._reading_factory: sessionmaker[Session] | None = None
        #: How long a process trusts a key that authenticated (``GAMIFY_API_KEY_CACHE``).
        self.api_key_cache_seconds = settings.duration(
            config, "GAMIFY_API_KEY_CACHE", allow_zero=True
        ).total_seconds()
        self._api_key_cache: KeyCache | None = None
        self._processor: BatchProcessor | None = None
        #: The Redis pipeline, or ``None`` for inline processing (no GAMIFY_REDIS_URL).
        self.pipeline: Pipeline | None = _pipeline(app) if settings.redis_url(config) else None
        #: Leaderboards kept in Redis (with a pipeline), or ``None``: SQL answers alone.
        self.boards: RedisBoards | None = (
            None
            if self.pipeline is None
            else RedisBoards(
                client=self.pipeline.client,
                prefix=self.pipeline.keys.prefix,
                timezone=self.timezone,
                grace=max(self.late_event_allowance, timedelta(days=1)),
            )
        )
        #: Whether ``@tracks`` warned that no entity can be found (once per app).
        self.warned_no_entity = False

    def entity_type(self, given: str | None) -> str:
        """``given``, or ``GAMIFY_DEFAULT_ENTITY_TYPE`` when it is ``None``."""
        return self.default_entity_type if given is None else given

    @property
    def engine(self) -> Engine:
        """Gamify's engine: the host's default one, or ``GAMIFY_BIND_KEY``'s."""
        try:
            engine = self.db.engines[self.bind_key]
        except KeyError as error:
            raise GamifyError(
                f"GAMIFY_BIND_KEY = {self.bind_key!r} is not in SQLALCHEMY_BINDS; add that bind"
                " or unset GAMIFY_BIND_KEY to use the default database."
            ) from error
        if isinstance(engine.pool, StaticPool) and self.bind_key is None:
            raise GamifyError(
                "Flask-Gamify writes through a session of its own, which an in-memory SQLite"
                " database shared with the app cannot give it. Use a file"
                " (sqlite:///app.db) or a separate bind named in GAMIFY_BIND_KEY."
            )
        return engine

    @property
    def session_factory(self) -> sessionmaker[Session]:
        if self._session_factory is None:
            self._session_factory = sessionmaker(bind=self.engine, expire_on_commit=False)
        return self._session_factory

    @property
    def api_key_cache(self) -> KeyCache:
        """The REST API's keys that authenticated recently (see :class:`KeyCache`)."""
        if self._api_key_cache is None:
            from .api.keys import KeyCache  # the api package imports this module

            self._api_key_cache = KeyCache(self.api_key_cache_seconds)
        return self._api_key_cache

    @property
    def processor(self) -> BatchProcessor:
        if self._processor is None:
            self._processor = BatchProcessor(
                self.session_factory,
                timezone=self.timezone,
                late_event_allowance=self.late_event_allowance,
                notify_awards=self.notify_awards,
                ledger=self.ledger,
            )
        return self._processor

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session of gamify's own in a transaction, committed on success."""
        with self.session_factory() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session of gamify's own for a read, outside a transaction (autocommit).

        Each statement sees what was committed when it ran, as it does in PostgreSQL's
        default READ COMMITTED transactions, without their BEGIN and COMMIT round trips.
        For reads whose statements need no common snapshot, and single-statement writes.
        """
        if self._reading_factory is None:
            engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
            self._reading_factory = sessionmaker(bind=engine, expire_on_commit=False)
        with self._reading_factory() as session:
            yield session

    def submit(self, events: list[TrackedEvent]) -> BatchResult | None:
        """Hand validated events to processing.

        With ``GAMIFY_REDIS_URL``, they go to the Redis streams (at the end of the current
        request, in one round trip) and ``None`` is returned; otherwise they are processed
        now and the :class:`BatchResult` is returned. Every entry point (``track()``,
        ``@tracks``, signal bridges, the REST API) goes through here.
        """
        if self.pipeline is not None:
            self.pipeline.emitter.submit(self, events)
            return None
        result = self.processor.process(events)
        send_signals(current_app._get_current_object(), result)  # type: ignore[attr-defined]
        return result


def _pipeline(app: Flask) -> Pipeline:
    config = app.config
    timeout = settings.positive_number(config, "GAMIFY_REDIS_TIMEOUT")
    url = settings.redis_url(config)
    assert url is not None
    return Pipeline(
        url=url,
        client=redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout),
        keys=StreamKeys(
            settings.name(config, "GAMIFY_STREAM_PREFIX"),
            settings.integer(config, "GAMIFY_SHARDS", maximum=1024),
        ),
        queue_name=settings.name(config, "GAMIFY_QUEUE"),
        batch_size=settings.integer(config, "GAMIFY_BATCH_SIZE"),
        max_attempts=settings.integer(config, "GAMIFY_MAX_ATTEMPTS"),
        claim_idle_ms=int(settings.duration(config, "GAMIFY_CLAIM_IDLE").total_seconds() * 1000),
        drain_seconds=settings.duration(config, "GAMIFY_DRAIN_SECONDS").total_seconds(),
        worker_gc_threshold=settings.integer(
            config, "GAMIFY_WORKER_GC_THRESHOLD", minimum=0, maximum=10_000_000
        ),
    )


def flush_request_events(error: BaseException | None = None) -> None:
    state: GamifyState = current_app.extensions["gamify"]
    if state.pipeline is not None:
        state.pipeline.emitter.flush_request(state)


def send_signals(
    app: Flask,
    result: BatchResult,
    *,
    backfill: bool = False,
    manual: bool = False,
    reason: str | None = None,
    changed_by: str | None = None,
) -> None:
    """Send the signals of a committed batch, with ``app`` as sender.

    :param backfill: the batch rebuilt history (a backfill or an import): receivers get
        ``backfill=True`` and can skip what only makes sense live, such as mails.
    :param manual: a person gave or revoked an award by hand (receivers get
        ``manual=True``); ``reason`` and ``changed_by`` go with ``award_revoked``.

    When the batch put webhook deliveries in the outbox, a delivery job is queued first
    (with Redis; inline, ``flask gamify webhooks deliver`` sends them).
    """
    if result.webhook_deliveries:
        state: GamifyState = app.extensions["gamify"]
        wake_delivery(state)
    if result.points:
        sync_leaderboards(app.extensions["gamify"], result)
    for event in result.accepted:
        signals.event_tracked.send(app, event=event, backfill=backfill, manual=manual)
    # Progress views are built only when someone listens: most batches have no receiver.
    for change in result.changes if signals.progress_changed.receivers else ():
        signals.progress_changed.send(
            app,
            goal=change.goal,
            entity=change.entity,
            entity_type=change.entity_type,
            progress=change.progress,
            backfill=backfill,
            manual=manual,
        )
    for award in result.awards:
        signals.goal_completed.send(
            app,
            goal=award.goal,
            entity=award.entity,
            entity_type=award.entity_type,
            award=award,
            backfill=backfill,
            manual=manual,
        )
    for assignment in result.assignments:
        signals.assignment_completed.send(
            app,
            goal=assignment.goal,
            entity=assignment.entity,
            entity_type=assignment.entity_type,
            assigned_by=assignment.assigned_by,
            assignment=assignment,
            backfill=backfill,
            manual=manual,
        )
    for award in result.revoked:
        signals.award_revoked.send(
            app,
            goal=award.goal,
            entity=award.entity,
            entity_type=award.entity_type,
            award=award,
            reason=reason,
            changed_by=changed_by,
            backfill=backfill,
            manual=manual,
        )
    for level in result.level_changes:
        signals.level_changed.send(
            app,
            entity=level.entity,
            entity_type=level.entity_type,
            old=level.old,
            new=level.new,
            direction=level.direction,
            backfill=backfill,
            manual=manual,
        )


def sync_leaderboards(state: GamifyState, result: BatchResult) -> None:
    """After a commit that wrote points: bring the Redis leaderboards up to date.

    Never fails the caller (the points are committed): a failure is logged, and
    ``flask gamify leaderboards rebuild`` restores what was missed.
    """
    if state.boards is None:
        return
    logger = logging.getLogger("flask_gamify")
    try:
        state.boards.sync(state.session_factory, result.points)
    except (redis.ConnectionError, redis.TimeoutError) as error:
        # An outage, not a bug: no traceback, the same advice.
        logger.warning(
            "Leaderboards in Redis missed a change of points (Redis is unavailable: %s);"
            " run 'flask gamify leaderboards rebuild' once Redis is back.",
            error,
        )
    except Exception:
        logger.exception(
            "Leaderboards in Redis missed a change of points; run 'flask gamify"
            " leaderboards rebuild' once Redis is back."
        )


def get_state() -> GamifyState:
    """The current app's :class:`GamifyState`, with a helpful error when it is missing."""
    try:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
    except RuntimeError as error:
        raise RuntimeError(
            "Flask-Gamify needs an application context: call it inside a request, a CLI"
            " command, or 'with app.app_context():'."
        ) from error
    state = app.extensions.get("gamify")
    if state is None:
        raise RuntimeError(
            "Flask-Gamify is not registered on this app: call gamify.init_app(app) (or"
            " Gamify(app, db=db)) when creating the app."
        )
    return state  # type: ignore[no-any-return]
