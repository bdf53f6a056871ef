"""The REST API blueprint (``GAMIFY_API_PREFIX``, default ``/gamify/api``)."""

from __future__ import annotations

from flask import Blueprint

__all__ = ["create_blueprint"]


def create_blueprint() -> Blueprint:
    """A new blueprint serving the REST API (registered by :meth:`Gamify.init_app`)."""
    return Blueprint("gamify_api", __name__)
