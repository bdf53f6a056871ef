"""The ``flask gamify`` command group."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import click
import redis
from flask.cli import AppGroup

from . import config as settings
from .api.cli import keys_group
from .criteria.json_schema import criteria_json_schema
from .errors import GamifyError
from .extension import get_state
from .failures import is_transient
from .goals import dump_goals, read_goals_file
from .pipeline.settings import Pipeline

__all__ = ["gamify_cli"]

gamify_cli = AppGroup("gamify", help="Flask-Gamify: goals, events and progress.")


def _fail(error: GamifyError) -> click.ClickException:
    # One line, whatever the error carries (YAML messages span several).
    return click.ClickException(" ".join(str(error).split()))


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


@goals_group.command("archive")
@click.argument("key")
def archive_goal_command(key: str) -> None:
    """Archive the goal KEY: it stops progressing; progress and awards stay readable."""
    try:
        get_state().extension.archive_goal(key)
    except GamifyError as error:
        raise _fail(error) from error
    click.echo(f"Archived {key}.")


@goals_group.command("restore")
@click.argument("key")
def restore_goal_command(key: str) -> None:
    """Restore the archived goal KEY: it progresses again."""
    try:
        get_state().extension.restore_goal(key)
    except GamifyError as error:
        raise _fail(error) from error
    click.echo(f"Restored {key}.")


@gamify_cli.group("schema")
def schema_group() -> None:
    """Print JSON Schemas, for editors and validators."""


@schema_group.command("criteria")
def criteria_schema_command() -> None:
    """Print the JSON Schema (draft 2020-12) of the criteria language."""
    click.echo(json.dumps(criteria_json_schema(), indent=2, ensure_ascii=False))


@gamify_cli.group("events")
def events_group() -> None:
    """Manage the event log."""


@events_group.command("prune")
@click.option(
    "--older-than",
    metavar="DURATION",
    help="Age instead of GAMIFY_EVENT_RETENTION, such as 30d; 0 deletes every processed event.",
)
def prune_events(older_than: str | None) -> None:
    """Delete logged events older than GAMIFY_EVENT_RETENTION."""
    age = None
    if older_than is not None:
        try:
            age = settings.duration({"--older-than": older_than}, "--older-than", allow_zero=True)
        except GamifyError as error:
            raise _fail(error) from error
    deleted = get_state().extension.prune_events(age)
    what = "the retention period" if age is None else older_than
    click.echo(f"Deleted {deleted} event(s) older than {what}.")


@contextmanager
def _redis_errors(pipeline: Pipeline) -> Iterator[None]:
    """Turn a Redis outage into one line and exit status 1, not a traceback."""
    try:
        yield
    except redis.RedisError as error:
        # Host and port only: the URL may carry a password.
        where = urlsplit(pipeline.url)
        address = where.path if where.scheme == "unix" else f"{where.hostname}:{where.port or 6379}"
        reason = " ".join(str(error).split()) or type(error).__name__
        raise click.ClickException(
            f"Cannot reach Redis at {address} (GAMIFY_REDIS_URL): {reason} Check that Redis"
            " is running and the URL is right."
        ) from error


def _pipeline() -> Pipeline:
    pipeline = get_state().pipeline
    if pipeline is None:
        raise click.ClickException(
            "GAMIFY_REDIS_URL is not set: events are processed inline and there is no"
            " pipeline. Set it (for example redis://localhost:6379/0) to use workers."
        )
    return pipeline


@gamify_cli.command("worker")
@click.option("--burst", "-b", is_flag=True, help="Drain what is there, then exit.")
@click.option("--queue", "queue_name", help="RQ queue to listen on (default: GAMIFY_QUEUE).")
@click.option("--name", "-n", help="Worker name (default: RQ's random name).")
@click.option("--max-jobs", type=int, help="Exit after this many jobs.")
@click.option("--max-idle-time", type=int, help="Exit after being idle this many seconds.")
@click.option(
    "--logging-level", "-l", default="INFO", show_default=True, help="Log level of the worker."
)
def worker_command(
    burst: bool,
    queue_name: str | None,
    name: str | None,
    max_jobs: int | None,
    max_idle_time: int | None,
    logging_level: str,
) -> None:
    """Run a worker that drains events into progress and awards (an RQ worker).

    Run as many as you like, on as many machines: they share the shards.
    """
    from rq import Queue

    from .pipeline.drain import ensure_groups
    from .pipeline.outages import current
    from .pipeline.worker import GamifyWorker

    state = get_state()
    pipeline = _pipeline()
    connection = pipeline.worker_client
    while True:  # a worker started before Redis waits for it
        try:
            ensure_groups(connection, pipeline.keys.streams())
        except redis.RedisError as error:
            if not is_transient(error):
                raise click.ClickException(f"Redis refused the worker: {error}") from error
            current.redis.failed(error)
            time.sleep(current.redis.wait_seconds())
            continue
        current.redis.recovered()
        break
    queue = Queue(queue_name or pipeline.queue_name, connection=connection)
    worker = GamifyWorker([queue], connection=connection, name=name, gamify_state=state)
    worker.work(
        burst=burst,
        max_jobs=max_jobs,
        max_idle_time=max_idle_time,
        logging_level=logging_level,
    )


@gamify_cli.command("status")
def status_command() -> None:
    """Show the backlog per shard, dead letters, the outbox and the workers."""
    from sqlalchemy import func, select

    from .models import Outbox
    from .pipeline.operations import status

    state = get_state()
    pipeline = _pipeline()
    with _redis_errors(pipeline):
        info = status(pipeline)
    with state.transaction() as session:
        outbox = session.execute(select(func.count()).select_from(Outbox)).scalar_one()
    click.echo(f"{'shard':>5}  {'length':>8}  {'pending':>8}  oldest event")
    for shard in info["shards"]:
        age = shard["oldest_age_seconds"]
        oldest = "-" if age is None else f"{age:.1f} s ago"
        click.echo(f"{shard['shard']:>5}  {shard['length']:>8}  {shard['pending']:>8}  {oldest}")
    click.echo(f"dead letters: {info['dead_letters']}")
    click.echo(f"outbox (waiting for Redis): {outbox}")
    click.echo(f"queued drain jobs: {info['queued_jobs']}")
    click.echo(f"workers: {len(info['workers'])}")
    for worker in info["workers"]:
        click.echo(f"  {worker['name']} on {worker['hostname']}: {worker['state']}")


@gamify_cli.group("dead-letters")
def dead_letters_group() -> None:
    """Inspect, replay or drop events that could not be processed."""


@dead_letters_group.command("list")
@click.option("--limit", default=100, show_default=True)
def list_dead_letters(limit: int) -> None:
    """List dead letters, oldest first."""
    from .pipeline.operations import dead_letters

    pipeline = _pipeline()
    with _redis_errors(pipeline):
        letters = dead_letters(pipeline, limit=limit)
    for letter in letters:
        click.echo(
            f"{letter.id}  shard {letter.shard}  attempts {letter.attempts}  {letter.failed_at}\n"
            f"    error: {letter.error}\n    event: {letter.event}"
        )
    click.echo(f"{len(letters)} dead letter(s).")


def _ids(ids: tuple[str, ...], all_: bool) -> list[str] | None:
    if all_ == bool(ids):
        raise click.UsageError("Give dead letter ids, or --all (not both).")
    return None if all_ else list(ids)


@dead_letters_group.command("replay")
@click.argument("ids", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Replay every dead letter.")
def replay_dead_letters_command(ids: tuple[str, ...], all_: bool) -> None:
    """Put dead letters back on their shard to be processed again."""
    from .pipeline.operations import replay_dead_letters

    pipeline = _pipeline()
    try:
        with _redis_errors(pipeline):
            count = replay_dead_letters(pipeline, _ids(ids, all_))
    except LookupError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Replayed {count} dead letter(s).")


@dead_letters_group.command("drop")
@click.argument("ids", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Drop every dead letter.")
def drop_dead_letters_command(ids: tuple[str, ...], all_: bool) -> None:
    """Delete dead letters for good."""
    from .pipeline.operations import drop_dead_letters

    pipeline = _pipeline()
    try:
        with _redis_errors(pipeline):
            count = drop_dead_letters(pipeline, _ids(ids, all_))
    except LookupError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Dropped {count} dead letter(s).")


gamify_cli.add_command(keys_group)
