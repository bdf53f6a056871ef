"""The ``flask gamify points``, ``levels`` and ``leaderboards`` commands.

They call the public Python API (:meth:`Gamify.points`, :meth:`Gamify.adjust_points`,
:meth:`Gamify.level`, :meth:`Gamify.leaderboard`, ...) and print plain lines; bad input
exits with status 1 and one line naming the option.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

import click
import redis

from .errors import GamifyError
from .leaderboards import PERIODS, LeaderboardView, Standing
from .state import get_state

if TYPE_CHECKING:
    from .extension import Gamify

__all__ = ["leaderboards_group", "levels_group", "points_group"]

T = TypeVar("T")

#: Names of the Python API's arguments, as the options that carry them are spelled.
_OPTIONS = {
    "entity_type": "--entity-type",
    "idempotency_key": "--idempotency-key",
    "changed_by": "--changed-by",
    "periods": "--period",
}


def _extension() -> Gamify:
    return get_state().extension


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """Gamify's errors and Redis outages as one line and exit status 1, not a traceback."""
    try:
        yield
    except GamifyError as error:
        text = " ".join(str(error).split())
        for name, option in _OPTIONS.items():
            text = text.replace(f"{name}: ", f"{option}: ")
        raise click.ClickException(text) from error
    except redis.RedisError as error:
        raise click.ClickException(
            f"Redis did not answer ({error}); check GAMIFY_REDIS_URL and that Redis runs."
        ) from error


def _call(work: Callable[[], T]) -> T:
    with _one_line_errors():
        return work()


_entity_type = click.option(
    "--entity-type", help="The kind of entity (default: GAMIFY_DEFAULT_ENTITY_TYPE)."
)
_category = click.option(
    "--category", help='A category of points (default: "points", where goals\' points go).'
)


# -- points ---------------------------------------------------------------------------


@click.group("points")
def points_group() -> None:
    """Read and adjust entities' points (the points ledger)."""


@points_group.command("show")
@click.argument("entity")
@_category
@_entity_type
def show_points(entity: str, category: str | None, entity_type: str | None) -> None:
    """Print the points of ENTITY (and its level, when levels are defined)."""
    extension = _extension()
    kind = get_state().entity_type(entity_type)
    points = _call(lambda: extension.points(entity, entity_type=kind, category=category))
    line = f"{kind} {entity}: {points} {category or 'points'}"
    if category is None and get_state().ledger.levels.get(kind):
        level = extension.level(entity, entity_type=kind)
        line += f", level {level.number} ({level.name or 'none yet'})"
    click.echo(line + ".")


@points_group.command("ledger")
@click.argument("entity")
@click.option("--limit", type=int, default=20, show_default=True, help="Entries, 1 to 1000.")
@click.option("--before", type=int, help="Only entries older than this id (the next page).")
@_category
@_entity_type
def show_ledger(
    entity: str, limit: int, before: int | None, category: str | None, entity_type: str | None
) -> None:
    """List the points ledger of ENTITY, newest first."""
    entries = _call(
        lambda: _extension().points_ledger(
            entity, entity_type=entity_type, category=category, before=before, limit=limit
        )
    )
    for entry in entries:
        what = f"{entry.goal} #{entry.occurrence}" if entry.goal is not None else "-"
        who = f" by {entry.changed_by}" if entry.changed_by else ""
        click.echo(
            f"{entry.id:>8}  {entry.occurred_at:%Y-%m-%d %H:%M}  {entry.amount:>+8}"
            f"  {entry.category}  {entry.kind}  {what}  {entry.reason}{who}"
        )
    if not entries:
        click.echo("No entries." if before is None else f"No entries before {before}.")
    elif len(entries) == limit:
        click.echo(f"More with --before {entries[-1].id}.")


