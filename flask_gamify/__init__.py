"""Flask-Gamify: goals, events and progress for Flask applications.

.. code-block:: python

    from flask_gamify import Gamify, tracks

    gamify = Gamify(app, db=db)
"""

from __future__ import annotations

from .errors import (
    AssignmentError,
    ConfigurationError,
    CriteriaError,
    EventError,
    GamifyError,
    GoalArchived,
    GoalError,
    GoalNotFound,
    GoalReferenceError,
    InvalidInputError,
)
from .extension import Gamify
from .principal import ApiPrincipal
from .records import AssignmentView, AwardView, GoalView, NotificationView, ProgressView
from .tracking import tracks

__all__ = [
    "ApiPrincipal",
    "AssignmentError",
    "AssignmentView",
    "AwardView",
    "ConfigurationError",
    "CriteriaError",
    "EventError",
    "Gamify",
    "GamifyError",
    "GoalArchived",
    "GoalError",
    "GoalNotFound",
    "GoalReferenceError",
    "GoalView",
    "InvalidInputError",
    "NotificationView",
    "ProgressView",
    "tracks",
]
