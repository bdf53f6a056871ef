"""Flask-Gamify: goals, events and progress for Flask applications."""

from __future__ import annotations

from .errors import CriteriaError, GamifyError

__all__ = ["CriteriaError", "GamifyError"]
