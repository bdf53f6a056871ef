"""The ``flask gamify`` command group."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from .errors import GamifyError
from .extension import get_state
from .goals import dump_goals, read_goals_file

__all__ = ["gamify_cli"]

gamify_cli = AppGroup("gamify", help="Flask-Gamify: goals, events and progress.")


def _fail(error: GamifyError) -> click.ClickException:
    return click.ClickException(str(error))


@gamify_cli.command("init-db")
def init_db() -> None:
    """Create gamify's tables (existing tables are left alone)."""
    get_state().extension.create_all()
    click.echo("Created the Flask-Gamify tables.")


@gamify_cli.group("goals")
def goals_group() -> None:
    """Define, list and export goals."""


@goals_group.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def load_goals(file: Path) -> None:
    """Define the goals in FILE (YAML, or JSON by its .json suffix); all or nothing."""
    try:
        saved = get_state().extension.define_goals(read_goals_file(file))
    except GamifyError as error:
        raise _fail(error) from error
    click.echo(f"Defined {len(saved)} goal(s): {', '.join(goal.key for goal in saved)}.")


@goals_group.command("dump")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["yaml", "json"]),
    default="yaml",
    show_default=True,
)
@click.option("--include-archived", is_flag=True, help="Also export archived goals.")
def dump_goals_command(output_format: str, include_archived: bool) -> None:
    """Print every goal in the format that 'goals load' reads."""
    goals = get_state().extension.goals(include_archived=include_archived)
    click.echo(dump_goals(goals, format=output_format), nl=False)


@goals_group.command("list")
def list_goals() -> None:
    """List goals with their keys, names and status."""
    for goal in get_state().extension.goals(include_archived=True):
        flags = [
            name
            for name, on in (
                ("archived", goal.archived),
                ("hidden", goal.hidden),
                ("assigned-only", goal.assigned_only),
                ("repeatable", goal.repeatable),
            )
            if on
        ]
        suffix = f" [{', '.join(flags)}]" if flags else ""
        click.echo(f"{goal.key}\t{goal.name}\t{goal.points} pts{suffix}")


@gamify_cli.group("events")
def events_group() -> None:
    """Manage the event log."""


@events_group.command("prune")
def prune_events() -> None:
    """Delete logged events older than GAMIFY_EVENT_RETENTION."""
    deleted = get_state().extension.prune_events()
    click.echo(f"Deleted {deleted} event(s) older than the retention period.")
