"""Blinker signals, sent after the transaction that caused them commits.

Every signal is sent with the Flask app as sender. Connect with
``goal_completed.connect(receiver, app)`` to receive one app's signals only::

    from flask_gamify.signals import goal_completed


    @goal_completed.connect
    def congratulate(app, goal, entity, entity_type, award, backfill, **extra):
        if not backfill:
            send_mail(...)

Every signal also gets ``backfill``: ``True`` when the change comes from rebuilding
history (a backfill of a new or changed goal, ``flask gamify events import``), so that
a host can skip what only makes sense live (mails, pushes) and avoid a storm of them;
and ``manual``: ``True`` when a person gave or revoked an award by hand
(:meth:`~flask_gamify.Gamify.award`, :meth:`~flask_gamify.Gamify.revoke_award`).
"""

from __future__ import annotations

from blinker import Namespace

__all__ = [
    "assignment_completed",
    "award_revoked",
    "event_tracked",
    "goal_completed",
    "level_changed",
    "progress_changed",
    "webhook_disabled",
]

_signals = Namespace()

#: An event was processed for the first time. Keyword arguments: ``event``
#: (a :class:`~flask_gamify.events.TrackedEvent`).
event_tracked = _signals.signal("event-tracked")

#: An entity's progress on a goal changed. Keyword arguments: ``goal`` (key),
#: ``entity``, ``entity_type``, ``progress`` (a :class:`~flask_gamify.ProgressView`).
progress_changed = _signals.signal("progress-changed")

#: An entity completed a goal (once per award: repeatable goals send it again).
#: Keyword arguments: ``goal`` (key), ``entity``, ``entity_type``, ``award``
#: (an :class:`~flask_gamify.AwardView`).
goal_completed = _signals.signal("goal-completed")

#: The assignee of an assigned goal (a to-do list) completed it. Keyword arguments:
#: ``goal`` (key), ``entity``, ``entity_type`` (the assignee), ``assigned_by``,
#: ``assignment`` (an :class:`~flask_gamify.AssignmentView`).
assignment_completed = _signals.signal("assignment-completed")

#: An award was taken back: by a person (:meth:`~flask_gamify.Gamify.revoke_award`,
#: ``manual=True``) or by a backfill asked to revoke what the entity no longer qualifies
#: for (``backfill=True``). Keyword arguments: ``goal`` (key), ``entity``,
#: ``entity_type``, ``award`` (the :class:`~flask_gamify.AwardView` removed), ``reason``
#: and ``changed_by`` (``None`` for a backfill).
award_revoked = _signals.signal("award-revoked")

#: A webhook endpoint was disabled by a delivery: it answered ``410 Gone``, or every
#: delivery failed for ``GAMIFY_WEBHOOK_DISABLE_AFTER``. Keyword arguments: ``webhook``
#: (a :class:`~flask_gamify.WebhookView`) and ``reason`` (a sentence). Sent from the
#: process that delivers (a worker, or ``flask gamify webhooks deliver``).
webhook_disabled = _signals.signal("webhook-disabled")
#: An entity's points crossed a level threshold: up, or down (after a revocation or a
#: negative adjustment). Keyword arguments: ``entity``, ``entity_type``, ``old`` and
#: ``new`` (:class:`~flask_gamify.LevelView`), ``direction`` (``"up"`` or ``"down"``).
level_changed = _signals.signal("level-changed")
