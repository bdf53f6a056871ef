"""The Progress page of the dashboard (to be completed)."""

from __future__ import annotations

from flask_admin import expose

from .base import GamifyView

__all__ = ["ProgressBrowserView"]


class ProgressBrowserView(GamifyView):
    """Progress."""

    @expose("/")
    def index(self) -> str:
        return self.render("gamify_admin/progress_browser.html")
