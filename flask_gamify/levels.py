"""Levels: names for thresholds of points, per entity type.

Levels are configuration, not data: ``GAMIFY_LEVELS`` or :meth:`Gamify.define_levels`,
read by every process that builds the app (web processes and workers alike), the way
signal receivers are. Nothing about them is stored, so changing the thresholds changes
every entity's level at once, with no migration; a ``level-changed`` notification is
sent only when points cross a threshold.

An entity's level is the highest one whose threshold its points (in the default
category) reach. Points below the first threshold (negative points, say, when the first
threshold is 0) are "no level yet": :attr:`LevelView.number` 0 and no name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from .errors import ConfigurationError, InvalidInputError

__all__ = [
    "MAX_LEVELS",
    "Level",
    "LevelChange",
    "LevelView",
    "level_view",
    "levels_setting",
    "parse_levels",
]

#: The most levels one entity type may have.
MAX_LEVELS = 1000
#: Longest level name, in characters.
MAX_LEVEL_NAME = 100
#: The largest threshold: what the points of one adjustment may be at most.
MAX_THRESHOLD = 2**53


@dataclass(frozen=True, slots=True)
class Level:
    """A level: its ``name`` and the ``points`` needed to reach it."""

    name: str
    points: int


@dataclass(frozen=True, slots=True)
class LevelView:
    """An entity's level, and what the next one needs."""

    #: 1 for the first level, 2 for the second, ...; 0 below the first threshold.
    number: int
    #: The level's name; ``None`` below the first threshold.
    name: str | None
    #: The entity's points (in the default category).
    points: int
    #: The threshold of the current level (``None`` below the first).
    floor: int | None
    #: The next level's name and threshold (the points it needs); ``None`` at the top
    #: level.
    next_name: str | None
    next_at: int | None
    #: Points still missing for the next level (``None`` at the top level).
    points_to_next: int | None
    #: How far from the current threshold to the next one, 0 to 100 (100 at the top).
    percent: int

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "number": self.number,
            "name": self.name,
            "points": self.points,
            "floor": self.floor,
            "next_name": self.next_name,
            "next_at": self.next_at,
            "points_to_next": self.points_to_next,
            "percent": self.percent,
        }


@dataclass(frozen=True, slots=True)
class LevelChange:
    """Points crossed a level threshold (up, or down after a revocation or adjustment)."""

    entity_type: str
    entity: str
    old: LevelView
    new: LevelView

    @property
    def direction(self) -> str:
        """``"up"`` or ``"down"``."""
        return "up" if self.new.number > self.old.number else "down"


def level_view(levels: Sequence[Level], points: int) -> LevelView:
    """The level ``points`` reach in ``levels`` (ascending thresholds)."""
    number = 0
    for index, level in enumerate(levels):
        if points >= level.points:
            number = index + 1
        else:
            break
    current = levels[number - 1] if number else None
    following = levels[number] if number < len(levels) else None
    if following is None:
        percent = 100
    else:
        start = current.points if current is not None else min(points, following.points)
        span = following.points - start
        percent = 0 if span <= 0 else max(0, min(99, (points - start) * 100 // span))
    return LevelView(
        number=number,
        name=current.name if current is not None else None,
        points=points,
        floor=current.points if current is not None else None,
        next_name=following.name if following is not None else None,
        next_at=following.points if following is not None else None,
        points_to_next=following.points - points if following is not None else None,
        percent=percent,
    )


def parse_levels(value: Any, field: str = "levels") -> tuple[Level, ...]:
    """Check and normalise a list of levels; :class:`InvalidInputError` names each problem.

    Each level is ``{"name": "Silver", "points": 100}`` or a pair ``(100, "Silver")``.
    Thresholds must go strictly up and names must differ; the first threshold may be
    anything (0 usually): points below it have no level yet.
    """
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or not value:
        raise InvalidInputError(
            {
                field: [
                    'Must be a non-empty list of levels such as [{"name": "Bronze",'
                    ' "points": 0}, {"name": "Silver", "points": 100}].'
                ]
            }
        )
    if len(value) > MAX_LEVELS:
        raise InvalidInputError(
            {field: [f"Must have at most {MAX_LEVELS} levels (got {len(value)})."]}
        )
    errors: dict[str, list[str]] = {}
    levels: list[Level] = []
    for index, item in enumerate(value):
        path = f"{field}[{index}]"
        found = len(errors)
        if isinstance(item, Mapping):
            unknown = sorted(str(key) for key in item if key not in ("name", "points"))
            if unknown:
                errors[path] = [
                    f"Unknown field(s) {', '.join(unknown)}; a level has 'name' and 'points'."
                ]
                continue
            name, points = item.get("name"), item.get("points")
        elif isinstance(item, Sequence) and not isinstance(item, str | bytes) and len(item) == 2:
            points, name = item
        else:
            errors[path] = ['Must be {"name": ..., "points": ...} or a pair (points, name).']
            continue
        if not isinstance(name, str) or not name.strip():
            errors[f"{path}.name"] = ["Must be a non-empty string naming the level."]
        elif len(name) > MAX_LEVEL_NAME:
            errors[f"{path}.name"] = [
                f"Must be at most {MAX_LEVEL_NAME} characters long (got {len(name)})."
            ]
        if isinstance(points, bool) or not isinstance(points, int):
            errors[f"{path}.points"] = ["Must be a whole number of points."]
        elif abs(points) > MAX_THRESHOLD:
            errors[f"{path}.points"] = [f"Must be from {-MAX_THRESHOLD} to {MAX_THRESHOLD}."]
        if len(errors) == found:
            levels.append(Level(name.strip(), points))  # type: ignore[union-attr, arg-type]
    if errors:
        raise InvalidInputError(errors)
    for index, (before, after) in enumerate(pairwise(levels), start=1):
        if after.points <= before.points:
            errors[f"{field}[{index}].points"] = [
                f"Thresholds must go up: {after.name!r} needs {after.points} points, not more"
                f" than {before.name!r} ({before.points}). List levels from the lowest."
            ]
    seen: dict[str, int] = {}
    for index, level in enumerate(levels):
        folded = level.name.casefold()
        if folded in seen:
            errors[f"{field}[{index}].name"] = [
                f"The name {level.name!r} is already used by level {seen[folded] + 1};"
                " each level needs a name of its own."
            ]
        seen.setdefault(folded, index)
    if errors:
        raise InvalidInputError(errors)
    return tuple(levels)


def levels_setting(value: Any, default_entity_type: str) -> dict[str, tuple[Level, ...]]:
    """``GAMIFY_LEVELS``: a list of levels for the default entity type, or a dict of
    lists keyed by entity type; ``None`` for none. Errors name the key."""
    if value is None:
        return {}
    by_type = value if isinstance(value, Mapping) else {default_entity_type: value}
    levels = {}
    for entity_type, listed in by_type.items():
        if not isinstance(entity_type, str) or not entity_type:
            raise ConfigurationError(
                f"GAMIFY_LEVELS has the key {entity_type!r}; keys must name entity types"
                " (such as 'user')."
            )
        try:
            levels[entity_type] = parse_levels(listed, f"GAMIFY_LEVELS[{entity_type!r}]")
        except InvalidInputError as error:
            raise ConfigurationError(f"GAMIFY_LEVELS is invalid: {error.message}") from error
    return levels
