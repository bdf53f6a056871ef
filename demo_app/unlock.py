"""Feature 2, unlock rules: reading the articles alice lists opens the premium page.

alice owns the rule (the goal ``premium-unlock``) and may change its articles in the
dashboard at any time, so the pages here read the goal's current criteria instead of
assuming articles A, B and C.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import redirect, render_template, url_for
from flask_login import current_user, login_required

from flask_gamify import GamifyError

from .checklist import Checklist, checklist
from .extensions import gamify
from .views import bp

#: The goal that opens the premium page.
PREMIUM_RULE = "premium-unlock"


@dataclass(frozen=True, slots=True)
class Unlock:
    """What completing an unlock rule opens: ``page`` in words, and its endpoint."""

    page: str
    endpoint: str


#: The goals used by ``@gamify.requires``, by key. Completing one opens a page rather
#: than earning a badge, and the notifications say so.
UNLOCK_RULES = {PREMIUM_RULE: Unlock(page="the premium page", endpoint="demo.premium")}


def unlock_of(goal: str) -> Unlock | None:
    """What completing ``goal`` unlocks, when it is an unlock rule."""
    return UNLOCK_RULES.get(goal)


@bp.get("/premium")
@login_required
@gamify.requires(PREMIUM_RULE, on_denied=lambda: redirect(url_for("demo.premium_locked")))
def premium() -> str:
    return render_template("premium.html", items=_items())


@bp.get("/premium/locked")
@login_required
def premium_locked() -> str:
    try:
        goal = gamify.goal(PREMIUM_RULE)
        progress = gamify.progress(current_user.id, PREMIUM_RULE)
    except GamifyError:
        goal = None
    if goal is None or goal.archived or goal.status != "active":
        # No rule in force (removed, archived, or back to a draft): the page stays shut,
        # and says why.
        return render_template("premium_locked.html", goal=None, progress=None, items=None)
    return render_template(
        "premium_locked.html", goal=goal, progress=progress, items=checklist(goal, progress)
    )


def _items() -> Checklist | None:
    """What the user did to get in, as the locked page showed it."""
    goal = gamify.goal(PREMIUM_RULE)
    return checklist(goal, gamify.progress(current_user.id, PREMIUM_RULE))
