"""Read-only records returned by the Python API; ``to_dict()`` gives their JSON form."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from .badges import icon_url
from .criteria import Evaluation, Item

__all__ = [
    "AssignmentView",
    "AwardChangeView",
    "AwardView",
    "GoalVersion",
    "GoalView",
    "NotificationView",
    "ProgressPage",
    "ProgressView",
]


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


@dataclass(frozen=True, slots=True)
class GoalView:
    """A goal definition."""

    key: str
    name: str
    description: str
    criteria: dict[str, Any]
    points: int
    repeatable: bool
    max_awards: int | None
    hidden: bool
    assigned_only: bool
    owner: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    entity_type: str
    archived: bool
    created_at: datetime
    updated_at: datetime
    #: ``"active"``, or ``"draft"`` (never progresses; see :meth:`Gamify.activate_goal`).
    status: str = "active"
    #: The badge's picture: a built-in icon's name (``"trophy"``), or an image's address;
    #: :attr:`icon_url` is where to show it.
    icon: str | None = None

    @property
    def icon_url(self) -> str | None:
        """Where to show :attr:`icon` (``<img src>``): a built-in icon's file, served by
        the REST blueprint at ``{GAMIFY_API_PREFIX}/icons/<name>.svg``, or the image's
        address; ``None`` without an icon. Needs an app context."""
        return icon_url(self.icon)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "status": self.status,
            "name": self.name,
            "description": self.description,
            "icon": self.icon,
            "criteria": self.criteria,
            "points": self.points,
            "repeatable": self.repeatable,
            "max_awards": self.max_awards,
            "hidden": self.hidden,
            "assigned_only": self.assigned_only,
            "owner": self.owner,
            "starts_at": _iso(self.starts_at),
            "ends_at": _iso(self.ends_at),
            "entity_type": self.entity_type,
            "archived": self.archived,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
        }

    def definition(self) -> dict[str, Any]:
        """The arguments of :meth:`Gamify.define_goal` that recreate this goal (for files)."""
        data = self.to_dict()
        for derived in ("archived", "created_at", "updated_at"):
            del data[derived]
        # Defaults (None, "", False, 0, "active") are left out to keep goal files short.
        return {
            key: value
            for key, value in data.items()
            if value not in (None, "", False) and (key, value) != ("status", "active")
        }


@dataclass(frozen=True, slots=True)
class GoalVersion:
    """One version of a goal's definition (see :meth:`Gamify.goal_versions`)."""

    #: The goal's key.
    goal: str
    #: 1 for the first definition, then 2, 3, ... one per change.
    version: int
    changed_at: datetime
    #: Who made the change, when known: ``changed_by=``, or the REST caller.
    changed_by: str | None
    #: ``{field: {"before": ..., "after": ...}}`` for every field that changed, in the
    #: goal's JSON form (:meth:`GoalView.to_dict`); version 1 has every field, with
    #: ``before`` ``None``.
    changes: dict[str, dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "goal": self.goal,
            "version": self.version,
            "changed_at": _iso(self.changed_at),
            "changed_by": self.changed_by,
            "changes": self.changes,
        }


@dataclass(frozen=True, slots=True)
class ProgressView:
    """An entity's progress on one goal."""

    #: The goal's key.
    goal: str
    #: The goal's display name.
    name: str
    current: int | float
    target: int | float
    #: Whole percent, 0 to 100.
    percent: int
    completed: bool
    #: When the goal was first completed, by event time (the ``occurred_at`` of the
    #: event that completed it).
    completed_at: datetime | None
    #: Awards received for the goal (more than one for repeatable goals).
    times_completed: int
    points: int
    #: What the criteria require, in words.
    label: str
    #: Progress of each child criterion of ``all``/``any``, recursively.
    children: tuple[Evaluation, ...] = ()
    #: What is still missing for list-like criteria (see :attr:`Evaluation.missing`).
    missing: tuple[Any, ...] = ()
    #: Each listed value of an ``all_of``, each step of a ``sequence``, with its label
    #: and whether it is done (see :attr:`Evaluation.items`); all done once awarded.
    items: tuple[Item, ...] = ()
    #: Events that arrived too late to count for a windowed criterion of the goal
    #: (older than what the goal had seen, minus ``GAMIFY_LATE_EVENT_ALLOWANCE``).
    late_events: int = 0

    @classmethod
    def build(
        cls,
        goal: str,
        name: str,
        points: int,
        evaluation: Evaluation,
        times_completed: int,
        completed_at: datetime | None,
        late_events: int = 0,
    ) -> ProgressView:
        """Combine an evaluation with what is recorded: an award, once given, stands."""
        completed = times_completed > 0
        current, percent = evaluation.current, evaluation.percent
        if completed:
            current, percent = evaluation.target, 100
        elif percent == 100:
            # The criteria hold but no award was given (the goal ended, for example).
            percent = 99
        return cls(
            goal=goal,
            name=name,
            current=current,
            target=evaluation.target,
            percent=percent,
            completed=completed,
            completed_at=completed_at,
            times_completed=times_completed,
            points=points,
            label=evaluation.label,
            children=evaluation.children,
            missing=() if completed else evaluation.missing,
            items=tuple(Item(item.value, item.label, True) for item in evaluation.items)
            if completed
            else evaluation.items,
            late_events=late_events,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "goal": self.goal,
            "name": self.name,
            "label": self.label,
            "current": self.current,
            "target": self.target,
            "percent": self.percent,
            "completed": self.completed,
            "completed_at": _iso(self.completed_at),
            "times_completed": self.times_completed,
            "points": self.points,
            "missing": list(self.missing),
            "items": [item.to_dict() for item in self.items],
            "children": [child.to_dict() for child in self.children],
            "late_events": self.late_events,
        }


