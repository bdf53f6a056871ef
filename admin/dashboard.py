"""The Dashboard page of the dashboard (to be completed)."""

from __future__ import annotations

from flask_admin import expose

from .base import GamifyView

__all__ = ["DashboardView"]


class DashboardView(GamifyView):
    """Dashboard."""

    @expose("/")
    def index(self) -> str:
        return self.render("gamify_admin/dashboard.html")
