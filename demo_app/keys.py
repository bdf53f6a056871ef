"""Goal keys for goals users make (badges, to-do lists): keys are ASCII, names need not be."""

from __future__ import annotations

import re
import unicodedata

from flask_login import current_user

from .extensions import gamify


def new_goal_key(prefix: str, name: str, *, fallback: str) -> str:
    """A key ``<prefix><user id>.<name in ASCII>[-n]`` for a new goal of the current user.

    The name's ASCII letters and digits make it readable ("Café crème" gives
    ``cafe-creme``); a name without any (Лучший читатель) gives ``fallback``. A number
    keeps it apart from the user's other goals, archived ones included (an archived key
    cannot be defined again).
    """
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:40].strip("-")
    base = f"{prefix}{current_user.get_id()}.{slug or fallback}"
    taken = {goal.key for goal in gamify.goals(include_archived=True, owner=current_user.get_id())}
    key, number = base, 1
    while key in taken:
        number += 1
        key = f"{base}-{number}"
    return key
