"""The criteria editor's server side: validation as you type, vocabulary and preview.

(To be completed: the endpoints are mixed into the Goals view.)
"""

from __future__ import annotations

__all__ = ["CriteriaEditorMixin"]


class CriteriaEditorMixin:
    """Endpoints of the criteria builder, mixed into :class:`~.goals.GoalsView`."""
