"""Small formatting helpers our templates share: readable times and ages."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

__all__ = ["readable_age", "readable_time"]


def readable_time(moment: datetime | str | None, zone: tzinfo, *, empty: str = "-") -> str:
    """``2026-05-01 14:03`` in ``zone`` (``GAMIFY_TIMEZONE``); ISO text is parsed first."""
    if moment is None or moment == "":
        return empty
    if isinstance(moment, str):
        try:
            parsed = datetime.fromisoformat(moment)
        except ValueError:
            return moment
        return readable_time(parsed, zone, empty=empty)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def readable_age(seconds: float | None) -> str:
    """``42 s``, ``5 min``, ``3 h``, ``2 days``; ``-`` for nothing."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
