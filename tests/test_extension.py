"""The extension object: registration, configuration, state, databases and binds."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import Note, db
from flask import Flask

from flask_gamify import Gamify, GamifyError, GoalView
from flask_gamify.extension import DEFAULTS
from flask_gamify.migrate import VERSION_TABLE
from flask_gamify.models import Base

COUNT_LOGIN = {"type": "count", "event": "login", "target": 3}
CORE_TABLES = {
    "gamify_goals",
    "gamify_progress",
    "gamify_awards",
    "gamify_events",
    "gamify_assignments",
    "gamify_notifications",
}


def gamify_tables() -> set[str]:
    """Every table gamify creates (modules imported on init_app may add some), with the
    version table of its migrations."""
    return {*Base.metadata.tables, VERSION_TABLE}


def make_app(name: str, **config: Any) -> Flask:
    """An app of our own with the host's ``db`` registered (not gamify)."""
    app = Flask(name)
    app.config.update(TESTING=True, **config)
    db.init_app(app)
    return app


def dispose(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Iterator[Flask]:
    """A second host app on a SQLite file of its own (independent of the main database)."""
    app = make_app("second_app", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'second.db'}")
    yield app
    dispose(app)


def goal_keys(gamify: Gamify) -> list[str]:
    return [goal.key for goal in gamify.goals()]


# -- registration ----------------------------------------------------------------------


def test_constructor_with_app_registers(sqlite_app: Flask) -> None:
    gamify = Gamify(sqlite_app, db=db)
    state = sqlite_app.extensions["gamify"]
    assert state.extension is gamify
    assert state.db is db
    with sqlite_app.app_context():
        gamify.create_all()
        view = gamify.define_goal("login", criteria=COUNT_LOGIN)
        assert isinstance(view, GoalView)
        gamify.track("login", 7)
        assert gamify.progress(7, "login").current == 1


def test_init_app_later(sqlite_app: Flask) -> None:
    gamify = Gamify(db=db)
    assert "gamify" not in sqlite_app.extensions
    gamify.init_app(sqlite_app)
    assert sqlite_app.extensions["gamify"].extension is gamify
    assert "gamify" in sqlite_app.cli.commands
    with sqlite_app.app_context():
        gamify.create_all()
        gamify.define_goal("login", criteria=COUNT_LOGIN)
        assert goal_keys(gamify) == ["login"]


def test_init_app_twice_raises_with_fix(app: Flask, gamify: Gamify) -> None:
    state = app.extensions["gamify"]
    with pytest.raises(RuntimeError, match="already registered") as info:
        gamify.init_app(app)
    assert "init_app(app) once" in str(info.value)
    # A second Gamify object is refused as well, and the first registration stays.
    with pytest.raises(RuntimeError, match="already registered"):
        Gamify(app, db=db)
    assert app.extensions["gamify"] is state


def test_one_object_serves_two_apps(app: Flask, gamify: Gamify, sqlite_app: Flask) -> None:
    sqlite_app.config["GAMIFY_DEFAULT_ENTITY_TYPE"] = "team"
    gamify.init_app(sqlite_app)
    assert sqlite_app.extensions["gamify"] is not app.extensions["gamify"]
    assert sqlite_app.extensions["gamify"].extension is gamify
    # No app is stored on the extension object: state is reached through current_app.
    assert not any(isinstance(value, Flask) for value in vars(gamify).values())

    gamify.define_goal("first-app-goal", criteria=COUNT_LOGIN)
    with sqlite_app.app_context():
        gamify.create_all()
        assert gamify.state.default_entity_type == "team"
        assert goal_keys(gamify) == []
        gamify.define_goal("second-app-goal", criteria=COUNT_LOGIN, entity_type="team")
        assert goal_keys(gamify) == ["second-app-goal"]
    # Back in the outer (pushed) context of the first app.
    assert gamify.state.default_entity_type == "user"
    assert goal_keys(gamify) == ["first-app-goal"]


def test_without_flask_sqlalchemy_raises() -> None:
    app = Flask("no_sqlalchemy")
    with pytest.raises(RuntimeError, match=r"db\.init_app\(app\)"):
        Gamify(app)
    assert "gamify" not in app.extensions


def test_default_db_is_the_one_registered_on_the_app(sqlite_app: Flask) -> None:
    gamify = Gamify()
    gamify.init_app(sqlite_app)
    assert sqlite_app.extensions["gamify"].db is sqlite_app.extensions["sqlalchemy"] is db
    with sqlite_app.app_context():
        gamify.create_all()
        assert set(sa.inspect(db.engine).get_table_names()) >= gamify_tables()


# -- configuration ---------------------------------------------------------------------


def test_every_config_default_is_set(sqlite_app: Flask) -> None:
    Gamify(sqlite_app, db=db)
    expected = {
        "GAMIFY_BIND_KEY": None,
        "GAMIFY_TIMEZONE": "UTC",
        "GAMIFY_LATE_EVENT_ALLOWANCE": "7d",
        "GAMIFY_EVENT_RETENTION": "90d",
        "GAMIFY_MAX_ATTRIBUTES_BYTES": 8192,
        "GAMIFY_MAX_ATTRIBUTES_DEPTH": 4,
        "GAMIFY_MAX_FUTURE": "5m",
        "GAMIFY_NOTIFY_AWARDS": True,
        "GAMIFY_DEFAULT_ENTITY_TYPE": "user",
    }
    for key, value in expected.items():
        assert sqlite_app.config[key] == value, key
    # Keys added later are defaulted too.
    for key, value in DEFAULTS.items():
        assert sqlite_app.config[key] == value, key
    state = sqlite_app.extensions["gamify"]
    assert state.event_retention == timedelta(days=90)
    assert state.late_event_allowance == timedelta(days=7)
    assert state.limits.future == timedelta(minutes=5)


def test_host_config_values_are_kept(sqlite_app: Flask) -> None:
    host = {
        "GAMIFY_TIMEZONE": "Europe/Paris",
        "GAMIFY_LATE_EVENT_ALLOWANCE": "2d",
        "GAMIFY_EVENT_RETENTION": timedelta(days=30),
        "GAMIFY_MAX_ATTRIBUTES_BYTES": 100,
        "GAMIFY_MAX_ATTRIBUTES_DEPTH": 2,
        "GAMIFY_MAX_FUTURE": 60,
        "GAMIFY_NOTIFY_AWARDS": False,
        "GAMIFY_DEFAULT_ENTITY_TYPE": "member",
    }
    sqlite_app.config.update(host)
    Gamify(sqlite_app, db=db)
    for key, value in host.items():
        assert sqlite_app.config[key] == value
    state = sqlite_app.extensions["gamify"]
    assert str(state.timezone) == "Europe/Paris"
    assert state.late_event_allowance == timedelta(days=2)
    assert state.event_retention == timedelta(days=30)
    assert state.limits.attributes_bytes == 100
    assert state.limits.attributes_depth == 2
    assert state.limits.future == timedelta(seconds=60)
    assert state.notify_awards is False
    assert state.default_entity_type == "member"


def test_invalid_timezone_names_the_key(sqlite_app: Flask) -> None:
    sqlite_app.config["GAMIFY_TIMEZONE"] = "Mars/Olympus_Mons"
    with pytest.raises(RuntimeError, match="GAMIFY_TIMEZONE") as info:
        Gamify(sqlite_app, db=db)
    assert "Mars/Olympus_Mons" in str(info.value)
    # Nothing half-registered: fixing the setting and registering again works.
    assert "gamify" not in sqlite_app.extensions
    sqlite_app.config["GAMIFY_TIMEZONE"] = "Europe/Paris"
    Gamify(sqlite_app, db=db)
    assert str(sqlite_app.extensions["gamify"].timezone) == "Europe/Paris"


def test_invalid_duration_names_the_key(sqlite_app: Flask) -> None:
    sqlite_app.config["GAMIFY_EVENT_RETENTION"] = "forever"
    with pytest.raises(RuntimeError, match="GAMIFY_EVENT_RETENTION"):
        Gamify(sqlite_app, db=db)


# -- reaching the state ----------------------------------------------------------------


def test_outside_app_context_raises_helpful_error() -> None:
    gamify = Gamify(db=db)
    with pytest.raises(RuntimeError, match="application context") as info:
        gamify.goals()
    assert "app.app_context()" in str(info.value)
    with pytest.raises(RuntimeError, match="application context"):
        gamify.track("login", 1)


def test_app_without_init_app_raises_helpful_error(sqlite_app: Flask) -> None:
    gamify = Gamify(db=db)
    with sqlite_app.app_context():
        for call in (gamify.goals, gamify.create_all, lambda: gamify.track("login", 1)):
            with pytest.raises(RuntimeError, match="not registered") as info:
                call()
            assert "gamify.init_app(app)" in str(info.value)


# -- databases and binds ---------------------------------------------------------------


def test_in_memory_sqlite_default_database_is_refused() -> None:
    app = make_app("in_memory", SQLALCHEMY_DATABASE_URI="sqlite://")
    gamify = Gamify(app, db=db)
    try:
        with app.app_context():
            with pytest.raises(GamifyError, match="in-memory SQLite") as info:
                gamify.create_all()
            message = str(info.value)
            assert "sqlite:///app.db" in message
            assert "GAMIFY_BIND_KEY" in message
            with pytest.raises(GamifyError, match="GAMIFY_BIND_KEY"):
                gamify.track("login", 1)
    finally:
        dispose(app)


def test_unknown_bind_key_names_the_fix(tmp_path: Path) -> None:
    app = make_app(
        "unknown_bind",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'host.db'}",
        GAMIFY_BIND_KEY="missing",
    )
    gamify = Gamify(app, db=db)
    try:
        with app.app_context(), pytest.raises(GamifyError, match="SQLALCHEMY_BINDS"):
            gamify.create_all()
    finally:
        dispose(app)


