"""``GAMIFY_WORKER_GC_THRESHOLD``: the worker process's garbage collector settings."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_gamify import Gamify
from flask_gamify.errors import ConfigurationError

PROBE = """
import gc, json, sys
from flask_gamify.pipeline.worker import tune_garbage_collector
before = gc.get_threshold()
tune_garbage_collector(int(sys.argv[1]))
print(json.dumps({"before": before, "after": gc.get_threshold(), "frozen": gc.get_freeze_count()}))
"""


def probe(threshold: int) -> dict[str, list[int] | int]:
    output = subprocess.run(
        [sys.executable, "-c", PROBE, str(threshold)], capture_output=True, text=True, check=True
    ).stdout
    result: dict[str, list[int] | int] = json.loads(output)
    return result


def test_the_threshold_is_raised_and_start_up_objects_frozen() -> None:
    result = probe(10_000)
    assert result["after"] == [10_000, *result["before"][1:]]  # type: ignore[index]
    assert result["frozen"] > 1000  # every module, class and function loaded so far


def test_zero_leaves_the_collector_as_python_set_it() -> None:
    result = probe(0)
    assert result["after"] == result["before"]
    assert result["frozen"] == 0


def test_an_invalid_threshold_is_a_clear_error_at_init_app() -> None:
    app = Flask("gc_config")
    app.config.update(
        SQLALCHEMY_DATABASE_URI="sqlite://",
        GAMIFY_REDIS_URL="redis://127.0.0.1:1/0",  # nothing listens: never reached
        GAMIFY_WORKER_GC_THRESHOLD="lots",
    )
    with pytest.raises(ConfigurationError, match="GAMIFY_WORKER_GC_THRESHOLD = 'lots' is invalid"):
        Gamify(app, db=SQLAlchemy(app))
