"""Flask-Gamify: goals, events and progress for Flask applications.

.. code-block:: python

    from flask_gamify import Gamify, tracks

    gamify = Gamify(app, db=db)
"""

from __future__ import annotations

from .backfill import BackfillView
from .errors import (
    AlreadyAwarded,
    AssignmentError,
    AwardError,
    AwardNotFound,
    BadgeImageError,
    ConfigurationError,
    CriteriaError,
    EventError,
    GamifyError,
    GoalArchived,
    GoalError,
    GoalIsDraft,
    GoalNotFound,
    GoalReferenceError,
    IdempotencyConflict,
    InvalidInputError,
    LevelsNotDefined,
    WebhookError,
    WebhookNotFound,
)
from .extension import Gamify
from .history import ImportReport
from .leaderboards import LeaderboardView, Standing
from .ledger import LedgerEntryView
from .levels import Level, LevelView
from .preview import Preview, PreviewEntity
from .principal import ApiPrincipal
from .records import (
    AssignmentView,
    AwardChangeView,
    AwardView,
    GoalVersion,
    GoalView,
    NotificationView,
    ProgressView,
)
from .tracking import tracks
from .webhooks import WebhookDeliveryView, WebhookView

__all__ = [
    "AlreadyAwarded",
    "ApiPrincipal",
    "AssignmentError",
    "AssignmentView",
    "AwardChangeView",
    "AwardError",
    "AwardNotFound",
    "AwardView",
    "BackfillView",
    "BadgeImageError",
    "ConfigurationError",
    "CriteriaError",
    "EventError",
    "Gamify",
    "GamifyError",
    "GoalArchived",
    "GoalError",
    "GoalIsDraft",
    "GoalNotFound",
    "GoalReferenceError",
    "GoalVersion",
    "GoalView",
    "IdempotencyConflict",
    "ImportReport",
    "InvalidInputError",
    "LeaderboardView",
    "LedgerEntryView",
    "Level",
    "LevelView",
    "LevelsNotDefined",
    "NotificationView",
    "Preview",
    "PreviewEntity",
    "ProgressView",
    "Standing",
    "WebhookDeliveryView",
    "WebhookError",
    "WebhookNotFound",
    "WebhookView",
    "tracks",
]
