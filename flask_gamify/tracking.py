"""Tracking from views and signals: ``@tracks``, the current entity, signal bridges.

Tracking never breaks the host app: a view decorated with ``@tracks`` returns what it
would without it, and a failure to track is logged with the event, not raised.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from blinker import ANY
from flask import current_app, has_app_context, has_request_context, request

from .state import GamifyState, get_state

if TYPE_CHECKING:
    from .extension import Gamify

__all__ = ["EntityLoader", "SignalBridge", "current_entity", "tracks"]

logger = logging.getLogger("flask_gamify")
F = TypeVar("F", bound=Callable[..., Any])

#: Returns the current entity id, ``(entity_type, entity_id)``, or ``None``.
EntityLoader = Callable[[], Any]
Attributes = Mapping[str, Any] | Callable[..., Mapping[str, Any]] | None


def _state() -> GamifyState:
    return get_state()


def current_entity(loader: EntityLoader | None, default_type: str) -> tuple[str, str] | None:
    """The entity of the current request: the loader's answer, else Flask-Login's user."""
    value = loader() if loader is not None else _flask_login_user_id()
    if value is None:
        return None
    if isinstance(value, tuple):
        entity_type, entity_id = value
        return str(entity_type), str(entity_id)
    return default_type, str(value)


def _flask_login_user_id() -> str | None:
    try:
        from flask_login import current_user
    except ImportError:
        return None
    if not has_request_context() or not hasattr(current_app, "login_manager"):
        return None
    if current_user is None or not current_user.is_authenticated:
        return None
    user_id: str | None = current_user.get_id()
    return user_id


def tracks(
    event: str, *, attributes: Attributes = None, entity_type: str | None = None
) -> Callable[[F], F]:
    """Decorate a view to track ``event`` for the current entity after a response < 400.

    Works before ``init_app``: everything is resolved when the view runs.

    :param attributes: event attributes: a dict, or a callable that receives the view's
        keyword arguments (``lambda article_id: {"article_id": article_id}``).
    :param entity_type: overrides the type of the loaded entity.
    """

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            response = current_app.make_response(current_app.ensure_sync(view)(*args, **kwargs))
            if response.status_code < 400:
                _track_request(event, attributes, entity_type, kwargs, view)
            return response

        return wrapper  # type: ignore[return-value]

    return decorator


def _track_request(
    event: str,
    attributes: Attributes,
    entity_type: str | None,
    view_args: dict[str, Any],
    view: Callable[..., Any],
) -> None:
    try:
        state = _state()
        entity = state.extension.current_entity()
        if entity is None:
            if not state.warned_no_entity and _no_entity_source(state):
                state.warned_no_entity = True
                _warn_no_entity(event, view)
            return
        values = attributes(**view_args) if callable(attributes) else attributes
        state.extension.track(
            event, entity[1], entity_type=entity_type or entity[0], attributes=values
        )
        if state.pipeline is not None:
            # Written now, confirmed when the request ends: Redis adds the event while
            # Flask finishes the response (see flask_gamify.pipeline.emitter).
            state.pipeline.emitter.send_buffered(state)
    except Exception:
        logger.exception("Flask-Gamify could not track %r for this request.", event)


def _no_entity_source(state: GamifyState) -> bool:
    """Whether nothing could ever give this app's requests an entity.

    An anonymous visitor with Flask-Login set up is normal; no loader and no Flask-Login
    is a setup mistake that would otherwise track nothing, silently, forever.
    """
    if state.extension.has_entity_loader:
        return False
    try:
        import flask_login  # noqa: F401
    except ImportError:
        return True
    return not hasattr(current_app, "login_manager")


def _warn_no_entity(event: str, view: Callable[..., Any]) -> None:
    name = f"{view.__module__}.{view.__qualname__}"
    endpoint = request.endpoint if has_request_context() else None
    logger.warning(
        "@tracks(%r) on the view %s (endpoint %r) tracked nothing: Flask-Gamify cannot tell"
        " who the current entity is. Register a function that returns it with"
        " @gamify.entity_loader, or set up Flask-Login (LoginManager(app)). This warning is"
        " given once per app.",
        event,
        name,
        endpoint,
    )


class SignalBridge:
    """Tracks an event whenever a blinker signal is sent (see :meth:`Gamify.connect`)."""

    def __init__(
        self,
        gamify: Gamify,
        signal: Any,
        event: str,
        entity: Callable[..., Any],
        attributes: Callable[..., Mapping[str, Any]] | None,
        entity_type: str | None,
        sender: Any = ANY,
    ) -> None:
        self.gamify = gamify
        self.signal = signal
        self.event = event
        self.entity = entity
        self.attributes = attributes
        self.entity_type = entity_type
        signal.connect(self.receive, sender=sender, weak=False)

    def receive(self, sender: Any, **kwargs: Any) -> None:
        """The receiver connected to the signal."""
        if not has_app_context():
            logger.error(
                "Flask-Gamify could not track %r: the signal was sent outside an application"
                " context.",
                self.event,
            )
            return
        state = current_app.extensions.get("gamify")
        if state is None or state.extension is not self.gamify:
            return  # an app that another Gamify object (or none) serves
        try:
            entity = self.entity(sender, **kwargs)
            if entity is None:
                return
            values = self.attributes(sender, **kwargs) if self.attributes else None
            self.gamify.track(self.event, entity, entity_type=self.entity_type, attributes=values)
        except Exception:
            logger.exception("Flask-Gamify could not track %r from a signal.", self.event)

    def disconnect(self) -> None:
        """Stop tracking this signal."""
        self.signal.disconnect(self.receive)
