"""The ``flask gamify`` command group."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import click
import redis
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import Engine

from . import config as settings
from .api.cli import keys_group
from .backfill import BackfillView
from .criteria.json_schema import criteria_json_schema
from .errors import GamifyError
from .failures import is_transient
from .goals import dump_goals, read_goals_file
from .pipeline.settings import Pipeline
from .points_cli import leaderboards_group, levels_group, points_group
from .state import get_state
from .webhooks import WebhookDeliveryView, WebhookView

if TYPE_CHECKING:
    from .migrate import Revision

__all__ = ["gamify_cli"]

gamify_cli = AppGroup("gamify", help="Flask-Gamify: goals, events and progress.")


def migrate_history(engine: Engine | None = None) -> list[Revision]:
    from .migrate import history

    return history(engine)


def _fail(error: GamifyError) -> click.ClickException:
    # One line, whatever the error carries (YAML messages span several).
    return click.ClickException(" ".join(str(error).split()))


@gamify_cli.command("init-db")
def init_db() -> None:
    """Create gamify's tables (existing tables are left alone)."""
    get_state().extension.create_all()
    click.echo("Created the Flask-Gamify tables.")


@gamify_cli.group("db")
def db_group() -> None:
    """Migrate gamify's tables (Alembic revisions, in gamify_alembic_version)."""


def _revision(revision: str | None) -> str:
    if revision is None:
        return "none (no gamify tables under migration)"
    heads = {item.revision for item in migrate_history() if item.is_head}
    return f"{revision} (head)" if revision in heads else revision


@db_group.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Upgrade gamify's tables to REVISION (default: head, the latest)."""
    from .migrate import upgrade

    try:
        before, after = upgrade(get_state().engine, revision)
    except GamifyError as error:
        raise _fail(error) from error
    if before == after:
        click.echo(f"Gamify's tables are at {_revision(after)}; nothing to upgrade.")
    else:
        click.echo(f"Upgraded gamify's tables from {_revision(before)} to {_revision(after)}.")


@db_group.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Downgrade gamify's tables to REVISION ('base' drops them and their data)."""
    from .migrate import downgrade

    try:
        before, after = downgrade(get_state().engine, revision)
    except GamifyError as error:
        raise _fail(error) from error
    click.echo(f"Downgraded gamify's tables from {_revision(before)} to {_revision(after)}.")


@db_group.command("current")
def db_current() -> None:
    """Show the revision of gamify's tables."""
    from .migrate import current_revision

    try:
        revision = current_revision(get_state().engine)
    except GamifyError as error:
        raise _fail(error) from error
    click.echo(f"Gamify's tables are at {_revision(revision)}.")


@db_group.command("history")
def db_history() -> None:
    """List gamify's revisions, oldest first, marking the database's."""
    try:
        revisions = migrate_history(get_state().engine)
    except GamifyError as error:
        raise _fail(error) from error
    for item in revisions:
        marks = [name for name, on in (("head", item.is_head), ("current", item.is_current)) if on]
        suffix = f" ({', '.join(marks)})" if marks else ""
        click.echo(f"{item.down_revision or '<base>'} -> {item.revision}{suffix}: {item.message}")


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


@goals_group.command("history")
@click.argument("key")
def goal_history(key: str) -> None:
    """Show every version of the goal KEY: when, by whom, and what changed."""
    try:
        versions = get_state().extension.goal_versions(key)
    except GamifyError as error:
        raise _fail(error) from error
    for version in versions:
        who = f" by {version.changed_by}" if version.changed_by else ""
        click.echo(f"version {version.version}  {version.changed_at.isoformat()}{who}")
        for name, change in version.changes.items():
            after = _compact(change["after"])
            if version.version == 1:
                click.echo(f"  {name}: {after}")
            else:
                click.echo(f"  {name}: {_compact(change['before'])} -> {after}")


