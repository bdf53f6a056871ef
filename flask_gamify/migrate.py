"""Schema migrations: gamify's Alembic revisions, on gamify's engine and version table.

The revisions ship in ``flask_gamify/migrations/versions/``. They run on gamify's own
engine (the host's default database, or ``GAMIFY_BIND_KEY``'s) and record the schema's
revision in a version table of their own, ``gamify_alembic_version``, so they never mix
with a host's Alembic or Flask-Migrate history in the same database. ``flask gamify db
upgrade|downgrade|current|history`` and :meth:`Gamify.upgrade_db` call the functions here.

A database made by Flask-Gamify 0.1.0 has gamify's tables but no version table: the
first upgrade *adopts* it, stamping the baseline revision (the 0.1.0 schema) before
upgrading. :meth:`Gamify.create_all` creates a fresh schema from the models and stamps
the latest revision (head), so a later upgrade has nothing to do.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import JSON, Connection, Engine, MetaData, Table, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from .catalog import first_catalog_version
from .errors import GamifyError
from .models import Base, CatalogVersion, UTCDateTime

__all__ = [
    "BASELINE",
    "VERSION_TABLE",
    "Revision",
    "create_schema",
    "current_revision",
    "downgrade",
    "drop_schema",
    "history",
    "include_object",
    "metadata",
    "upgrade",
]

#: Where the revisions live, in the package.
MIGRATIONS = Path(__file__).parent / "migrations"
#: Gamify's own Alembic version table (a host's is ``alembic_version``).
VERSION_TABLE = "gamify_alembic_version"
#: The revision whose schema is Flask-Gamify 0.1.0's.
BASELINE = "0001"
#: Every table of gamify's starts with this.
TABLE_PREFIX = "gamify_"


class MigrationError(GamifyError):
    """A migration command failed; the message says why and what to do."""


def metadata() -> MetaData:
    """Gamify's metadata, with every table (some models live outside ``models.py``)."""
    from .api import keys  # noqa: F401  (registers gamify_api_keys)

    return Base.metadata


