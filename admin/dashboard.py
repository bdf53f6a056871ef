"""The Dashboard: events and awards per day, top goals, a funnel, stuck entities, health.

The index of an Admin of our own (endpoint ``gamify_admin``), or a "Dashboard" view in a
host's Admin (``gamify_dashboard``): templates use relative ``url_for('.index')``.
Authors see the numbers of their own goals only, and no pipeline section. Every chart
has a table of its numbers beside it, so the page reads without JavaScript.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import request, url_for
from flask_admin import expose
from werkzeug.routing import BuildError

from flask_gamify.models import utcnow

from .base import GamifyView, asset_url
from .display import readable_age, readable_time
from .health import pipeline_health
from .statistics import collect

__all__ = ["DashboardView"]

#: The periods one can choose, in days.
PERIODS = (7, 30, 90)
DEFAULT_PERIOD = 30
#: Days without an update after which unfinished progress counts as stuck.
DEFAULT_STUCK_DAYS = 7
MAX_STUCK_DAYS = 365

CHART_JS = "vendor/chart.js-4.6.1/chart.umd.min.js"


class DashboardView(GamifyView):
    """Charts of what happens, each with its numbers."""

    @property
    def extra_js(self) -> list[str]:
        return [*super().extra_js, asset_url(CHART_JS), asset_url("gamify_admin/dashboard.js")]

    @expose("/")
    def index(self) -> Any:
        errors: dict[str, str] = {}
        days = request.args.get("days", type=int) or DEFAULT_PERIOD
        if days not in PERIODS:
            errors["days"] = f"Choose a period of {', '.join(map(str, PERIODS))} days."
            days = DEFAULT_PERIOD
        stuck_text = request.args.get("stuck_days", "")
        stuck_days = DEFAULT_STUCK_DAYS
        if stuck_text:
            try:
                stuck_days = int(stuck_text)
                if not 1 <= stuck_days <= MAX_STUCK_DAYS:
                    raise ValueError(stuck_text)
            except ValueError:
                errors["stuck_days"] = (
                    f"Give a whole number of days from 1 to {MAX_STUCK_DAYS}"
                    f" (got {stuck_text!r}); {DEFAULT_STUCK_DAYS} is used meanwhile."
                )
                stuck_days = DEFAULT_STUCK_DAYS
        state = self.state
        scope = self.scope()
        with state.transaction() as session:
            numbers = collect(
                session,
                scope,
                now=utcnow(),
                zone=state.timezone,
                days=days,
                stuck_after=timedelta(days=stuck_days),
                max_future=state.limits.future,
            )
        health = pipeline_health(state) if scope.everything else None
        zone = state.timezone
        retention = state.event_retention
        chart_data = {
            "days": [day.isoformat() for day in numbers.days],
            "events": numbers.events_per_day,
            "awards": numbers.awards_per_day,
            "topGoals": {
                "labels": [row.name or row.key for row in numbers.top_goals],
                "awards": [row.awards for row in numbers.top_goals],
            },
            "funnel": {
                "labels": [row.name or row.key for row in numbers.funnel],
                "started": [row.started for row in numbers.funnel],
                "completed": [row.completed for row in numbers.funnel],
            },
        }
        # Newest day first in the tables: the day one looks for is usually today.
        labels = [day.isoformat() for day in numbers.days]
        tables = {
            "events": list(zip(labels, numbers.events_per_day, strict=True))[::-1],
            "awards": list(zip(labels, numbers.awards_per_day, strict=True))[::-1],
            "top_goals": [(row.name or row.key, row.awards) for row in numbers.top_goals],
        }
        return self.render(
            "gamify_admin/dashboard.html",
            numbers=numbers,
            tables=tables,
            chart_data=chart_data,
            health=health,
            days=days,
            periods=PERIODS,
            stuck_days=stuck_days,
            errors=errors,
            retention_days=retention.total_seconds() / 86400,
            timezone=str(zone),
            when=lambda moment: readable_time(moment, zone),
            age=readable_age,
            operations_url=_url_or_none("gamify_operations.index"),
            goals_url=_url_or_none("gamify_goals.index_view"),
            progress_url=_progress_url,
        )


def _url_or_none(endpoint: str, **values: Any) -> str | None:
    try:
        return url_for(endpoint, **values)
    except BuildError:  # a view that is not there: no link rather than an error page
        return None


def _progress_url(entity_type: str, entity: str) -> str | None:
    return _url_or_none("gamify_progress.index", entity=entity, entity_type=entity_type)