def _compact(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


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


def _criteria_or_key(value: str) -> str | dict[str, object]:
    """A goal key, or criteria given as JSON (an argument starting with '{')."""
    if not value.lstrip().startswith("{"):
        return value
    try:
        criteria = json.loads(value)
    except ValueError as error:
        raise click.BadParameter(f"Not valid JSON: {error}.") from error
    if not isinstance(criteria, dict):
        raise click.BadParameter("Criteria must be a JSON object.")
    return criteria


@goals_group.command("preview")
@click.argument("criteria_or_key", metavar="KEY|CRITERIA")
@click.option("--sample", default=5, show_default=True, help="Entities to show in full.")
@click.option("--json", "as_json", is_flag=True, help="Print the preview as JSON.")
def preview_command(criteria_or_key: str, sample: int, as_json: bool) -> None:
    """Show who would progress and complete, over the event log; writes nothing.

    Give a goal's key, or criteria as JSON, such as
    '{"type": "count", "event": "comment.posted", "target": 20}'.
    """
    try:
        preview = get_state().extension.preview(_criteria_or_key(criteria_or_key), sample=sample)
    except GamifyError as error:
        raise _fail(error) from error
    if as_json:
        click.echo(json.dumps(preview.to_dict(), indent=2))
        return
    since = "no events" if preview.since is None else f"events since {preview.since:%Y-%m-%d}"
    click.echo(
        f"{preview.entities} entities would progress, {preview.completed} would complete"
        f" ({preview.events_scanned} events scanned, {since})."
    )
    for bucket, count in preview.histogram.items():
        if count:
            click.echo(f"  {bucket:>6} %  {count}")
    for entity in preview.sample:
        progress = entity.progress
        click.echo(
            f"  {entity.entity_type} {entity.entity}: {progress.current}/{progress.target}"
            f" ({progress.percent} %){' complete' if progress.completed else ''}"
        )


def _follow_backfill(view: BackfillView) -> BackfillView:
    """Show a backfill's progress until it ends (with Redis it runs on the workers)."""
    extension = get_state().extension
    with click.progressbar(length=max(view.total, 1), label=f"Backfilling {view.goal}") as bar:
        shown = 0
        while True:
            bar.update(max(0, view.done - shown))
            shown = max(shown, view.done)
            if view.finished:
                break
            time.sleep(0.5)
            view = next(v for v in extension.backfills(view.goal) if v.id == view.id)
    return view


def _backfill_outcome(view: BackfillView) -> None:
    if view.status == "failed":
        raise click.ClickException(f"The backfill of {view.goal} failed: {view.error}")
    click.echo(
        f"Backfill {view.id} of {view.goal}: {view.status}; {view.done} of {view.total}"
        f" entities rebuilt, {view.awarded} award(s) given, {view.revoked} revoked."
    )


_NO_NOTIFY_HELP = (
    "Give the backfill's awards without goal-completed notifications (signals are sent either way)."
)


@goals_group.command("activate")
@click.argument("key")
@click.option(
    "--no-history",
    is_flag=True,
    help="Do not count the event log's history (no backfill): only events from now on count.",
)
@click.option("--no-notify", is_flag=True, help=_NO_NOTIFY_HELP)
@click.option("--no-wait", is_flag=True, help="With Redis, do not follow the backfill.")
def activate_command(key: str, no_history: bool, no_notify: bool, no_wait: bool) -> None:
    """Make the draft goal KEY live; it counts the event log's history (a backfill).

    Activating an active goal changes nothing.
    """
    try:
        _goal, started = get_state().extension._activate(
            key, count_history=not no_history, notify=not no_notify
        )
    except GamifyError as error:
        raise _fail(error) from error
    if started is not None and not no_wait:
        started = _follow_backfill(started)
    if no_history:
        click.echo(f"{key} is active; history not counted: only events from now on count.")
    else:
        click.echo(f"{key} is active.")
    if started is not None:
        _backfill_outcome(started)


@goals_group.command("backfill")
@click.argument("key")
@click.option("--revoke", is_flag=True, help="Revoke awards entities no longer qualify for.")
@click.option("--no-notify", is_flag=True, help=_NO_NOTIFY_HELP)
@click.option("--no-wait", is_flag=True, help="With Redis, do not follow the backfill.")
def backfill_command(key: str, revoke: bool, no_notify: bool, no_wait: bool) -> None:
    """Rebuild the progress of goal KEY from the event log.

    Without Redis it runs here; with GAMIFY_REDIS_URL it runs on the workers, and this
    command follows it with a progress bar (unless --no-wait).
    """
    extension = get_state().extension
    try:
        inline = get_state().pipeline is None
        if inline:
            with click.progressbar(length=1, label=f"Backfilling {key}") as bar:
                view = extension.backfill(key, revoke=revoke, notify=not no_notify, wait=True)
                bar.update(1)
        else:
            view = extension.backfill(key, revoke=revoke, notify=not no_notify, wait=False)
            if not no_wait:
                view = _follow_backfill(view)
    except GamifyError as error:
        raise _fail(error) from error
    _backfill_outcome(view)


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


@events_group.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--batch-size", type=click.IntRange(min=1), help="Events per transaction.")
def import_events_command(file: BinaryIO, batch_size: int | None) -> None:
    """Import past events from FILE, JSON Lines in the REST event shape ('-': stdin).

    Lines are processed in batches, as workers do; signals say backfill=True. Events
    without an id get one derived from their content: importing again changes nothing.
    Rejected lines are reported by number; the exit status is 1 if any was rejected.
    """

    from .history import import_events

    state = get_state()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        total = os.fstat(file.fileno()).st_size if file.seekable() else 0
    except (OSError, ValueError):
        total = 0
    with click.progressbar(
        length=max(total, 1), label="Importing", file=sys.stderr, show_pos=not total
    ) as bar:
        done = 0

        def advance(_report: object, read: int) -> None:
            nonlocal done
            bar.update(read - done)
            done = read

        report = import_events(app, state, file, batch_size=batch_size, on_batch=advance)
    for number, reason in report.rejected:
        click.echo(f"line {number}: {reason}", err=True)
    click.echo(
        f"Imported {report.imported} event(s) ({report.duplicates} already in the log),"
        f" {report.awards} award(s) given; {len(report.rejected)} line(s) rejected."
    )
    if report.out_of_order:
        click.echo(
            f"Warning: {report.out_of_order} event(s) came more than GAMIFY_LATE_EVENT_ALLOWANCE"
            " after later ones; windowed goals may count them differently from a live run."
            " Sort the file by occurred_at.",
            err=True,
        )
    if report.rejected:
        raise click.exceptions.Exit(1)


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
    from .pipeline.operations import describe_redis_error

    try:
        yield
    except redis.RedisError as error:
        raise click.ClickException(describe_redis_error(pipeline, error)) from error


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
@click.option(
    "--no-webhooks", is_flag=True, help="Do not deliver webhooks (leave them to other workers)."
)
@click.option("--webhooks-only", is_flag=True, help="Only deliver webhooks (GAMIFY_WEBHOOK_QUEUE).")
@click.option("--max-jobs", type=int, help="Exit after this many jobs.")
@click.option("--max-idle-time", type=int, help="Exit after being idle this many seconds.")
@click.option(
    "--logging-level", "-l", default="INFO", show_default=True, help="Log level of the worker."
)
def worker_command(
    burst: bool,
    queue_name: str | None,
    name: str | None,
    no_webhooks: bool,
    webhooks_only: bool,
    max_jobs: int | None,
    max_idle_time: int | None,
    logging_level: str,
) -> None:
    """Run a worker that drains events into progress and awards (an RQ worker).

    Run as many as you like, on as many machines: they share the shards. It also
    delivers webhooks (after events), unless --no-webhooks; --webhooks-only makes a
    worker that delivers webhooks only.
    """
    if no_webhooks and webhooks_only:
        raise click.UsageError("Give --no-webhooks or --webhooks-only, not both.")
    from rq import Queue

    from .pipeline.drain import ensure_groups
    from .pipeline.outages import current
    from .pipeline.worker import GamifyWorker, tune_garbage_collector

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
    webhook_queue = Queue(state.webhook_settings.queue_name, connection=connection)
    if webhooks_only:
        queues = [webhook_queue]
    else:
        queues = [Queue(queue_name or pipeline.queue_name, connection=connection)]
        if not no_webhooks:
            queues.append(webhook_queue)
    worker = GamifyWorker(
        queues,
        connection=connection,
        name=name,
        gamify_state=state,
        drains=not webhooks_only,
        webhooks=not no_webhooks,
    )
    tune_garbage_collector(pipeline.worker_gc_threshold)
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

    from .models import Outbox, Progress
    from .pipeline.operations import status

    state = get_state()
    pipeline = _pipeline()
    with _redis_errors(pipeline):
        info = status(pipeline)
    with state.transaction() as session:
        outbox = session.execute(select(func.count()).select_from(Outbox)).scalar_one()
        late = session.execute(
            select(func.coalesce(func.sum(Progress.late_events), 0))
        ).scalar_one()
    click.echo(f"{'shard':>5}  {'length':>8}  {'pending':>8}  oldest event")
    for shard in info["shards"]:
        age = shard["oldest_age_seconds"]
        oldest = "-" if age is None else f"{age:.1f} s ago"
        click.echo(f"{shard['shard']:>5}  {shard['length']:>8}  {shard['pending']:>8}  {oldest}")
    click.echo(f"dead letters: {info['dead_letters']}")
    click.echo(f"outbox (waiting for Redis): {outbox}")
    click.echo(f"late events (too late for a windowed goal, per goal): {late}")
    click.echo(f"queued drain jobs: {info['queued_jobs']}")
    click.echo(f"workers: {len(info['workers'])}")
    for worker in info["workers"]:
        click.echo(f"  {worker['name']} on {worker['hostname']}: {worker['state']}")
    backfills = state.extension.backfills()
    running = [view for view in backfills if not view.finished]
    click.echo(f"backfills in progress: {len(running)}")
    for view in running:
        click.echo(f"  {view.goal}: {view.status}, {view.done} of {view.total} entities")
    _webhook_status()


def _webhook_status() -> None:
    from .webhooks import DELIVERY_STATUSES

    gamify = get_state().extension
    endpoints = gamify.webhooks()
    if not endpoints:
        return
    disabled = [endpoint for endpoint in endpoints if not endpoint.enabled]
    click.echo(f"webhooks: {len(endpoints)}, disabled: {len(disabled)}")
    for endpoint in disabled:
        click.echo(f"  DISABLED {endpoint.id} {endpoint.url}: {endpoint.disabled_reason}")
    counts = webhook_counts()
    click.echo(
        "webhook deliveries: "
        + ", ".join(f"{status} {counts.get(status, 0)}" for status in DELIVERY_STATUSES)
    )


def webhook_counts() -> dict[str, int]:
    """Deliveries per status."""
    from sqlalchemy import func, select

    from .models import WebhookDelivery

    with get_state().transaction() as session:
        rows = session.execute(
            select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
        )
        return {status: count for status, count in rows}


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


@gamify_cli.group("webhooks")
def webhooks_group() -> None:
    """Register webhook endpoints, follow and retry their deliveries."""


def _webhook_line(endpoint: WebhookView) -> str:
    state = "enabled" if endpoint.enabled else f"DISABLED ({endpoint.disabled_reason})"
    description = f"  {endpoint.description}" if endpoint.description else ""
    return f"{endpoint.id}  {endpoint.url}  [{', '.join(endpoint.events)}]  {state}{description}"


@webhooks_group.command("add")
@click.argument("url")
@click.option(
    "--event",
    "events",
    multiple=True,
    required=True,
    help="An event type to receive (repeat the option), or '*' for all but the opt-in ones.",
)
@click.option("--description", default="", help="What the endpoint is for.")
def add_webhook_command(url: str, events: tuple[str, ...], description: str) -> None:
    """Register an endpoint; print its signing secret (shown this once)."""
    try:
        endpoint = get_state().extension.add_webhook(url, events=events, description=description)
    except GamifyError as error:
        raise _fail(error) from error
    click.echo(f"Added webhook {endpoint.id}: {endpoint.url}")
    click.echo(f"Signing secret (shown once, keep it): {endpoint.secret}")


@webhooks_group.command("list")
def list_webhooks_command() -> None:
    """List the endpoints."""
    endpoints = get_state().extension.webhooks()
    for endpoint in endpoints:
        click.echo(_webhook_line(endpoint))
    click.echo(f"{len(endpoints)} webhook(s).")


@webhooks_group.command("remove")
@click.argument("webhook_id", type=int)
def remove_webhook_command(webhook_id: int) -> None:
    """Delete an endpoint and its delivery log."""
    try:
        endpoint = get_state().extension.remove_webhook(webhook_id)
    except GamifyError as error:
        raise _fail(error) from error
    click.echo(f"Removed webhook {endpoint.id}: {endpoint.url}")


@webhooks_group.command("enable")
@click.argument("webhook_id", type=int)
def enable_webhook_command(webhook_id: int) -> None:
    """Enable a disabled endpoint again (its held deliveries are sent)."""
    try:
        endpoint = get_state().extension.enable_webhook(webhook_id)
    except GamifyError as error:
        raise _fail(error) from error
    click.echo(_webhook_line(endpoint))


@webhooks_group.command("disable")
@click.argument("webhook_id", type=int)
@click.option("--reason", help="Why, shown with the endpoint.")
def disable_webhook_command(webhook_id: int, reason: str | None) -> None:
    """Stop delivering to an endpoint (its events are kept until it is enabled)."""
    try:
        endpoint = get_state().extension.disable_webhook(webhook_id, reason=reason)
    except GamifyError as error:
        raise _fail(error) from error
    click.echo(_webhook_line(endpoint))


@webhooks_group.command("rotate-secret")
@click.argument("webhook_id", type=int)
@click.option(
    "--grace",
    default="24h",
    show_default=True,
    help="How long the old secret keeps signing too ('0' for not at all).",
)
def rotate_secret_command(webhook_id: int, grace: str) -> None:
    """Give an endpoint a new signing secret (printed once)."""
    try:
        period = settings.duration({"--grace": grace}, "--grace", allow_zero=True)
        endpoint = get_state().extension.rotate_webhook_secret(webhook_id, grace=period)
    except GamifyError as error:
        raise _fail(error) from error
    click.echo(f"New signing secret of webhook {endpoint.id} (shown once): {endpoint.secret}")
    if endpoint.previous_secret_until is not None:
        click.echo(f"The old secret also signs until {endpoint.previous_secret_until}.")


@webhooks_group.command("test")
@click.argument("webhook_id", type=int)
def test_webhook_command(webhook_id: int) -> None:
    """Send a webhook.test event to an endpoint."""
    gamify = get_state().extension
    try:
        delivery = gamify.test_webhook(webhook_id)
    except GamifyError as error:
        raise _fail(error) from error
    if get_state().pipeline is None:
        gamify.deliver_webhooks()
        (delivery,) = [
            found
            for found in gamify.webhook_deliveries(webhook_id, limit=10)
            if found.id == delivery.id
        ]
        click.echo(_delivery_line(delivery))
        if delivery.status != "delivered":
            raise click.ClickException("The test event was not delivered; see the error above.")
    else:
        click.echo(f"Queued test delivery {delivery.id} ({delivery.event_id}) for the workers.")


def _delivery_line(delivery: WebhookDeliveryView) -> str:
    answer = "" if delivery.response_status is None else f"  HTTP {delivery.response_status}"
    error = f"\n    error: {delivery.error}" if delivery.error else ""
    return (
        f"{delivery.id}  webhook {delivery.webhook_id}  {delivery.event_type}"
        f"  {delivery.event_id}  {delivery.status}  attempts {delivery.attempts}{answer}"
        f"  next {delivery.next_attempt_at:%Y-%m-%d %H:%M:%S}{error}"
    )


@webhooks_group.command("deliveries")
@click.option("--webhook", "webhook_id", type=int, help="Only this endpoint's deliveries.")
@click.option(
    "--status",
    type=click.Choice(["pending", "failed", "delivered", "dead"]),
    help="Only deliveries in this status.",
)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
def deliveries_command(webhook_id: int | None, status: str | None, limit: int) -> None:
    """List deliveries, newest first."""
    try:
        deliveries = get_state().extension.webhook_deliveries(
            webhook_id, status=status, limit=limit
        )
    except GamifyError as error:
        raise _fail(error) from error
    for delivery in deliveries:
        click.echo(_delivery_line(delivery))
    click.echo(f"{len(deliveries)} deliveries.")


@webhooks_group.command("retry")
@click.argument("delivery_id", type=int, required=False)
@click.option("--dead", is_flag=True, help="Retry every dead delivery.")
def retry_delivery_command(delivery_id: int | None, dead: bool) -> None:
    """Send a delivery again now (dead, or a replay), or every dead one with --dead."""
    if dead == (delivery_id is not None):
        raise click.UsageError("Give a delivery id, or --dead (not both).")
    try:
        retried = get_state().extension.retry_webhook_delivery(delivery_id)
    except GamifyError as error:
        raise _fail(error) from error
    click.echo(f"Queued {len(retried)} deliveries again.")


@webhooks_group.command("deliver")
@click.option("--watch", is_flag=True, help="Keep delivering as deliveries come due.")
@click.option(
    "--interval", default=1.0, show_default=True, help="With --watch, seconds between checks."
)
def deliver_command(watch: bool, interval: float) -> None:
    """Send the due deliveries from this process (how to deliver without Redis)."""
    gamify = get_state().extension
    while True:
        counts = gamify.deliver_webhooks()
        if any(counts.values()) or not watch:
            click.echo(
                f"Delivered {counts['delivered']}, failed {counts['failed']} (will retry),"
                f" dead {counts['dead']}."
            )
        if not watch:
            return
        time.sleep(interval)


gamify_cli.add_command(keys_group)
for _group in (points_group, levels_group, leaderboards_group):
    gamify_cli.add_command(_group)