@points_group.command("adjust", context_settings={"ignore_unknown_options": True})
@click.argument("entity")
@click.argument("amount", type=int)
@click.option("--reason", required=True, help="Why; recorded in the ledger.")
@click.option("--idempotency-key", help="Running again with the same key changes nothing.")
@click.option("--changed-by", help="Who makes the change; recorded in the ledger.")
@_category
@_entity_type
def adjust_points(
    entity: str,
    amount: int,
    reason: str,
    idempotency_key: str | None,
    changed_by: str | None,
    category: str | None,
    entity_type: str | None,
) -> None:
    """Give ENTITY AMOUNT points (negative: take them back), with a reason."""
    extension = _extension()
    entry = _call(
        lambda: extension.adjust_points(
            entity,
            amount,
            reason=reason,
            idempotency_key=idempotency_key,
            changed_by=changed_by,
            category=category,
            entity_type=entity_type,
        )
    )
    total = extension.points(entity, entity_type=entity_type, category=entry.category)
    verb = "Gave" if entry.amount > 0 else "Took back"
    click.echo(
        f"{verb} {abs(entry.amount)} {entry.category} (ledger entry {entry.id});"
        f" {entry.entity_type} {entry.entity} has {total} now."
    )


# -- levels ---------------------------------------------------------------------------


@click.group("levels")
def levels_group() -> None:
    """Entities' levels (GAMIFY_LEVELS)."""


@levels_group.command("show")
@click.argument("entity")
@_entity_type
def show_level(entity: str, entity_type: str | None) -> None:
    """Print the level of ENTITY and what the next level needs."""
    level = _call(lambda: _extension().level(entity, entity_type=entity_type))
    name = level.name if level.name is not None else "no level yet"
    line = f"{entity}: level {level.number} ({name}), {level.points} points"
    if level.next_at is None:
        line += "; the top level."
    else:
        line += (
            f"; {level.next_name} at {level.next_at} ({level.points_to_next} to go,"
            f" {level.percent} % of the way)."
        )
    click.echo(line)


# -- leaderboards ---------------------------------------------------------------------


@click.group("leaderboards")
def leaderboards_group() -> None:
    """Show leaderboards; rebuild them in Redis from the SQL ledger."""


def _standing_line(standing: Standing, marked: str | None = None) -> str:
    mark = "  <" if standing.entity == marked else ""
    return f"{standing.rank:>6}  {standing.points:>10}  {standing.entity}{mark}"


def _period_line(board: LeaderboardView) -> str:
    if board.starts_at is None or board.ends_at is None:
        return f"All time, {board.entity_type} by {board.category}:"
    return (
        f"{board.period.capitalize()} from {board.starts_at:%Y-%m-%d %H:%M} to"
        f" {board.ends_at:%Y-%m-%d %H:%M} UTC, {board.entity_type} by {board.category}:"
    )


@leaderboards_group.command("show")
@_entity_type
@click.option(
    "--period", type=click.Choice(PERIODS), default="all", show_default=True, help="The period."
)
@click.option("--limit", type=int, default=10, show_default=True, help="Entries, 1 to 100.")
@click.option("--around", help="Also show this entity's rank and five on each side.")
@_category
def show_leaderboard(
    entity_type: str | None, period: str, limit: int, around: str | None, category: str | None
) -> None:
    """Print a leaderboard: rank, points and entity, the current period."""
    board = _call(
        lambda: _extension().leaderboard(
            entity_type, period, limit, around=around, category=category
        )
    )
    click.echo(_period_line(board))
    click.echo(f"{'rank':>6}  {'points':>10}  entity")
    for standing in board:
        click.echo(_standing_line(standing, around))
    if not board:
        click.echo("  (nobody has points in this period)")
    if board.around is not None:
        click.echo(f"Around {around}:")
        for standing in board.around:
            click.echo(_standing_line(standing, around))


@leaderboards_group.command("rebuild")
@click.option(
    "--period",
    "periods",
    type=click.Choice(PERIODS),
    multiple=True,
    help="Only this period (repeat for several; default: all of them).",
)
def rebuild_leaderboards(periods: tuple[str, ...]) -> None:
    """Restore the leaderboards in Redis from the SQL ledger (after Redis lost data).

    Safe while workers run; readers see the old sets until the new ones are complete.
    """
    if get_state().boards is None:
        raise click.ClickException(
            "GAMIFY_REDIS_URL is not set: leaderboards are read from the SQL ledger and"
            " there is nothing to rebuild."
        )
    began = time.perf_counter()
    written = _call(lambda: _extension().rebuild_leaderboards(periods or PERIODS))
    members = sum(written.values())
    click.echo(
        f"Rebuilt {len(written)} leaderboard set(s) with {members} member(s) in"
        f" {time.perf_counter() - began:.1f} s."
    )
