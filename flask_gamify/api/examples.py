"""Request examples of the OpenAPI document, shown by the docs page's viewer.

Each map is an OpenAPI ``examples`` object (name to ``summary`` and ``value``). Every
value is a request the API accepts: ``tests/test_api_openapi.py`` sends them all, and
schemathesis' examples phase sends them too.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "PROGRESS_EXAMPLE",
    "PROGRESS_EXAMPLE_GOAL",
    "REQUEST_EXAMPLES",
    "WEBHOOK_PAYLOAD_EXAMPLES",
]


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
                "label": "Read the privacy series",
                "labels": {"3": "Why privacy matters", "5": "Your data", "8": "Settings"},
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
                    {"event": "cart.add", "label": "Add to cart"},
                    {"event": "checkout", "where": {"total": {"gte": 10}}, "label": "Check out"},
                    {"event": "review", "label": "Write a review"},
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
    "adjustPoints": _examples(
        give=(
            "Give 50 points, safe to retry",
            {"amount": 50, "reason": "conference talk", "idempotency_key": "talk-42"},
        ),
        take_back=(
            "Take back karma",
            {"amount": -5, "reason": "duplicate answers removed", "category": "karma"},
        ),
    ),
    "revokeAward": _examples(
        latest=("Revoke the latest award", {"reason": "spam"}),
        start_over=(
            "Revoke the first award and start the goal over",
            {"reason": "earned by a script", "occurrence": 1, "reset_progress": True},
        ),
    ),
    "markNotificationsRead": _examples(
        some=("Mark two notifications read", {"ids": [1, 2]}),
        all=("Mark every unread notification read", {}),
    ),
    "addWebhook": _examples(
        crm=(
            "Badges and finished to-do lists, to a CRM",
            {
                "url": "https://crm.example.com/hooks/gamify",
                "events": ["award.created", "assignment.completed"],
                "description": "CRM: badges and finished to-do lists",
            },
        ),
        everything=(
            "Every event but progress.changed",
            {"url": "https://hooks.example.org/gamify", "events": ["*"]},
        ),
    ),
    "changeWebhook": _examples(
        events=("Also receive every progress step", {"events": ["*", "progress.changed"]}),
        disable=("Pause deliveries", {"enabled": False}),
    ),
    "rotateWebhookSecret": _examples(
        grace=("The old secret keeps signing for an hour", {"grace": 3600}),
        now=("The old secret stops at once", {"grace": 0}),
    ),
}


#: The goal of :data:`PROGRESS_EXAMPLE`: labels on the goal's parts and listed values.
PROGRESS_EXAMPLE_GOAL: dict[str, Any] = {
    "key": "getting-started",
    "name": "Getting started",
    "points": 20,
    "criteria": {
        "type": "all",
        "label": "Get started",
        "of": [
            {
                "type": "all_of",
                "label": "Read the basics",
                "event": "article.read",
                "field": "article_id",
                "values": [1, 2, 3],
                "labels": {"1": "Welcome", "2": "Your profile", "3": "Privacy"},
            },
            {"type": "count", "label": "Say hello", "event": "comment.posted", "target": 1},
        ],
    },
}

#: An entity's progress on :data:`PROGRESS_EXAMPLE_GOAL` after reading articles 1 and 2
#: and posting a comment (``tests/test_api_progress.py`` checks the API answers exactly
#: this): one part of two is done, so 1 / 2 and 50 %; the other part's items say what
#: is left, by label.
PROGRESS_EXAMPLE: dict[str, Any] = {
    "goal": "getting-started",
    "name": "Getting started",
    "label": "Get started",
    "current": 1,
    "target": 2,
    "percent": 50,
    "completed": False,
    "completed_at": None,
    "times_completed": 0,
    "points": 20,
    "missing": [],
    "items": [],
    "children": [
        {
            "type": "all_of",
            "label": "Read the basics",
            "current": 2,
            "target": 3,
            "percent": 66,
            "completed": False,
            "missing": [3],
            "items": [
                {"value": 1, "label": "Welcome", "done": True},
                {"value": 2, "label": "Your profile", "done": True},
                {"value": 3, "label": "Privacy", "done": False},
            ],
        },
        {
            "type": "count",
            "label": "Say hello",
            "current": 1,
            "target": 1,
            "percent": 100,
            "completed": True,
        },
    ],
    "late_events": 0,
}


_AWARD = {
    "goal": "onboarding",
    "name": "Onboarding",
    "entity_type": "user",
    "entity": "bob",
    "occurrence": 1,
    "points": 20,
    "awarded_at": "2026-11-30T19:12:24.676466+00:00",
    "achieved_at": "2026-11-30T19:12:24.676447+00:00",
}


def _payload(event_id: str, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": event_type,
        "version": 1,
        "created_at": "2026-11-30T19:12:24.676466+00:00",
        "data": data,
    }


#: A payload of each event type, as receivers get it (``docs/webhooks.rst`` shows them).
WEBHOOK_PAYLOAD_EXAMPLES: dict[str, dict[str, Any]] = {
    "award.created": _payload("evt_f60097100b9d42c7bdd8aa0f39832357", "award.created", _AWARD),
    "award.revoked": _payload("evt_0b0f6d8f1a4e4f3c9d3e2a1b5c6d7e8f", "award.revoked", _AWARD),
    "assignment.completed": _payload(
        "evt_e5be0feeea5743459fba1bae085eeaf6",
        "assignment.completed",
        {
            "id": 1,
            "goal": "onboarding",
            "entity_type": "user",
            "entity": "bob",
            "assigned_by": "alice",
            "assigned_by_type": "user",
            "assigned_at": "2026-11-30T19:12:24.633527+00:00",
            "due_at": None,
            "completed_at": "2026-11-30T19:12:24.676466+00:00",
            "completed": True,
        },
    ),
    "goal.activated": _payload(
        "evt_32a1e10769204261b39d03cf6c47eb5e",
        "goal.activated",
        {
            "key": "onboarding",
            "status": "active",
            "name": "Onboarding",
            "description": "",
            "icon": None,
            "criteria": {"type": "count", "event": "task.done", "target": 2},
            "points": 20,
            "repeatable": False,
            "max_awards": None,
            "hidden": False,
            "assigned_only": True,
            "owner": None,
            "starts_at": None,
            "ends_at": None,
            "entity_type": "user",
            "archived": False,
            "created_at": "2026-11-30T19:12:24.587956+00:00",
            "updated_at": "2026-11-30T19:12:24.612696+00:00",
        },
    ),
    "progress.changed": _payload(
        "evt_965f93cf475f4632b243f26e30fb80f0",
        "progress.changed",
        {
            "goal": "onboarding",
            "entity_type": "user",
            "entity": "bob",
            "progress": {
                "goal": "onboarding",
                "name": "Onboarding",
                "label": "task.done 2 times",
                "current": 1,
                "target": 2,
                "percent": 50,
                "completed": False,
                "completed_at": None,
                "times_completed": 0,
                "points": 20,
                "missing": [],
                "items": [],
                "children": [],
                "late_events": 0,
            },
        },
    ),
    "webhook.test": _payload(
        "evt_7c1d2e3f4a5b4c6d8e9f0a1b2c3d4e5f",
        "webhook.test",
        {"webhook": 1, "message": "A test event from Flask-Gamify."},
    ),
}