def include_object(
    object: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic filter: only gamify's tables, in a database it may share with the host."""
    if type_ == "table":
        return bool(name and name.startswith(TABLE_PREFIX) and name != VERSION_TABLE)
    return True


def render_item(type_: str, item: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render gamify's own column types as the plain SQL types they store (revisions
    must not import the models, which change after them)."""
    if type_ != "type":
        return False
    if isinstance(item, UTCDateTime):
        return "sa.DateTime()"
    if isinstance(item, JSON) and "postgresql" in item._variant_mapping:
        # Alembic would write ``astext_type=Text()`` without importing Text.
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return "sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')"
    return False


@functools.cache
def script_directory() -> ScriptDirectory:
    return ScriptDirectory(str(MIGRATIONS))


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for gamify's revisions, running on ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def migration_context(connection: Connection) -> MigrationContext:
    """A context on gamify's version table (for reading and stamping revisions)."""
    return MigrationContext.configure(
        connection,
        opts={
            "version_table": VERSION_TABLE,
            "target_metadata": metadata(),
            "include_object": include_object,
            "compare_type": True,
            "render_as_batch": True,
        },
    )


@contextmanager
def _errors(doing: str) -> Iterator[None]:
    """Alembic and database errors as one :class:`MigrationError` line."""
    try:
        yield
    except CommandError as error:
        raise MigrationError(f"Cannot {doing}: {error}.") from error
    except SQLAlchemyError as error:
        reason = " ".join(str(getattr(error, "orig", None) or error).split())
        raise MigrationError(f"Cannot {doing}: the database answered: {reason}") from error


def _gamify_tables(connection: Connection) -> set[str]:
    return {name for name in inspect(connection).get_table_names() if name.startswith(TABLE_PREFIX)}


def _adopt(connection: Connection) -> None:
    """Stamp a database that has gamify's tables but no version yet (0.1.0's)."""
    context = migration_context(connection)
    if context.get_current_heads() or not _gamify_tables(connection) - {VERSION_TABLE}:
        return
    # Tables made by create_all before migrations existed: 0.1.0's schema, unless they
    # already match the models (then they are at head).
    matches_models = not compare_metadata(context, metadata())
    context.stamp(script_directory(), "head" if matches_models else BASELINE)


def current_revision(engine: Engine) -> str | None:
    """The revision of gamify's tables, or ``None`` when they are not versioned."""
    with _errors("read the revision of gamify's tables"), engine.connect() as connection:
        heads = migration_context(connection).get_current_heads()
    return heads[0] if heads else None


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrade gamify's tables to ``revision``; return the revisions before and after.

    Unversioned tables are adopted first: "before" is then the revision they were
    found at (the baseline for a 0.1.0 database).
    """
    with _errors(f"upgrade gamify's tables to {revision!r}"), engine.begin() as connection:
        _adopt(connection)
        before = migration_context(connection).get_current_heads()
        command.upgrade(alembic_config(connection), revision)
        after = migration_context(connection).get_current_heads()
    return (before[0] if before else None), (after[0] if after else None)


def downgrade(engine: Engine, revision: str) -> tuple[str | None, str | None]:
    """Downgrade gamify's tables to ``revision`` (``"base"`` drops them all)."""
    with _errors(f"downgrade gamify's tables to {revision!r}"), engine.begin() as connection:
        _adopt(connection)
        before = migration_context(connection).get_current_heads()
        command.downgrade(alembic_config(connection), revision)
        after = migration_context(connection).get_current_heads()
    return (before[0] if before else None), (after[0] if after else None)


@dataclass(frozen=True, slots=True)
class Revision:
    """One of gamify's schema revisions, as listed by :func:`history`."""

    revision: str
    down_revision: str | None
    message: str
    is_head: bool
    is_current: bool


def history(engine: Engine | None = None) -> list[Revision]:
    """Every revision, oldest first; ``is_current`` marks the database's when given."""
    current = None if engine is None else current_revision(engine)
    script = script_directory()
    heads = set(script.get_heads())
    revisions = []
    for item in reversed(list(script.walk_revisions())):
        down = item.down_revision
        revisions.append(
            Revision(
                revision=item.revision,
                down_revision=down if isinstance(down, str) or down is None else down[0],
                message=item.doc,
                is_head=item.revision in heads,
                is_current=item.revision == current,
            )
        )
    return revisions


def create_schema(engine: Engine) -> None:
    """Make gamify's tables current: create them and stamp head, or upgrade them.

    A database without gamify's tables gets them from the models, stamped at head (what
    tests and quick starts want: fast, and a later upgrade has nothing to do); one that
    has them is upgraded.
    """
    with engine.connect() as connection:
        existing = _gamify_tables(connection)
    if existing:
        upgrade(engine)
        return
    with _errors("create gamify's tables"), engine.begin() as connection:
        metadata().create_all(connection)
        catalog = cast(Table, CatalogVersion.__table__)
        connection.execute(catalog.insert().values(id=1, version=first_catalog_version()))
        migration_context(connection).stamp(script_directory(), "head")


def drop_schema(engine: Engine) -> None:
    """Drop gamify's tables, with their version table."""
    with engine.begin() as connection:
        metadata().drop_all(connection)
        connection.execute(text(f"DROP TABLE IF EXISTS {VERSION_TABLE}"))


def schema_differences(connection: Connection) -> list[Any]:
    """What Alembic's autogenerate finds between the database and the models."""
    return list(compare_metadata(migration_context(connection), metadata()))


def autogenerate_revision(message: str, database_url: str) -> Path:
    """Write a revision for what changed in the models (developers: ``make migration``).

    :param database_url: a scratch database; it is upgraded to head first, then compared
        with the models.
    """
    from sqlalchemy import create_engine

    engine = create_engine(database_url)
    try:
        upgrade(engine)
        number = len(list(script_directory().walk_revisions())) + 1
        with engine.begin() as connection:
            written = command.revision(
                alembic_config(connection),
                message=message,
                autogenerate=True,
                rev_id=f"{number:04d}",
            )
    finally:
        engine.dispose()
    assert written is not None and not isinstance(written, list)
    return Path(written.path)