@pytest.fixture
def bind_config(tmp_path: Path, database_url: str, is_postgres: bool) -> Iterator[dict[str, Any]]:
    """Configuration of a host database and a separate ``gamify`` bind.

    SQLite: an in-memory host database (refused as gamify's own) and a file as the
    bind. PostgreSQL: two fresh schemas of the test database, chosen by search_path,
    so that inspecting either one is not disturbed by other tables in ``public``.
    """
    if not is_postgres:
        yield {
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            "SQLALCHEMY_BINDS": {"gamify": f"sqlite:///{tmp_path / 'gamify.db'}"},
        }
        return
    suffix = uuid.uuid4().hex[:10]
    host_schema, gamify_schema = f"host_{suffix}", f"gamify_{suffix}"
    admin = sa.create_engine(database_url)
    with admin.begin() as connection:
        for schema in (host_schema, gamify_schema):
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))

    def in_schema(schema: str) -> dict[str, Any]:
        return {"url": database_url, "connect_args": {"options": f"-csearch_path={schema}"}}

    try:
        yield {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": in_schema(host_schema)["connect_args"]},
            "SQLALCHEMY_BINDS": {"gamify": in_schema(gamify_schema)},
        }
    finally:
        with admin.begin() as connection:
            for schema in (host_schema, gamify_schema):
                connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def test_bind_key_puts_tables_on_the_separate_bind(bind_config: dict[str, Any]) -> None:
    app = make_app("with_bind", GAMIFY_BIND_KEY="gamify", **bind_config)
    gamify = Gamify(app, db=db)
    try:
        with app.app_context():
            db.create_all()
            gamify.create_all()
            on_bind = set(sa.inspect(db.engines["gamify"]).get_table_names())
            host_tables = set(sa.inspect(db.engine).get_table_names())
            assert on_bind == gamify_tables()
            assert host_tables == {"host_notes"}

            gamify.define_goal("login", criteria=COUNT_LOGIN)
            gamify.track("login", 1)
            assert gamify.progress(1, "login").current == 1
            with db.engines["gamify"].connect() as connection:
                count = connection.execute(sa.text("SELECT COUNT(*) FROM gamify_events"))
                assert count.scalar_one() == 1
            gamify.drop_all()
            assert set(sa.inspect(db.engines["gamify"]).get_table_names()) == set()
            assert set(sa.inspect(db.engine).get_table_names()) == {"host_notes"}
            db.drop_all()
    finally:
        dispose(app)
        # Flask-SQLAlchemy adds a metadata per configured bind to the shared ``db``;
        # remove it, or create_all/drop_all of the other tests' apps look for that bind.
        db.metadatas.pop("gamify", None)


