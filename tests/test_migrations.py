"""Schema migrations: gamify's Alembic revisions, version table and commands.

A 0.1.0 database is built from ``tests/data/schema-0.1.0.<dialect>.sql``: the DDL that
0.1.0's ``create_all()`` ran (generated once from commit 24294d4's models).
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext
from click.testing import Result
from conftest import db
from flask import Flask

from flask_gamify import Gamify, GamifyError
from flask_gamify import migrate as migrations
from flask_gamify.api.keys import authenticate
from flask_gamify.migrate import BASELINE, VERSION_TABLE

DATA = Path(__file__).parent / "data"
LOGIN_2 = {"type": "count", "event": "login", "target": 2}
READER = {"type": "distinct", "event": "article.read", "field": "article_id", "target": 3}
#: An API key of the 0.1.0 database (its hash is stored; the key is what a client has).
TOKEN = "gmf_oldkey01_" + "x" * 43
T0 = datetime(2026, 3, 1, 12, 0)
#: How the commands name the revision of a database without gamify's version.
NONE = "none (no gamify tables under migration)"
#: The latest revision that changes what SQLite sees (0010 changes column types on
#: PostgreSQL only): removed, with those after it, autogenerate on SQLite writes it again.
LATEST_SQLITE_CHANGE = "0009"


def head() -> str:
    (only,) = migrations.script_directory().get_heads()
    return only


def invoke(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(args=["gamify", "db", *args])


def drop_everything(engine: sa.Engine) -> None:
    """Drop every table of the database (gamify's, the host's, version tables)."""
    cascade = "" if engine.dialect.name == "sqlite" else " CASCADE"
    with engine.begin() as connection:
        for name in sa.inspect(connection).get_table_names():
            connection.execute(sa.text(f'DROP TABLE IF EXISTS "{name}"{cascade}'))


@pytest.fixture
def bare_app(database_url: str, gamify: Gamify) -> Iterator[Flask]:
    """An app whose database has no tables at all: each test makes what it needs."""
    app = Flask("migrations_test")
    app.config.update(TESTING=True, SQLALCHEMY_DATABASE_URI=database_url)
    db.init_app(app)
    gamify.init_app(app)
    with app.app_context():
        engine = gamify.state.engine
        drop_everything(engine)
        yield app
        db.session.remove()
        drop_everything(engine)
        for each in db.engines.values():
            each.dispose()


def engine_of(gamify: Gamify) -> sa.Engine:
    return gamify.state.engine


def create_0_1_0_schema(engine: sa.Engine) -> None:
    """Run the DDL 0.1.0's create_all() ran, for this database's dialect."""
    sql = (DATA / f"schema-0.1.0.{engine.dialect.name}.sql").read_text()
    body = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
    with engine.begin() as connection:
        for statement in body.split(";"):
            if statement.strip():
                connection.exec_driver_sql(statement)


def insert_0_1_0_data(engine: sa.Engine) -> None:
    """Goals, progress, awards, events, assignments, notifications, outbox and a key."""
    metadata = sa.MetaData()
    metadata.reflect(engine)
    rows: dict[str, list[dict[str, Any]]] = {
        "gamify_goals": [
            {
                "id": 1,
                "key": "login-2",
                "name": "Regular",
                "description": "Log in twice",
                "criteria": LOGIN_2,
                "criteria_hash": "0" * 64,
                "points": 10,
                "repeatable": False,
                "max_awards": None,
                "hidden": False,
                "assigned_only": False,
                "owner": "alice",
                "starts_at": None,
                "ends_at": datetime(2027, 1, 1),
                "entity_type": "user",
                "archived_at": None,
                "created_at": T0,
                "updated_at": T0,
            },
            {
                "id": 2,
                "key": "reader",
                "name": "Reader",
                "description": "",
                "criteria": READER,
                "criteria_hash": "1" * 64,
                "points": 0,
                "repeatable": False,
                "max_awards": None,
                "hidden": True,
                "assigned_only": True,
                "owner": None,
                "starts_at": None,
                "ends_at": None,
                "entity_type": "user",
                "archived_at": T0,
                "created_at": T0,
                "updated_at": T0,
            },
        ],
        "gamify_events": [
            {
                "id": f"old-{index}",
                "type": "login",
                "entity_type": "user",
                "entity_id": "ann",
                "attributes": {"n": index},
                "occurred_at": T0,
                "processed_at": T0,
            }
            for index in range(2)
        ],
        "gamify_progress": [
            {
                "id": 1,
                "goal_id": 1,
                "entity_type": "user",
                "entity_id": "ann",
                "state": None,
                "criteria_hash": "0" * 64,
                "percent": 100,
                "times_completed": 1,
                "completed_at": T0,
                "updated_at": T0,
            }
        ],
        "gamify_awards": [
            {
                "id": 1,
                "goal_id": 1,
                "entity_type": "user",
                "entity_id": "ann",
                "occurrence": 1,
                "points": 10,
                "awarded_at": T0,
            }
        ],
        "gamify_assignments": [
            {
                "id": 1,
                "goal_id": 2,
                "entity_type": "user",
                "entity_id": "ann",
                "assigned_by": "bob",
                "assigned_by_type": "user",
                "assigned_at": T0,
                "due_at": None,
                "completed_at": None,
            }
        ],
        "gamify_notifications": [
            {
                "id": 1,
                "entity_type": "user",
                "entity_id": "bob",
                "kind": "goal-completed",
                "data": {"goal": "login-2"},
                "created_at": T0,
                "read_at": None,
            }
        ],
        "gamify_outbox": [
            {"id": 1, "event": {"type": "login", "entity": "cy"}, "created_at": T0},
        ],
        "gamify_api_keys": [
            {
                "id": 1,
                "name": "old-key",
                "prefix": TOKEN[:12],
                "key_hash": hashlib.sha256(TOKEN.encode()).hexdigest(),
                "scopes": "goals:read progress:read",
                "created_at": T0,
                "revoked_at": None,
                "last_used_at": None,
            }
        ],
    }
    with engine.begin() as connection:
        for name, table_rows in rows.items():
            connection.execute(metadata.tables[name].insert(), table_rows)
        if engine.dialect.name == "postgresql":
            # Explicit ids do not move PostgreSQL's sequences: as if rows were inserted.
            for name in ("gamify_goals", "gamify_progress", "gamify_awards"):
                connection.execute(
                    sa.text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), 10)")
                )


def table_rows(engine: sa.Engine, tables: dict[str, list[str]]) -> dict[str, list[Any]]:
    """Every row of ``tables`` (the columns listed), ordered by their first column."""
    with engine.connect() as connection:
        metadata = sa.MetaData()
        metadata.reflect(connection, only=list(tables))
        return {
            name: [
                tuple(row)
                for row in connection.execute(
                    sa.select(*(metadata.tables[name].c[column] for column in columns)).order_by(
                        metadata.tables[name].c[columns[0]]
                    )
                )
            ]
            for name, columns in tables.items()
        }


def schema_of(engine: sa.Engine) -> dict[str, Any]:
    """Gamify's tables as the database describes them (columns, keys, indexes)."""
    with engine.connect() as connection:
        inspector = sa.inspect(connection)
        dialect = connection.dialect
        described = {}
        for name in sorted(inspector.get_table_names()):
            if not name.startswith("gamify_") or name == VERSION_TABLE:
                continue
            described[name] = {
                # By name: a column added by a revision comes last, which means nothing.
                "columns": sorted(
                    (
                        column["name"],
                        column["type"].compile(dialect=dialect),
                        column["nullable"],
                        column.get("default"),
                    )
                    for column in inspector.get_columns(name)
                ),
                "primary_key": inspector.get_pk_constraint(name),
                "unique": sorted(
                    (item["name"], tuple(item["column_names"]))
                    for item in inspector.get_unique_constraints(name)
                ),
                "indexes": sorted(
                    (item["name"], tuple(item["column_names"]), item["unique"])
                    for item in inspector.get_indexes(name)
                ),
                "foreign_keys": sorted(
                    (
                        item["name"],
                        tuple(item["constrained_columns"]),
                        item["referred_table"],
                        (item.get("options") or {}).get("ondelete"),
                    )
                    for item in inspector.get_foreign_keys(name)
                ),
            }
        return described


