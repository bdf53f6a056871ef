"""The benchmark suite runs: ``python -m benchmarks --quick`` exits 0 and prints its table.

No timing is asserted here (CI machines vary); ``make bench`` reports the targets.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
@pytest.mark.redis
def test_quick_benchmarks_run_and_print_the_table() -> None:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed; .ci/run installs it (apt-get).")
    env = dict(os.environ)
    if os.environ.get("GAMIFY_TEST_DATABASE_URL", "").startswith("postgresql"):
        env.setdefault("GAMIFY_BENCH_POSTGRES", os.environ["GAMIFY_TEST_DATABASE_URL"])
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=450,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-5000:]
    header = next(line for line in completed.stdout.splitlines() if line.startswith("measurement"))
    for column in ("value", "baseline", "ratio", "target", "pass/fail"):
        assert column in header, header
    assert "worker throughput" in completed.stdout
    assert "floor: worker throughput vs the storage floor" in completed.stdout
    assert "growth: time per (event, goal) evaluation" in completed.stdout
    assert "growth: time per event" in completed.stdout
    assert "heavy entity: sum, window, in progress, cost per event" in completed.stdout
    assert "total run time" in completed.stdout


def run_probe(module: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    """``python -m benchmarks.<module> <arguments>``, which must exit 0."""
    completed = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, (completed.stdout + completed.stderr)[-5000:]
    return completed


@pytest.mark.slow
def test_the_document_columns_probe_compares_json_and_jsonb() -> None:
    """``python -m benchmarks.document_columns`` writes real progress rows both ways."""
    server = os.environ.get("GAMIFY_TEST_DATABASE_URL", "")
    if not server.startswith("postgresql"):
        pytest.skip("the probe measures PostgreSQL's column types")
    completed = run_probe(
        "document_columns", "--events", "300", "--rounds", "1", "--postgres", server
    )
    lines = completed.stdout.splitlines()
    assert "progress rows from 300 events" in lines[0], lines
    for step in ("insert", "update"):
        (line,) = [line for line in lines if line.startswith(f"{step}: ")]
        assert "jsonb" in line and "json / jsonb" in line, line


@pytest.mark.slow
def test_the_batch_cost_probe_reports_real_and_floor() -> None:
    """``python -m benchmarks.batch_cost`` processes the workload both ways (SQLite)."""
    completed = run_probe("batch_cost", "--events", "300", "--rounds", "1", "--db", "sqlite")
    rows = {line.split()[0]: line.split()[1:] for line in completed.stdout.splitlines()[2:]}
    assert set(rows) == {"real", "floor"}, completed.stdout
    for wall, python, database, rate in rows.values():
        assert float(wall) > 0 and float(python) > 0 and float(database) == 0, completed.stdout
        assert float(rate.replace(",", "")) > 0, completed.stdout