def test_tables_are_prefixed_on_their_own_metadata(app: Flask) -> None:
    assert Base.metadata is not db.metadata
    assert set(Base.metadata.tables) >= CORE_TABLES
    assert all(name.startswith("gamify_") for name in Base.metadata.tables)
    assert not set(Base.metadata.tables) & set(db.metadata.tables)
    assert set(sa.inspect(db.engine).get_table_names()) >= gamify_tables()


def test_create_all_is_idempotent(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("login", criteria=COUNT_LOGIN)
    gamify.track("login", 1)
    gamify.create_all()
    gamify.create_all()
    assert goal_keys(gamify) == ["login"]
    assert gamify.progress(1, "login").current == 1


# -- invariant 7: never touch the host's transaction --------------------------------


def count_notes_independently() -> int:
    """Notes as another connection sees them (committed rows only)."""
    with db.engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(Note)).scalar_one()


def test_host_session_is_never_committed_or_rolled_back(app: Flask, gamify: Gamify) -> None:
    note = Note(text="pending host work")
    # Not flushed: SQLite allows one writer at a time, so a flushed host transaction
    # would hold the write lock and gamify's own session would wait for it.
    db.session.add(note)

    gamify.define_goal("login", criteria=COUNT_LOGIN)
    gamify.track("login", 1)
    gamify.track("login", 1)
    assert gamify.progress(1, "login").current == 2
    gamify.archive_goal("login")
    assert gamify.awards(1) == []

    assert note in db.session.new
    assert count_notes_independently() == 0
    db.session.rollback()
    assert note not in db.session
    assert db.session.execute(sa.select(sa.func.count()).select_from(Note)).scalar_one() == 0
    assert count_notes_independently() == 0


def test_flushed_host_transaction_survives_gamify_writes(
    app: Flask, gamify: Gamify, is_postgres: bool
) -> None:
    if not is_postgres:
        pytest.skip("SQLite allows one writer: a flushed host transaction blocks gamify.")
    note = Note(text="flushed host work")
    db.session.add(note)
    db.session.flush()
    assert note.id is not None

    gamify.define_goal("login", criteria={"type": "count", "event": "login", "target": 1})
    gamify.track("login", 1)
    assert gamify.has_completed(1, "login")

    assert note in db.session
    assert count_notes_independently() == 0
    db.session.rollback()
    assert count_notes_independently() == 0
    assert db.session.execute(sa.select(sa.func.count()).select_from(Note)).scalar_one() == 0
    # Gamify's writes were its own, committed: they survive the host's rollback.
    assert gamify.has_completed(1, "login")