def storage_options(engine: sa.Engine) -> dict[str, list[str]]:
    """PostgreSQL's storage parameters of gamify's tables that have any (``{}`` on SQLite)."""
    if engine.dialect.name != "postgresql":
        return {}
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT relname, reloptions FROM pg_class"
                " WHERE relname LIKE 'gamify%' AND relkind = 'r' AND reloptions IS NOT NULL"
            )
        )
        return {name: sorted(options) for name, options in rows}


def differences(engine: sa.Engine) -> list[Any]:
    with engine.connect() as connection:
        return migrations.schema_differences(connection)


def version_rows(engine: sa.Engine, table: str) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(sa.text(f"SELECT version_num FROM {table}")).scalars())


#: The 0.1.0 tables and columns whose rows an upgrade must keep.
OLD_COLUMNS = {
    "gamify_goals": ["id", "key", "name", "criteria", "owner", "ends_at", "archived_at"],
    "gamify_events": ["id", "type", "entity_id", "attributes", "occurred_at"],
    "gamify_progress": ["id", "goal_id", "entity_id", "times_completed", "completed_at"],
    "gamify_awards": ["id", "goal_id", "entity_id", "occurrence", "points", "awarded_at"],
    "gamify_assignments": ["id", "goal_id", "entity_id", "assigned_by"],
    "gamify_notifications": ["id", "entity_id", "kind", "data"],
    "gamify_outbox": ["id", "event"],
    "gamify_api_keys": ["id", "name", "prefix", "key_hash", "scopes"],
}


