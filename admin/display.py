"""What our pages share: readable times, ages and numbers, and checked entity ids.

Times are shown, and due dates entered, in ``GAMIFY_TIMEZONE`` (UTC unless the host
set another zone), always labelled with the zone's name.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, tzinfo
from typing import Any

from flask_gamify.criteria.limits import is_visible, unstorable_text
from flask_gamify.models import ENTITY_LENGTH, ENTITY_TYPE_LENGTH
from flask_gamify.state import get_state

__all__ = [
    "check_entity",
    "check_entity_type",
    "compact_json",
    "format_number",
    "format_time",
    "readable_age",
    "readable_time",
    "site_timezone",
    "zone_name",
]


def site_timezone() -> tzinfo:
    """``GAMIFY_TIMEZONE`` of the current app."""
    return get_state().timezone


def zone_name() -> str:
    """The name of :func:`site_timezone` (``"UTC"``, ``"Europe/Paris"``)."""
    return str(getattr(site_timezone(), "key", site_timezone()))


def format_time(moment: datetime | None, seconds: bool = False) -> str:
    """``2026-05-02 14:30`` (``:05`` more with ``seconds``) in ``GAMIFY_TIMEZONE``; ``""``
    for ``None``."""
    if moment is None:
        return ""
    return _local(moment, site_timezone(), seconds=seconds)


def _local(moment: datetime, zone: tzinfo, *, seconds: bool = False) -> str:
    if moment.tzinfo is None:  # gamify's columns are naive UTC
        moment = moment.replace(tzinfo=UTC)
    pattern = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return moment.astimezone(zone).strftime(pattern)


def readable_time(moment: datetime | str | None, zone: tzinfo, *, empty: str = "-") -> str:
    """``2026-05-01 14:03`` in ``zone`` (``GAMIFY_TIMEZONE``); ISO text is parsed first."""
    if moment is None or moment == "":
        return empty
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment)
        except ValueError:
            return str(moment)
    return _local(moment, zone)


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


def format_number(value: int | float) -> str:
    """``3``, ``2.5``: whole floats without their ``.0``, others as short as they go."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def compact_json(value: Any, limit: int = 120) -> tuple[str, bool]:
    """``key=value`` pairs of an attributes object on one line, cut at ``limit``.

    Returns the text and whether it was cut (then show the whole JSON elsewhere).
    """
    if isinstance(value, dict):
        text = " ".join(
            f"{key}={json.dumps(item, ensure_ascii=False, separators=(',', ':'))}"
            for key, item in value.items()
        )
    else:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if len(text) <= limit:
        return text, False
    return text[: limit - 1] + "…", True


def _check_text(value: str, field: str, what: str, limit: int) -> str | None:
    if not value or not is_visible(value.replace("\x00", "")):
        return f"Enter the {what}."
    if len(value) > limit:
        return (
            f"The {what} is {len(value)} characters long; gamify stores at most {limit}:"
            " check that you pasted an id, not something else."
        )
    problem = unstorable_text(value, field)
    return None if problem is None else problem[1]


def check_entity(value: str, field: str = "entity") -> str | None:
    """The message for an entity id that cannot exist, or ``None`` when it can."""
    return _check_text(value, field, "entity id", ENTITY_LENGTH)


def check_entity_type(value: str, field: str = "entity_type") -> str | None:
    """The message for an entity type that cannot exist, or ``None`` when it can."""
    return _check_text(value, field, "entity type", ENTITY_TYPE_LENGTH)
