"""The ``flask gamify`` commands: init-db, goals load/dump/list, events prune."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from click.testing import Result
from flask import Flask

from flask_gamify import Gamify
from flask_gamify.models import Base, Event

LOGIN = {"type": "count", "event": "login", "target": 3}
READER = {"type": "distinct", "event": "article.read", "field": "article_id", "target": 5}
GOALS: list[dict[str, Any]] = [
    {"key": "login", "name": "Regular", "criteria": LOGIN, "points": 10},
    {"key": "reader", "name": "Avid reader", "criteria": READER, "owner": "alice"},
]


def invoke(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(args=["gamify", *args])


def keys(gamify: Gamify) -> list[str]:
    return [goal.key for goal in gamify.goals(include_archived=True)]


def definitions(gamify: Gamify) -> list[dict[str, Any]]:
    return [goal.definition() for goal in gamify.goals(include_archived=True)]


def table_names(app: Flask) -> set[str]:
    engine = app.extensions["gamify"].engine
    return set(sa.inspect(engine).get_table_names())


# -- init-db ---------------------------------------------------------------------------


def test_init_db_creates_the_tables(app: Flask, gamify: Gamify) -> None:
    gamify.drop_all()
    assert "gamify_goals" not in table_names(app)
    result = invoke(app, "init-db")
    assert result.exit_code == 0, result.output
    assert "Created" in result.output
    assert set(Base.metadata.tables) <= table_names(app)
    gamify.define_goal("login", criteria=LOGIN)
    # Again: existing tables and their rows are left alone.
    result = invoke(app, "init-db")
    assert result.exit_code == 0, result.output
    assert keys(gamify) == ["login"]


# -- goals load ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("goals.yaml", yaml.safe_dump(GOALS)),
        ("goals.yml", yaml.safe_dump({"goals": GOALS})),
        ("goals.json", json.dumps(GOALS)),
        ("wrapped.json", json.dumps({"goals": GOALS})),
    ],
)
def test_goals_load(app: Flask, gamify: Gamify, tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    result = invoke(app, "goals", "load", str(path))
    assert result.exit_code == 0, result.output
    assert "Defined 2 goal(s): login, reader." in result.output
    assert keys(gamify) == ["login", "reader"]
    login = gamify.goal("login")
    assert (login.name, login.points, login.criteria) == ("Regular", 10, LOGIN)
    assert gamify.goal("reader").owner == "alice"


def test_goals_load_updates_existing_goals(app: Flask, gamify: Gamify, tmp_path: Path) -> None:
    gamify.define_goal("login", name="Old name", criteria=LOGIN)
    path = tmp_path / "goals.yaml"
    path.write_text(yaml.safe_dump(GOALS), encoding="utf-8")
    assert invoke(app, "goals", "load", str(path)).exit_code == 0
    assert keys(gamify) == ["login", "reader"]
    assert gamify.goal("login").name == "Regular"


#: (file name, contents, what the error message must contain)
INVALID_FILES: list[tuple[str, str, list[str]]] = [
    ("broken.yaml", "goals: [unclosed", ["broken.yaml", "not valid YAML"]),
    ("broken.json", '{"goals": [', ["broken.json", "not valid JSON"]),
    ("scalar.yaml", "just a sentence", ["scalar.yaml", "list of goal definitions"]),
    ("no-list.json", json.dumps({"key": "login"}), ["no-list.json", "'goals' list"]),
    (
        "criteria.yaml",
        yaml.safe_dump(
            [GOALS[0], {"key": "bad", "criteria": {"type": "count", "event": "x", "target": 0}}]
        ),
        ["goals[1].criteria.target"],
    ),
    (
        "option.json",
        json.dumps([GOALS[0], GOALS[1], {"key": "bad key", "criteria": LOGIN}]),
        ["goals[2].key"],
    ),
    (
        "single.yaml",
        yaml.safe_dump([{"key": "bad", "criteria": {"type": "nope"}}]),
        ["criteria.type"],
    ),
]


def test_goals_load_rejects_invalid_files(app: Flask, gamify: Gamify, tmp_path: Path) -> None:
    # One test for every case: each app fixture setup costs a schema rebuild.
    for name, text, expected in INVALID_FILES:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        result = invoke(app, "goals", "load", str(path))
        assert result.exit_code == 1, (name, result.output)
        assert result.output.startswith("Error: "), name
        for fragment in expected:
            assert fragment in result.output, (name, result.output)
        assert "Traceback" not in result.output
        assert keys(gamify) == [], name


def test_goals_load_missing_file(app: Flask, gamify: Gamify, tmp_path: Path) -> None:
    result = invoke(app, "goals", "load", str(tmp_path / "absent.yaml"))
    assert result.exit_code == 2
    assert "absent.yaml" in result.output
    assert keys(gamify) == []


# -- goals dump ------------------------------------------------------------------------


def define_varied_goals(gamify: Gamify) -> None:
    gamify.define_goals(
        [
            {"key": "basics", "criteria": LOGIN},
            {
                "key": "master",
                "name": "Lecteur assidu ✓",
                "description": "Everything: a goal with every option.",
                "criteria": {
                    "type": "all",
                    "of": [
                        {"type": "goal", "goal": "basics"},
                        {"type": "sum", "event": "buy", "field": "amount", "target": 12.5},
                        {"type": "all_of", "event": "read", "field": "id", "values": [3, "x"]},
                    ],
                },
                "points": 50,
                "repeatable": True,
                "max_awards": 2,
                "hidden": True,
                "owner": "alice",
                "starts_at": datetime(2030, 1, 1, 8, tzinfo=UTC),
                "ends_at": "2030-02-01T00:00:00Z",
            },
            {"key": "todo", "criteria": READER, "assigned_only": True, "entity_type": "team"},
        ]
    )


@pytest.mark.parametrize("output_format", ["yaml", "json"])
def test_goals_dump_round_trips(
    app: Flask, gamify: Gamify, tmp_path: Path, output_format: str
) -> None:
    define_varied_goals(gamify)
    before = definitions(gamify)
    result = invoke(app, "goals", "dump", "--format", output_format)
    assert result.exit_code == 0, result.output
    document = (
        json.loads(result.output) if output_format == "json" else yaml.safe_load(result.output)
    )
    assert [goal["key"] for goal in document["goals"]] == ["basics", "master", "todo"]

    path = tmp_path / f"dump.{output_format}"
    path.write_text(result.output, encoding="utf-8")
    gamify.drop_all()
    gamify.create_all()
    assert keys(gamify) == []
    result = invoke(app, "goals", "load", str(path))
    assert result.exit_code == 0, result.output
    assert definitions(gamify) == before


def test_goals_dump_is_yaml_by_default_and_skips_archived(app: Flask, gamify: Gamify) -> None:
    define_varied_goals(gamify)
    gamify.archive_goal("todo")
    result = invoke(app, "goals", "dump")
    assert result.exit_code == 0, result.output
    document = yaml.safe_load(result.output)
    assert [goal["key"] for goal in document["goals"]] == ["basics", "master"]
    # Defaults (no description, 0 points, false flags, no times) are left out.
    assert document["goals"][0] == {
        "key": "basics",
        "name": "basics",
        "criteria": LOGIN,
        "entity_type": "user",
    }
    result = invoke(app, "goals", "dump", "--include-archived")
    assert [goal["key"] for goal in yaml.safe_load(result.output)["goals"]] == [
        "basics",
        "master",
        "todo",
    ]


# -- goals list ------------------------------------------------------------------------


def test_goals_list(app: Flask, gamify: Gamify) -> None:
    define_varied_goals(gamify)
    gamify.archive_goal("basics")
    result = invoke(app, "goals", "list")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "basics\tbasics\t0 pts [archived]",
        "master\tLecteur assidu ✓\t50 pts [hidden, repeatable]",
        "todo\ttodo\t0 pts [assigned-only]",
    ]


def test_goals_list_empty(app: Flask) -> None:
    result = invoke(app, "goals", "list")
    assert result.exit_code == 0
    assert result.output == ""


# -- events prune ----------------------------------------------------------------------


def test_events_prune_deletes_only_events_past_retention(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("login", criteria=LOGIN)
    for event_id in ("ancient", "old", "recent", "fresh"):
        gamify.track("login", 1, event_id=event_id, occurred_at="2025-01-01T00:00:00Z")
    now = datetime.now(UTC)
    processed = {
        "ancient": now - timedelta(days=400),
        "old": now - timedelta(days=91),
        "recent": now - timedelta(days=89),
    }
    events = Event.__table__
    # An independent connection, as an operator's SQL would be (retention is 90 days).
    with app.extensions["gamify"].engine.begin() as connection:
        for event_id, moment in processed.items():
            connection.execute(
                sa.update(events).where(events.c.id == event_id).values(processed_at=moment)
            )

    result = invoke(app, "events", "prune")
    assert result.exit_code == 0, result.output
    assert "Deleted 2 event(s)" in result.output
    with app.extensions["gamify"].engine.connect() as connection:
        remaining = set(connection.execute(sa.select(events.c.id)).scalars())
    assert remaining == {"recent", "fresh"}
    # Progress already made is kept.
    assert gamify.progress(1, "login").current == 3

    result = invoke(app, "events", "prune")
    assert "Deleted 0 event(s)" in result.output