# -- the baseline is 0.1.0's schema -------------------------------------------------------


def test_the_baseline_revision_creates_exactly_the_0_1_0_schema(
    bare_app: Flask, gamify: Gamify
) -> None:
    engine = engine_of(gamify)
    create_0_1_0_schema(engine)
    made_by_0_1_0 = schema_of(engine)
    assert len(made_by_0_1_0) == 8
    drop_everything(engine)
    assert gamify.upgrade_db(BASELINE) == BASELINE
    assert schema_of(engine) == made_by_0_1_0


# -- (a) a 0.1.0 database upgrades with its data ---------------------------------------


def test_a_0_1_0_database_upgrades_to_head_with_its_data(bare_app: Flask, gamify: Gamify) -> None:
    engine = engine_of(gamify)
    create_0_1_0_schema(engine)
    insert_0_1_0_data(engine)
    before = table_rows(engine, OLD_COLUMNS)

    result = invoke(bare_app, "upgrade")

    assert result.exit_code == 0, result.output
    assert result.output == f"Upgraded gamify's tables from {BASELINE} to {head()} (head).\n"
    assert table_rows(engine, OLD_COLUMNS) == before
    assert differences(engine) == []
    assert version_rows(engine, VERSION_TABLE) == [head()]
    # Everything reads as before, and works on.
    assert gamify.has_completed("ann", "login-2")
    assert [(award.goal, award.points) for award in gamify.awards("ann")] == [("login-2", 10)]
    # Points held are in the ledger and the balances (revision 0008 fills them).
    assert gamify.points("ann") == 10
    [entry] = gamify.points_ledger("ann")
    assert (entry.kind, entry.amount, entry.goal, entry.occurrence) == ("award", 10, "login-2", 1)
    assert [goal.key for goal in gamify.goals(include_archived=True)] == ["login-2", "reader"]
    with gamify.state.transaction() as session:
        key = authenticate(session, TOKEN)
    assert key is not None and key.name == "old-key" and key.owner is None
    assert [n.kind for n in gamify.notifications("bob")] == ["goal-completed"]
    # Each existing goal got its version 1: its definition as of the upgrade.
    (first,) = gamify.goal_versions("login-2")
    assert first.version == 1 and first.changed_by is None
    assert first.changed_at == T0.replace(tzinfo=UTC)
    assert first.changes["criteria"] == {"before": None, "after": LOGIN_2}
    assert first.changes["ends_at"] == {"before": None, "after": "2027-01-01T00:00:00+00:00"}
    assert first.changes["archived"] == {"before": None, "after": False}
    assert gamify.goal_versions("reader")[0].changes["archived"]["after"] is True
    # Goal versions written from now on use the same JSON form: an unchanged field
    # is not reported as changed.
    gamify.define_goals([{**gamify.goal("login-2").definition(), "points": 20}])
    assert gamify.goal_versions("login-2")[1].changes == {"points": {"before": 10, "after": 20}}
    gamify.track("login", "dan")
    assert gamify.progress("dan", "login-2").current == 1
    # Upgrading again has nothing to do.
    again = invoke(bare_app, "upgrade")
    assert again.output == f"Gamify's tables are at {head()} (head); nothing to upgrade.\n"


