"""Flask-Gamify: goals, events and progress for Flask applications.

.. code-block:: python

    from flask_gamify import Gamify, tracks

    gamify = Gamify(app, db=db)
"""

from __future__ import annotations

from .backfill import BackfillView
from .errors import (
    AssignmentError,
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
    InvalidInputError,
)
from .extension import Gamify
from .history import ImportReport
from .preview import Preview, PreviewEntity
from .principal import ApiPrincipal
from .records import (
    AssignmentView,
    AwardView,
    GoalVersion,
    GoalView,
    NotificationView,
    ProgressView,
)
from .tracking import tracks

__all__ = [
    "ApiPrincipal",
    "AssignmentError",
    "AssignmentView",
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
    "ImportReport",
    "InvalidInputError",
    "NotificationView",
    "Preview",
    "PreviewEntity",
    "ProgressView",
    "tracks",
]