@dataclass(frozen=True, slots=True)
class ProgressPage:
    """A page of an entity's progress list (see :meth:`Gamify.progress_page`)."""

    #: The page's progress, in goal definition order.
    views: list[ProgressView]
    #: Whether goals of the list follow the page.
    more: bool


@dataclass(frozen=True, slots=True)
class AwardView:
    """One completion of a goal by an entity."""

    goal: str
    name: str
    entity_type: str
    entity: str
    #: 1 for the first award of the goal, 2 for the second, ...
    occurrence: int
    points: int
    #: When the award was recorded.
    awarded_at: datetime
    #: When the goal was met, by event time: the ``occurred_at`` of the event that
    #: completed it (for imported history, a moment in the past).
    achieved_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "goal": self.goal,
            "name": self.name,
            "entity_type": self.entity_type,
            "entity": self.entity,
            "occurrence": self.occurrence,
            "points": self.points,
            "awarded_at": _iso(self.awarded_at),
            "achieved_at": _iso(self.achieved_at),
        }


@dataclass(frozen=True, slots=True)
class AwardChangeView:
    """An award given or revoked by a person: a line of the awards' audit trail."""

    id: int
    #: The goal's key, and its display name.
    goal: str
    name: str
    entity_type: str
    entity: str
    #: The award's occurrence (1 for the first award of the goal, ...); for
    #: ``"progress-reset"``, the highest occurrence the entity still held.
    occurrence: int
    #: ``"awarded"``, ``"revoked"``, or ``"progress-reset"`` (a revocation with
    #: ``reset_progress=True`` also restarted the entity's progress on the goal).
    action: str
    #: The award's points, given or taken back (0 for ``"progress-reset"``).
    points: int
    #: Why, in the words of who did it.
    reason: str
    #: Who did it (``changed_by=``), when known.
    changed_by: str | None
    changed_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "goal": self.goal,
            "name": self.name,
            "entity_type": self.entity_type,
            "entity": self.entity,
            "occurrence": self.occurrence,
            "action": self.action,
            "points": self.points,
            "reason": self.reason,
            "changed_by": self.changed_by,
            "changed_at": _iso(self.changed_at),
        }


@dataclass(frozen=True, slots=True)
class AssignmentView:
    """An assigned goal (a to-do list)."""

    id: int
    goal: str
    entity_type: str
    entity: str
    assigned_by: str | None
    assigned_by_type: str
    assigned_at: datetime
    due_at: datetime | None
    completed_at: datetime | None

    @classmethod
    def from_row(cls, row: Any, goal: str) -> Self:
        """Build from a ``gamify_assignments`` row (ORM object or result row)."""
        return cls(
            id=row.id,
            goal=goal,
            entity_type=row.entity_type,
            entity=row.entity_id,
            assigned_by=row.assigned_by,
            assigned_by_type=row.assigned_by_type,
            assigned_at=row.assigned_at,
            due_at=row.due_at,
            completed_at=row.completed_at,
        )

    @property
    def completed(self) -> bool:
        return self.completed_at is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "goal": self.goal,
            "entity_type": self.entity_type,
            "entity": self.entity,
            "assigned_by": self.assigned_by,
            "assigned_by_type": self.assigned_by_type,
            "assigned_at": _iso(self.assigned_at),
            "due_at": _iso(self.due_at),
            "completed_at": _iso(self.completed_at),
            "completed": self.completed,
        }


@dataclass(frozen=True, slots=True)
class NotificationView:
    """A notification for an entity."""

    id: int
    entity_type: str
    entity: str
    #: ``"assignment-completed"`` or ``"goal-completed"``.
    kind: str
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None

    @property
    def read(self) -> bool:
        return self.read_at is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "entity_type": self.entity_type,
            "entity": self.entity,
            "kind": self.kind,
            "data": self.data,
            "created_at": _iso(self.created_at),
            "read_at": _iso(self.read_at),
            "read": self.read,
        }