def test_create_all_on_a_0_1_0_database_upgrades_it(bare_app: Flask, gamify: Gamify) -> None:
    engine = engine_of(gamify)
    create_0_1_0_schema(engine)
    insert_0_1_0_data(engine)
    before = table_rows(engine, OLD_COLUMNS)
    gamify.create_all()
    assert table_rows(engine, OLD_COLUMNS) == before
    assert differences(engine) == []
    assert migrations.current_revision(engine) == head()


# -- (b) head's schema is the models' ---------------------------------------------------


def test_head_schema_equals_the_models(bare_app: Flask, gamify: Gamify) -> None:
    engine = engine_of(gamify)
    assert gamify.upgrade_db() == head()
    assert differences(engine) == []
    expected_options = (
        {"gamify_progress": ["fillfactor=70"]} if engine.dialect.name == "postgresql" else {}
    )
    assert storage_options(engine) == expected_options
    # And create_all() makes the same schema as the revisions.
    upgraded = schema_of(engine)
    gamify.drop_all()
    gamify.create_all()
    assert schema_of(engine) == upgraded
    assert storage_options(engine) == expected_options


def test_the_revisions_form_one_line_numbered_in_order() -> None:
    """Two branches that each add a revision after the same one leave two heads: renumber
    one (its ``revision`` and ``down_revision``) when merging."""
    script = migrations.script_directory()
    assert len(script.get_heads()) == 1, script.get_heads()
    chain = [item.revision for item in reversed(list(script.walk_revisions()))]
    assert chain == [f"{number:04d}" for number in range(1, len(chain) + 1)]
    files = sorted(path.name[:4] for path in (migrations.MIGRATIONS / "versions").glob("0*.py"))
    assert files == chain


# -- (c) down and up again ----------------------------------------------------------


def test_downgrade_to_base_and_upgrade_again(bare_app: Flask, gamify: Gamify) -> None:
    engine = engine_of(gamify)
    gamify.upgrade_db()
    gamify.define_goal("login-2", criteria=LOGIN_2)
    gamify.track("login", "ann")
    # One step down and back keeps the 0.1.0 tables' rows.
    kept = table_rows(engine, {"gamify_goals": ["id", "key"], "gamify_events": ["id"]})
    assert gamify.downgrade_db(BASELINE) == BASELINE
    assert "gamify_goal_versions" not in sa.inspect(engine).get_table_names()
    assert storage_options(engine) == {}
    assert gamify.upgrade_db() == head()
    assert table_rows(engine, {"gamify_goals": ["id", "key"], "gamify_events": ["id"]}) == kept
    assert differences(engine) == []

    result = invoke(bare_app, "downgrade", "base")
    assert result.exit_code == 0, result.output
    assert result.output == f"Downgraded gamify's tables from {head()} (head) to {NONE}.\n"
    assert set(sa.inspect(engine).get_table_names()) <= {VERSION_TABLE}
    assert gamify.upgrade_db() == head()
    assert differences(engine) == []
    assert gamify.goals() == []


# -- (d) gamify's version table, not the host's ---------------------------------------


def test_the_host_alembic_history_is_left_alone(bare_app: Flask, gamify: Gamify) -> None:
    engine = engine_of(gamify)
    db.create_all()  # the host's own tables (host_notes)
    with engine.begin() as connection:
        # The host's own Alembic/Flask-Migrate history, in the same database.
        MigrationContext.configure(connection)._ensure_version_table()
        connection.execute(sa.text("INSERT INTO alembic_version VALUES ('host0042')"))

    gamify.upgrade_db()
    gamify.downgrade_db(BASELINE)
    gamify.upgrade_db()
    gamify.drop_all()
    gamify.create_all()

    assert version_rows(engine, "alembic_version") == ["host0042"]
    assert version_rows(engine, VERSION_TABLE) == [head()]
    assert "host_notes" in sa.inspect(engine).get_table_names()

    # The documented include_object keeps a host's autogenerate away from gamify's
    # tables: comparing the host's models with the database finds nothing to drop.
    from alembic.autogenerate import compare_metadata

    def include_object(
        object: Any, name: Any, type_: str, reflected: bool, compare_to: Any
    ) -> bool:
        return not (type_ == "table" and name.startswith("gamify_"))

    with engine.connect() as connection:
        host_context = MigrationContext.configure(
            connection, opts={"include_object": include_object}
        )
        assert compare_metadata(host_context, db.metadata) == []
        unfiltered = MigrationContext.configure(connection)
        assert compare_metadata(unfiltered, db.metadata)  # without it: drop gamify_*


