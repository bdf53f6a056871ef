"""One catalog version, not clocks: every process sees a goal change as soon as it commits.

The goal catalog (goals with compiled criteria, cached per process) reloads when the
catalog version, a counter every goal writer increments in its transaction, differs
from the one it loaded. These tests change goals from a process whose clock is an hour
behind (``faketime``), which a check on ``updated_at`` timestamps would miss.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import wait_for
from flask import Flask
from pipeline_app import DATABASE, REDIS
from pipeline_support import Workers, emit, gamify_of
from sqlalchemy import event as sqlalchemy_event
from workload import GOALS

from flask_gamify import Gamify
from flask_gamify.catalog import catalog_version
from flask_gamify.events import make_event
from flask_gamify.testing import RedisServer

TESTS = Path(__file__).parent
LOGIN_3 = {"type": "count", "event": "login", "target": 3}


def faketime() -> str:
    binary = shutil.which("faketime")
    if binary is None:
        pytest.fail("faketime is not installed; .ci/run installs it (apt-get install faketime).")
    return binary


def load_goals_an_hour_behind(
    goals: list[dict[str, object]], database_url: str, tmp_path: Path
) -> None:
    """``flask gamify goals load`` in a process whose clock is an hour behind."""
    path = tmp_path / "goals.json"
    path.write_text(json.dumps({"goals": goals}))
    env = {
        **os.environ,
        DATABASE: database_url,
        REDIS: os.environ.get(REDIS, "redis://127.0.0.1:9/0"),  # not contacted by 'load'
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }
    command = [sys.executable, "-m", "flask", "--app", "pipeline_app", "gamify", "goals", "load"]
    completed = subprocess.run(
        [faketime(), "-f", "-1h", *command, str(path)],
        cwd=TESTS,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_a_change_from_a_host_an_hour_behind_is_seen_at_once(
    app: Flask, gamify: Gamify, database_url: str, tmp_path: Path
) -> None:
    gamify.define_goal("login", criteria=LOGIN_3)
    gamify.define_goal("other", criteria={"type": "count", "event": "visit", "target": 1})
    gamify.track("login", "ann")
    assert gamify.progress("ann", "login").target == 3  # this process loaded its catalog

    changed = {"key": "login", "criteria": {**LOGIN_3, "target": 5}, "points": 7}
    load_goals_an_hour_behind([changed], database_url, tmp_path)

    # The other host's clock wrote an updated_at an hour in the past...
    assert gamify.goal("login").updated_at < gamify.goal("other").updated_at
    # ...and this process sees the change on its next read, without waiting.
    assert gamify.progress("ann", "login").target == 5
    assert gamify.progress("ann", "login").points == 7
    # Processing uses the new definition too.
    for _ in range(3):
        gamify.track("login", "bea")
    assert not gamify.has_completed("bea", "login")


def test_every_goal_writer_increments_the_catalog_version(app: Flask, gamify: Gamify) -> None:
    def version() -> int:
        with gamify.state.transaction() as session:
            return catalog_version(session)

    start = version()
    gamify.define_goal("login", criteria=LOGIN_3)
    assert version() == start + 1
    gamify.define_goal("login", criteria=LOGIN_3)  # no change: no reload needed
    assert version() == start + 1
    gamify.define_goals(
        [{"key": "login", "criteria": {**LOGIN_3, "target": 4}}, {"key": "b", "criteria": LOGIN_3}]
    )
    assert version() > start + 1
    before_archive = version()
    gamify.archive_goal("login")
    assert version() > before_archive


def test_unchanged_goals_cost_one_primary_key_read(app: Flask, gamify: Gamify) -> None:
    gamify.define_goal("login", criteria=LOGIN_3)
    gamify.progress("ann")  # loads the catalog
    statements: list[str] = []

    def record(_conn: object, _cursor: object, sql: str, *_: object) -> None:
        statements.append(sql)

    engine = gamify.state.engine
    sqlalchemy_event.listen(engine, "before_cursor_execute", record)
    try:
        gamify.progress("ann")
    finally:
        sqlalchemy_event.remove(engine, "before_cursor_execute", record)
    catalog_reads = [sql for sql in statements if "gamify_goals" in sql]
    assert catalog_reads == []  # the goals are not read again
    (version_read,) = [sql for sql in statements if "gamify_catalog_version" in sql]
    assert "WHERE gamify_catalog_version.id =" in version_read


def test_a_running_worker_uses_a_goal_changed_by_a_host_an_hour_behind(
    papp: Flask,
    workers: Workers,
    redis_server: RedisServer,
    pipeline_env: dict[str, str],
    tmp_path: Path,
) -> None:
    gamify = gamify_of(papp)
    worker = workers.start("w1")
    emit(papp, [make_event("login", "ann")])
    wait_for(
        lambda: gamify.progress("ann", "login-3").current == 1,
        timeout=30,
        message="the worker processed a first event (and loaded its catalog)",
    )
    (login_3,) = [goal for goal in GOALS if goal["key"] == "login-3"]
    criteria = login_3["criteria"]
    assert isinstance(criteria, dict)
    easier = {**login_3, "criteria": {**criteria, "target": 2}}
    load_goals_an_hour_behind([easier], pipeline_env[DATABASE], tmp_path)

    emit(papp, [make_event("login", "bea", event_id=f"bea-{index}") for index in range(2)])
    wait_for(
        lambda: gamify.has_completed("bea", "login-3"),
        timeout=30,
        message="the running worker awarded login-3 under its new target of 2",
    )
    assert worker.poll() is None, workers.log("w1")
    assert "Traceback" not in workers.log("w1")
