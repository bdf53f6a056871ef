"""The exceptions Flask-Gamify raises.

Every error derives from :class:`GamifyError`. Errors about input a client sent also
derive from the matching werkzeug HTTP exception, so a view that lets one escape answers
with the right status code instead of a 500.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from werkzeug.exceptions import Conflict, HTTPException, NotFound, UnprocessableEntity

__all__ = [
    "AlreadyAwarded",
    "AssignmentError",
    "AwardError",
    "AwardNotFound",
    "BadgeImageError",
    "ConfigurationError",
    "CriteriaError",
    "EventError",
    "GamifyError",
    "GoalArchived",
    "GoalError",
    "GoalIsDraft",
    "GoalNotFound",
    "GoalReferenceError",
    "IdempotencyConflict",
    "InvalidInputError",
    "LevelsNotDefined",
    "WebhookError",
    "WebhookNotFound",
]


class GamifyError(Exception):
    """Base class of every error raised by Flask-Gamify."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        #: The full message, a sentence that names the problem and the fix.
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigurationError(GamifyError, RuntimeError):
    """A ``GAMIFY_*`` setting is invalid; raised by ``init_app``, naming the key.

    Also a :class:`RuntimeError`, which is what ``init_app`` raised for bad settings
    before this class existed.
    """


class _HTTPGamifyError(GamifyError, HTTPException):
    """A :class:`GamifyError` that is also a werkzeug HTTP exception."""

    def __init__(self, message: str) -> None:
        GamifyError.__init__(self, message)
        HTTPException.__init__(self, description=message)

    def __str__(self) -> str:
        return self.message


class InvalidInputError(_HTTPGamifyError, UnprocessableEntity):
    """Input was rejected. :attr:`errors` maps each bad field's path to its messages."""

    def __init__(self, errors: Mapping[str, Sequence[str]], *, summary: str | None = None) -> None:
        #: ``{"criteria.of[1].target": ["Must be a positive integer."]}``
        self.errors: dict[str, list[str]] = {path: list(msgs) for path, msgs in errors.items()}
        lines = [f"{path}: {' '.join(msgs)}" for path, msgs in sorted(self.errors.items())]
        message = "; ".join(lines)
        if summary:
            message = f"{summary} {message}" if message else summary
        super().__init__(message)


class CriteriaError(InvalidInputError):
    """A goal's criteria are invalid; the message names the path of each bad field."""


class GoalError(InvalidInputError):
    """A goal definition (other than its criteria) is invalid."""


class BadgeImageError(InvalidInputError):
    """An uploaded badge image was refused (its type or size); the message is in
    ``errors["image"]``."""

    def __init__(self, message: str) -> None:
        super().__init__({"image": [message]})


class EventError(InvalidInputError):
    """An event is malformed (unknown type of value, too large, too far in the future)."""


class GoalNotFound(_HTTPGamifyError, NotFound):
    """No goal with the given key exists."""

    def __init__(self, key: str) -> None:
        #: The key that was looked up.
        self.key = key
        super().__init__(
            f"No goal with key {key!r} exists. Define it with gamify.define_goal({key!r}, ...)"
            " or check the spelling."
        )


class AssignmentError(_HTTPGamifyError, Conflict):
    """A goal cannot be assigned (it is not ``assigned_only``, or is archived)."""


class GoalReferenceError(CriteriaError):
    """A ``goal`` criterion names a goal that does not exist, or references form a cycle.

    A :class:`CriteriaError` whose HTTP status is 409 Conflict: the criteria are well
    formed, but do not fit the goals defined now.
    """

    code = 409


class GoalIsDraft(_HTTPGamifyError, Conflict):
    """The goal is a draft: it has no progress to rebuild until it is activated."""

    def __init__(self, key: str) -> None:
        #: The key of the draft goal.
        self.key = key
        super().__init__(
            f"The goal {key!r} is a draft: it has no progress to rebuild; activate it first"
            f" (gamify.activate_goal({key!r}), POST /goals/{key}/activate, or flask gamify"
            f" goals activate {key})."
        )


class GoalArchived(_HTTPGamifyError, Conflict):
    """The goal is archived: restore it (``restore_goal``) before changing it."""

    def __init__(self, key: str) -> None:
        #: The key of the archived goal.
        self.key = key
        super().__init__(
            f"The goal {key!r} is archived; restore it first (gamify.restore_goal({key!r}),"
            f" POST /goals/{key}/restore, or flask gamify goals restore {key})."
        )


class AwardError(_HTTPGamifyError, Conflict):
    """An award cannot be given by hand: the entity already holds every occurrence the
    goal allows, or the goal is archived, a draft, or for another entity type."""


class AlreadyAwarded(AwardError):
    """The entity already holds every award the goal allows (once for a goal that is not
    repeatable, ``max_awards`` times for a repeatable one)."""


class AwardNotFound(_HTTPGamifyError, NotFound):
    """The award to revoke does not exist (the entity does not hold it)."""


class WebhookError(InvalidInputError):
    """A webhook cannot be registered or changed as asked: a URL that is not http(s) or
    points at a private address, an unknown event type, ..."""

    def __init__(self, message: str, field: str = "url") -> None:
        super().__init__({field: [message]})


class WebhookNotFound(_HTTPGamifyError, NotFound):
    """No webhook endpoint, or no delivery, has the id given."""


class IdempotencyConflict(_HTTPGamifyError, Conflict):
    """An idempotency key was used before for a different change (another amount, say)."""


class LevelsNotDefined(_HTTPGamifyError, NotFound):
    """No levels are defined for the entity type (``GAMIFY_LEVELS``, ``define_levels``)."""