# -- (e) create_all stamps head -------------------------------------------------------


def test_create_all_stamps_head(bare_app: Flask, gamify: Gamify) -> None:
    engine = engine_of(gamify)
    gamify.create_all()
    assert version_rows(engine, VERSION_TABLE) == [head()]
    result = invoke(bare_app, "upgrade")
    assert result.output == f"Gamify's tables are at {head()} (head); nothing to upgrade.\n"
    current = invoke(bare_app, "current")
    assert current.exit_code == 0
    assert current.output == f"Gamify's tables are at {head()} (head).\n"


def test_tables_that_already_match_the_models_are_stamped_head(
    bare_app: Flask, gamify: Gamify
) -> None:
    """Tables made by create_all before migrations existed, at the current models."""
    engine = engine_of(gamify)
    migrations.metadata().create_all(engine)
    assert gamify.upgrade_db() == head()
    assert version_rows(engine, VERSION_TABLE) == [head()]


# -- (f) the commands ---------------------------------------------------------------


def test_history_lists_the_revisions_and_marks_the_current_one(
    bare_app: Flask, gamify: Gamify
) -> None:
    gamify.upgrade_db(BASELINE)
    result = invoke(bare_app, "history")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert (
        lines[0]
        == "<base> -> 0001 (current): Baseline: Flask-Gamify 0.1.0's schema (commit 24294d4)."
    )
    assert lines[1].startswith("0001 -> 0002: ")
    assert lines[-1].startswith(f"{int(head()) - 1:04d} -> {head()} (head): ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("upgrade", "nope"),
            "Error: Cannot upgrade gamify's tables to 'nope': Can't locate revision identified"
            " by 'nope'.",
        ),
        (
            ("downgrade", "0099"),
            "Error: Cannot downgrade gamify's tables to '0099': Can't locate revision"
            " identified by '0099'.",
        ),
    ],
)
def test_unknown_revisions_fail_in_one_line(
    bare_app: Flask, gamify: Gamify, args: tuple[str, ...], message: str
) -> None:
    gamify.create_all()
    result = invoke(bare_app, *args)
    assert result.exit_code == 1
    assert result.output == message + "\n"


def test_downgrade_above_the_current_revision_fails_clearly(
    bare_app: Flask, gamify: Gamify
) -> None:
    gamify.upgrade_db(BASELINE)
    result = invoke(bare_app, "downgrade", head())
    assert result.exit_code == 1
    assert len(result.output.splitlines()) == 1
    assert result.output.startswith(f"Error: Cannot downgrade gamify's tables to '{head()}': ")


def test_downgrade_needs_a_revision(bare_app: Flask) -> None:
    result = invoke(bare_app, "downgrade")
    assert result.exit_code == 2
    assert "Missing argument 'REVISION'" in result.output


def test_the_python_api_raises_gamify_errors(bare_app: Flask, gamify: Gamify) -> None:
    with pytest.raises(GamifyError, match="Can't locate revision identified by 'nope'"):
        gamify.upgrade_db("nope")


def test_current_on_an_empty_database(bare_app: Flask) -> None:
    result = invoke(bare_app, "current")
    assert result.exit_code == 0
    assert result.output == f"Gamify's tables are at {NONE}.\n"


# -- the developer workflow: make migration ------------------------------------------


def test_autogenerate_writes_the_next_revision_for_model_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``make migration``: with the latest revisions SQLite sees missing, autogenerate
    writes them again, as one."""
    copy = tmp_path / "migrations"
    shutil.copytree(migrations.MIGRATIONS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    latest = LATEST_SQLITE_CHANGE
    for removed in (copy / "versions").glob("[0-9]*_*.py"):
        if removed.name >= latest:
            removed.unlink()
    monkeypatch.setattr(migrations, "MIGRATIONS", copy)
    migrations.script_directory.cache_clear()
    try:
        written = migrations.autogenerate_revision("again", f"sqlite:///{tmp_path / 'x.db'}")
    finally:
        migrations.script_directory.cache_clear()
    assert written.parent == copy / "versions"
    assert written.name == f"{latest}_again.py"
    text = written.read_text()
    assert f"revision: str = {latest!r}" in text
    assert "def upgrade() -> None:" in text
    assert "op." in text
    # Revisions stay frozen in time: they never import the models, which change.
    assert "flask_gamify" not in text
