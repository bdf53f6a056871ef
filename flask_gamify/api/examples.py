"""Request examples of the OpenAPI document, shown by the docs page's viewer.

Each map is an OpenAPI ``examples`` object (name to ``summary`` and ``value``). Every
value is a request the API accepts: ``tests/test_api_openapi.py`` sends them all, and
schemathesis' examples phase sends them too.
"""

from __future__ import annotations

from typing import Any

__all__ = ["REQUEST_EXAMPLES"]


def _examples(**named: tuple[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: {"summary": summary, "value": value} for name, (summary, value) in named.items()}


#: One full goal definition per criterion type (``docs/criteria.rst``), by type.
GOAL_EXAMPLES: dict[str, tuple[str, dict[str, Any]]] = {
    "count": (
        "count: log in 5 times within a week",
        {
            "key": "regular",
            "name": "Regular",
            "description": "Log in 5 times within 7 days.",
            "criteria": {"type": "count", "event": "login", "target": 5, "window": "7d"},
            "points": 10,
            "icon": "star",
        },
    ),
    "sum": (
        "sum: spend 100 in purchases (repeatable, 3 times at most)",
        {
            "key": "big-spender",
            "name": "Big spender",
            "criteria": {"type": "sum", "event": "purchase", "field": "amount", "target": 100},
            "points": 50,
            "repeatable": True,
            "max_awards": 3,
        },
    ),
    "distinct": (
        "distinct: read 10 different Python articles",
        {
            "key": "pythonista",
            "name": "Pythonista",
            "criteria": {
                "type": "distinct",
                "event": "article.read",
                "field": "article_id",
                "target": 10,
                "where": {"category": "python"},
            },
        },
    ),
    "all_of": (
        "all_of: read articles 3, 5 and 8 (unlocks a page)",
        {
            "key": "series-done",
            "name": "Series complete",
            "criteria": {
                "type": "all_of",
                "event": "article.read",
                "field": "article_id",
                "values": [3, 5, 8],
            },
            "hidden": True,
        },
    ),
    "streak": (
        "streak: log in 7 days in a row",
        {
            "key": "week-streak",
            "name": "Seven-day streak",
            "criteria": {"type": "streak", "event": "login", "target": 7, "period": "day"},
        },
    ),
    "sequence": (
        "sequence: add to cart, check out and review within an hour",
        {
            "key": "happy-path",
            "name": "Happy customer",
            "criteria": {
                "type": "sequence",
                "window": "1h",
                "steps": [
                    {"event": "cart.add"},
                    {"event": "checkout", "where": {"total": {"gte": 10}}},
                    {"event": "review"},
                ],
            },
        },
    ),
    "all": (
        "all: a draft needing 3 logins and 2 comments, from a start date",
        {
            "key": "newcomer",
            "name": "Newcomer",
            "criteria": {
                "type": "all",
                "of": [
                    {"type": "count", "event": "login", "target": 3},
                    {"type": "count", "event": "comment.posted", "target": 2},
                ],
            },
            "starts_at": "2025-01-01T00:00:00Z",
            "status": "draft",
        },
    ),
    "any": (
        "any: read 5 articles or spend 50",
        {
            "key": "supporter",
            "name": "Supporter",
            "criteria": {
                "type": "any",
                "of": [
                    {
                        "type": "distinct",
                        "event": "article.read",
                        "field": "article_id",
                        "target": 5,
                    },
                    {"type": "sum", "event": "purchase", "field": "amount", "target": 50},
                ],
            },
        },
    ),
    "goal": (
        "goal: complete the goal 'reader' and comment 3 times (a to-do list)",
        {
            "key": "onboarding",
            "name": "Onboarding",
            "criteria": {
                "type": "all",
                "of": [
                    {"type": "goal", "goal": "reader"},
                    {"type": "count", "event": "comment.posted", "target": 3},
                ],
            },
            "assigned_only": True,
        },
    ),
}

#: Request body examples by operationId.
REQUEST_EXAMPLES: dict[str, dict[str, dict[str, Any]]] = {
    "sendEvents": _examples(
        one=(
            "One event",
            {
                "type": "article.read",
                "entity": "42",
                "attributes": {"article_id": 5, "category": "python"},
                "id": "read-42-5",
            },
        ),
        batch=(
            "A batch of events",
            {
                "events": [
                    {"type": "login", "entity": 42, "occurred_at": "2025-01-06T08:30:00Z"},
                    {"type": "purchase", "entity": "42", "attributes": {"amount": 19.9}},
                ]
            },
        ),
    ),
    "defineGoal": _examples(**GOAL_EXAMPLES),
    "changeGoal": _examples(
        rename=("Rename and re-target", {"name": "Avid reader", "points": 20}),
        criteria=(
            "Replace the criteria",
            {"criteria": {"type": "count", "event": "article.read", "target": 20}},
        ),
    ),
    "previewGoal": _examples(
        criteria=(
            "Unsaved criteria",
            {"criteria": {"type": "count", "event": "login", "target": 3}, "sample": 10},
        ),
        goal=("A saved goal", {"goal": "reader"}),
    ),
    "assignGoal": _examples(
        assign=(
            "Assign to user 42, due in January",
            {"assignee": "42", "assigned_by": "7", "due_at": "2030-01-31T17:00:00Z"},
        ),
    ),
    "activateGoal": _examples(
        history=("Count the history, quietly", {"count_history": True, "notify": False}),
        from_now=("Only events from now on", {"count_history": False}),
    ),
    "startBackfill": _examples(
        rebuild=("Rebuild, revoking awards no longer earned", {"revoke": True}),
    ),
    "markNotificationsRead": _examples(
        some=("Mark two notifications read", {"ids": [1, 2]}),
        all=("Mark every unread notification read", {}),
    ),
}
