"""The Operations page of the dashboard (to be completed)."""

from __future__ import annotations

from flask_admin import expose

from .base import GamifyView

__all__ = ["OperationsView"]


class OperationsView(GamifyView):
    """Operations."""

    superuser_only = True

    @expose("/")
    def index(self) -> str:
        return self.render("gamify_admin/operations.html")
